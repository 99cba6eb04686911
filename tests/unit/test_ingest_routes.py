"""The ingest's routers alone: mounted on a bare FastAPI app whose `IngestDep` is the ingest on in-memory adapters
(no lifespan, no Kafka). The whole app on the real broker is tests/integration/test_ingest_to_kafka.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.http_errors import install_error_handlers
from core.settings import Settings
from schemas.envelope import event_id_for
from services.ingest.bootstrap import Ingest
from services.ingest.deps import get_ingest
from services.ingest.ownership import KnownOwners
from services.ingest.routes import events, operations
from tests.factories import close, dispatch, referral
from tests.unit.ingest_fakes import FakeBroker, FakePublisher, FakeSourceIndex, fake_ingest

ALL_KEY = {"X-API-Key": "kans-dev-all"}
LARS_KEY = {"X-API-Key": "kans-dev-lars"}


def client_for(ingest: Ingest, *routers: object) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    for router in routers:
        app.include_router(router.router)  # type: ignore[attr-defined]
    app.dependency_overrides[get_ingest] = lambda: ingest
    return TestClient(app, headers=ALL_KEY)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as client:
        yield client


def test_an_event_is_published_once_and_its_resubmission_answers_the_first_id(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = client.post("/v1/events", json=referral("R-1"))
    again = client.post("/v1/events", json=referral("R-1"))
    event_id = str(event_id_for("lars", "ref:R-1"))
    assert (first.status_code, first.json()) == (202, {"index": 0, "event_id": event_id, "status": "created"})
    assert (again.status_code, again.json()) == (202, {"index": 0, "event_id": event_id, "status": "duplicate"})
    assert [str(e.event_id) for e in publisher.events] == [event_id]


def test_a_batch_counts_created_and_duplicates(client: TestClient, publisher: FakePublisher) -> None:
    client.post("/v1/events", json=referral("R-2"))
    response = client.post("/v1/events/batch", json=[referral("R-2"), dispatch("R-2", "T-2", "tigo")])
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["created"], body["duplicates"]) == (2, 1, 1)
    assert [r["status"] for r in body["results"]] == ["duplicate", "created"]
    assert [e.event_type for e in publisher.events] == ["ReferralSubmitted", "TrajectoryDispatched"]


def test_a_conflict_refuses_the_whole_batch_with_409(client: TestClient, publisher: FakePublisher) -> None:
    client.post("/v1/events", json=referral("R-3"))
    response = client.post("/v1/events/batch", json=[dispatch("R-3", "T-3", "tigo"), referral("R-3", gender="girl")])
    assert response.status_code == 409
    assert response.json()["conflicts"] == [{"index": 1, "source_system": "lars", "source_ref": "ref:R-3"}]
    assert len(publisher.events) == 1  # the dispatch of the refused batch was not published


def test_an_invalid_event_refuses_the_batch_with_422_naming_the_field(
    client: TestClient, publisher: FakePublisher
) -> None:
    bad = close("R-4", "T-4")
    bad["payload"]["perspective"] = "went_fishing"
    response = client.post("/v1/events/batch", json=[referral("R-4"), bad])
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body[1].payload.perspective"]
    assert publisher.events == []


def test_the_callers_key_decides_401_and_403_before_anything_is_published(
    client: TestClient, publisher: FakePublisher
) -> None:
    anonymous = client.post("/v1/events", json={"not": "an event"}, headers={"X-API-Key": ""})
    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (
        401, 'Bearer realm="kans-ingest", APIKey realm="kans-ingest"')  # a token of the read API's issuer, or a key
    refused = client.post("/v1/events", json=dispatch("R-5", "T-5", "tigo"), headers=LARS_KEY)
    assert refused.status_code == 403
    assert [(e["field"], e["allowed"]) for e in refused.json()["errors"]] == [("body.source_system", ["lars"])]
    assert publisher.events == []


@pytest.mark.parametrize("index, publisher, message", [
    (FakeSourceIndex(loaded=False), FakePublisher(), "index is not loaded"),
    (FakeSourceIndex(), FakePublisher(unavailable=1), "Kafka is away"),
], ids=["index-not-loaded", "broker-away"])  # fmt: skip
def test_without_kafka_the_answer_is_503_with_retry_after(
    index: FakeSourceIndex, publisher: FakePublisher, message: str
) -> None:
    with client_for(fake_ingest(Settings(), index, publisher), events) as client:
        response = client.post("/v1/events", json=referral("R-6"))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    assert message in response.json()["detail"]
    assert (publisher.events, index.entries) == ([], {})


def test_ready_follows_the_indexes_and_the_broker() -> None:
    index, broker, owners = FakeSourceIndex(loaded=False), FakeBroker(), KnownOwners()
    owners.ready.clear()
    with client_for(fake_ingest(Settings(), index, broker=broker, owners=owners), events, operations) as client:
        not_loaded = client.get("/ready")
        assert (not_loaded.status_code, not_loaded.json()) == (503, {
            "ready": False, "kafka": True, "source_index_loaded": False, "source_records_known": 0,
            "ownership_index_loaded": False, "owners_known": 0,
            "problems": ["source index: not loaded from Kafka yet",
                         "ownership index: not loaded from the event log yet"]})  # fmt: skip
        index.ready.set()
        assert client.post("/v1/events", json=referral("R-7")).status_code == 503  # the owners are not known yet
        owners.ready.set()
        assert client.post("/v1/events", json=referral("R-7")).status_code == 202
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {
            "ready": True, "kafka": True, "source_index_loaded": True, "source_records_known": 1,
            "ownership_index_loaded": True, "owners_known": 1, "problems": []})  # fmt: skip
        broker.away = "unreachable at 127.0.0.1:9 (KafkaConnectionError)"
        away = client.get("/ready")
        assert (away.status_code, away.json()["kafka"]) == (503, False)
        assert away.json()["problems"] == ["kafka: unreachable at 127.0.0.1:9 (KafkaConnectionError)"]
        assert client.get("/health").json() == {"status": "ok"}
