"""The ingest service (in-process ASGI, real lifespan) publishing to the real broker; its API keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from core.topics import events_topic
from kans.processes import free_port
from schemas.envelope import event_id_for
from schemas.registry import parse_event
from services.ingest.main import create_app
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.sealing import sealed_event
from tests.conftest import wait_for
from tests.factories import close, dispatch, referral, sealed_json, start
from tests.kafka_helpers import read_topic

# Development keys (core/dev-api-keys.yaml): every source system; LARS only; LARS for clb-brussel-1 only.
ALL_KEY = {"X-API-Key": "kans-dev-all"}
LARS_KEY = {"X-API-Key": "kans-dev-lars"}
CLB_1_KEY = {"X-API-Key": "kans-dev-clb-brussel-1"}


@pytest.fixture
def ingest(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers=ALL_KEY) as client:
        wait_for(lambda: client.get("/ready").status_code == 200, what="ingest ready")
        yield client


def events_on_topic(settings: Settings) -> list[Any]:
    return read_topic(settings.kafka_bootstrap, events_topic(settings))


def test_accepted_event_is_on_the_topic_keyed_by_referral(ingest: TestClient, settings: Settings) -> None:
    response = ingest.post("/v1/events", json=dispatch("R-1", "T-1", "abrusco"))
    assert response.status_code == 202
    assert response.json() == {"index": 0, "event_id": str(event_id_for("desk", "dispatch:T-1")), "status": "created"}
    (record,) = events_on_topic(settings)
    event = parse_event(record.value)
    assert record.key == b"R-1"
    assert (event.event_type, str(event.event_id), event.payload.provider_id) == (  # type: ignore[attr-defined]
        "TrajectoryDispatched",
        response.json()["event_id"],
        "abrusco",
    )
    assert dict(record.headers)["event_type"] == b"TrajectoryDispatched"


def test_invalid_payload_is_refused_naming_the_field_and_nothing_reaches_kafka(
    ingest: TestClient, settings: Settings
) -> None:
    bad = close("R-2", "T-2")
    bad["payload"]["perspective"] = "went_fishing"
    batch = [referral("R-2"), dispatch("R-2", "T-2", "tigo"), bad]
    response = ingest.post("/v1/events/batch", json=batch)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "body[2].payload.perspective"
    assert "youth_care" in error["allowed"] and "went_fishing" in error["message"]
    assert events_on_topic(settings) == []  # the two valid events of the batch were not sent either


def test_unknown_event_type_lists_the_known_ones(ingest: TestClient) -> None:
    response = ingest.post("/v1/events", json={**referral("R-3"), "event_type": "ReferralLost"})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "body"
    assert {"ReferralSubmitted", "TrajectoryClosed"} <= set(error["allowed"])


def test_same_batch_twice_is_published_once(ingest: TestClient, settings: Settings) -> None:
    batch = [referral("R-4"), dispatch("R-4", "T-4", "tito"), start("R-4", "T-4")]
    first = ingest.post("/v1/events/batch", json=batch).json()
    second = ingest.post("/v1/events/batch", json=batch).json()
    assert (first["created"], first["duplicates"]) == (3, 0)
    assert (second["created"], second["duplicates"]) == (0, 3)
    assert [r["event_id"] for r in second["results"]] == [r["event_id"] for r in first["results"]]
    assert len(events_on_topic(settings)) == 3


def test_a_restarted_ingest_still_knows_what_was_accepted(settings: Settings) -> None:
    with TestClient(create_app(settings), headers=ALL_KEY) as client:
        wait_for(lambda: client.get("/ready").status_code == 200)
        created = client.post("/v1/events", json=referral("R-5")).json()
    with TestClient(create_app(settings), headers=ALL_KEY) as client:  # a new process state: index rebuilt from Kafka
        # Ready as a whole (the ownership index too, loaded beside the source index: a fresh-clone run under load
        # posted after the source index alone and got the ingest's truthful 503), with the one record known.
        wait_for(lambda: (r := client.get("/ready")).status_code == 200 and r.json()["source_records_known"] == 1,
                 what="both indexes reloaded")  # fmt: skip
        again = client.post("/v1/events", json=referral("R-5")).json()
    assert again == {**created, "status": "duplicate"}
    assert len(events_on_topic(settings)) == 1


def test_changed_content_under_the_same_source_ref_is_a_conflict(ingest: TestClient, settings: Settings) -> None:
    assert ingest.post("/v1/events", json=referral("R-6")).status_code == 202
    response = ingest.post("/v1/events", json=referral("R-6", gender="girl"))
    assert response.status_code == 409
    assert response.json()["conflicts"] == [{"index": 0, "source_system": "lars", "source_ref": "ref:R-6"}]
    assert len(events_on_topic(settings)) == 1


def test_broker_unreachable_gives_503_and_accepts_nothing(settings: Settings) -> None:
    down = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}", "publish_timeout_s": 2.0})
    with TestClient(create_app(down), headers=ALL_KEY) as client:
        response = client.post("/v1/events", json=referral("R-7"))
        assert response.status_code == 503
        assert "index is not loaded" in response.json()["detail"]
        assert response.headers["Retry-After"] == "5"
        client.app.state.ingest.index.ready.set()  # type: ignore[attr-defined]  # even past the index: the publish
        response = client.post("/v1/events", json=referral("R-7"))
        assert response.status_code == 503
        assert "retrying the same request is safe" in response.json()["detail"]
        assert client.app.state.ingest.index.entries == {}  # type: ignore[attr-defined]


def test_publisher_raises_broker_unavailable_after_its_timeout(settings: Settings) -> None:
    down = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}", "publish_timeout_s": 1.0})
    publisher = EventPublisher(down)
    from schemas.registry import parse_event as parse

    event = parse(sealed_json(referral("R-8"))[1])
    with pytest.raises(BrokerUnavailable, match=r"unreachable|did not acknowledge"):
        publisher.publish([sealed_event(event)], {})


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "kans-dev-nope"}], ids=["none", "empty", "unknown"]
)
def test_without_a_known_api_key_the_answer_is_401_and_nothing_is_published(
    ingest: TestClient, settings: Settings, headers: dict[str, str]
) -> None:
    for path, body in (("/v1/events", referral("R-10")), ("/v1/events/batch", [referral("R-10")])):
        response = ingest.post(path, json=body, headers={"X-API-Key": "", **headers})
        assert response.status_code == 401, response.text
        assert "X-API-Key" in response.json()["detail"]
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="kans-ingest", APIKey realm="kans-ingest"'
    # Authentication comes before validation: an invalid body without a key is 401 as well, not 422.
    assert ingest.post("/v1/events", json={"nonsense": 1}, headers={"X-API-Key": ""}).status_code == 401
    assert ingest.post("/v1/events", json=referral("R-10")).status_code == 202  # the fixture's key works
    assert len(events_on_topic(settings)) == 1


def test_a_source_system_outside_the_keys_scope_is_403_and_nothing_of_the_batch_is_published(
    ingest: TestClient, settings: Settings
) -> None:
    batch = [referral("R-11"), dispatch("R-11", "T-11", "tigo")]  # lars, then desk
    response = ingest.post("/v1/events/batch", json=batch, headers=LARS_KEY)
    assert response.status_code == 403, response.text
    assert response.json()["errors"] == [
        {"field": "body[1].source_system", "value": "desk", "allowed": ["lars"],
         "message": "source_system 'desk' is outside the key's scope; allowed: lars", "type": "not_in_scope"}
    ]  # fmt: skip
    assert "dev-lars" in response.json()["detail"]
    assert events_on_topic(settings) == []
    assert ingest.post("/v1/events/batch", json=batch[:1], headers=LARS_KEY).status_code == 202


def test_a_referrer_outside_the_keys_scope_is_403_naming_the_allowed_referrers(
    ingest: TestClient, settings: Settings
) -> None:
    other = referral("R-13", referrer_id="clb-brussel-2")
    response = ingest.post("/v1/events", json=other, headers=CLB_1_KEY)
    assert response.status_code == 403, response.text
    ((error),) = response.json()["errors"]
    assert (error["field"], error["value"], error["allowed"]) == (
        "body.payload.referrer_id", "clb-brussel-2", ["clb-brussel-1"])  # fmt: skip
    assert events_on_topic(settings) == []
    assert ingest.post("/v1/events", json=referral("R-12"), headers=CLB_1_KEY).status_code == 202
    assert ingest.post("/v1/events", json=other, headers=LARS_KEY).status_code == 202  # LARS speaks for every CLB
    assert len(events_on_topic(settings)) == 2
