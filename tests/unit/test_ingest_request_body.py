"""The batch route reads its body from the request's bytes (services/ingest/request_body.py): every bad body gets the
answer FastAPI gave when the route declared `list[Submission]` — compared here with a route that still declares it —
and nothing is published."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI
from fastapi.testclient import TestClient

from core.http_errors import install_error_handlers
from core.settings import Settings
from schemas.registry import Submission
from services.ingest.request_body import MAX_BATCH
from services.ingest.routes import events
from services.ingest.strict_json import duplicate_keys
from tests.factories import close, dispatch, referral
from tests.unit.ingest_fakes import FakePublisher, fake_ingest
from tests.unit.test_ingest_routes import ALL_KEY, client_for


def _declared_body_app() -> TestClient:
    """What the batch route answered when FastAPI read and validated its body."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/events/batch", status_code=202)
    async def declared(body: Annotated[list[Submission], Body(max_length=MAX_BATCH)]) -> int:  # type: ignore[valid-type]
        return len(body)

    return TestClient(app)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def clients(publisher: FakePublisher) -> Iterator[tuple[TestClient, TestClient]]:
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as ours, _declared_body_app() as declared:
        yield ours, declared


def _bad_field() -> dict[str, Any]:
    bad = close("R-4", "T-4")
    bad["payload"]["perspective"] = "went_fishing"
    return bad


BAD_BODIES: dict[str, tuple[bytes, str | None]] = {
    "a field breaks the contract": (json.dumps([referral("R-4"), _bad_field()]).encode(), "application/json"),
    "an unknown event type": (json.dumps([{**referral("R-5"), "event_type": "Nope"}]).encode(), "application/json"),
    "not a list": (json.dumps(referral("R-6")).encode(), "application/json"),
    "not JSON": (b'[{"event_type": "ReferralSubmitted", ', "application/json"),
    "not UTF-8": (b'["\xff\xfe"]', "application/json"),
    "empty": (b"", "application/json"),
    "not sent as JSON": (json.dumps([referral("R-7")]).encode(), "text/plain"),
    "no content type": (json.dumps([referral("R-7")]).encode(), None),
    "a JSON subtype": (json.dumps([_bad_field()]).encode(), "application/vnd.kans+json"),
    "NaN, which Python's json reads": (b'[{"schema_version": NaN}]', "application/json"),
    "too many": (json.dumps([dispatch(f"R-{i}", f"T-{i}", "tigo") for i in range(MAX_BATCH + 1)]).encode(),
                 "application/json"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_bad_body_is_answered_as_a_declared_body_was_and_nothing_is_published(
    clients: tuple[TestClient, TestClient], publisher: FakePublisher, name: str
) -> None:
    ours, declared = clients
    body, content_type = BAD_BODIES[name]
    headers = {"Content-Type": content_type} if content_type else {}
    got = ours.post("/v1/events/batch", content=body, headers={**ALL_KEY, **headers})
    expected = declared.post("/v1/events/batch", content=body, headers=headers)
    assert got.status_code == expected.status_code and got.status_code in (400, 422), (got.text, expected.text)
    assert got.json() == expected.json()
    assert publisher.events == []


def test_a_duplicated_key_is_named_before_the_contract_is_checked(
    clients: tuple[TestClient, TestClient], publisher: FakePublisher
) -> None:
    ours, _ = clients
    text = json.dumps([referral("R-D"), _bad_field()]).replace('"level": "secondary"',
                                                              '"level": "primary", "level": "secondary"')
    response = ours.post("/v1/events/batch", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert [(e["field"], e["type"]) for e in response.json()["errors"]] == [("body[0].payload.level",
                                                                             "json_duplicate_key")]  # fmt: skip
    assert duplicate_keys(text) == [(0, "payload", "level")]
    assert publisher.events == []


def test_a_bad_body_without_a_key_is_a_401(clients: tuple[TestClient, TestClient]) -> None:
    ours, _ = clients
    response = ours.post("/v1/events/batch", content=b"not json", headers={"X-API-Key": ""})
    assert response.status_code == 401


def test_an_accepted_batch_answers_as_its_response_model_says(
    clients: tuple[TestClient, TestClient], publisher: FakePublisher
) -> None:
    ours, _ = clients
    batch = [referral("R-OK"), dispatch("R-OK", "T-OK", "tigo")]
    response = ours.post("/v1/events/batch", json=batch)
    assert (response.status_code, response.headers["content-type"]) == (202, "application/json")
    body = response.json()
    assert (body["accepted"], body["created"], body["duplicates"]) == (2, 2, 0)
    assert [r["index"] for r in body["results"]] == [0, 1]
    assert [r["event_id"] for r in body["results"]] == [str(e.event_id) for e in publisher.events]
