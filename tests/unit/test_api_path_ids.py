"""Ids in a path are the contract's identifiers: anything else (a control character, `..`, 10,000 characters) is a
422 naming the field and the pattern, and never reaches the projections worker's URL; a good id is forwarded as one
quoted path segment. The API without its lifespan, the worker a stand-in that records what it was asked; the whole
platform: tests/e2e/test_path_ids.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.auth import development_headers
from core.settings import Settings
from services.api.bootstrap import Api
from services.api.main import create_app
from tests.unit.audit_fakes import RecordingAudit

PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$"  # schemas.envelope.Identifier
BAD = {
    "dot-dot": "%2e%2e",  # decoded before routing: the route sees `..`
    "dot": "%2e",
    "NUL": "T-1%00",
    "newline": "T-1%0A",
    "escape": "%1b%5b2J",
    "10,000 characters": "T" * 10_000,
    "space": "T%201",
    "leading dash": "-T-1",
}


def api(asked: list[bytes]) -> TestClient:
    def worker(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path)
        return httpx.Response(404, json={"detail": "unknown"})

    app = create_app(Settings())
    projections = httpx.AsyncClient(transport=httpx.MockTransport(worker), base_url="http://worker")
    audit = RecordingAudit()  # every request to these routes is audited: no audit log, no answer (503)
    app.state.api = Api(app.state.settings, None, None, None, projections, audit)  # type: ignore[arg-type]
    return TestClient(app, headers=development_headers(app.state.settings))  # the desk


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("raw", list(BAD.values()), ids=list(BAD))
def test_a_trajectory_id_outside_the_contract_is_422_and_the_worker_is_not_asked(raw: str) -> None:
    asked: list[bytes] = []
    error = refusal(api(asked).get(f"/v1/live/trajectories/{raw}"))
    assert (error["field"], error["type"]) == ("path.trajectory_id", "string_pattern_mismatch")
    assert PATTERN in error["message"]
    assert asked == []


@pytest.mark.parametrize("raw", [BAD["NUL"], BAD["10,000 characters"], BAD["dot-dot"]])
def test_a_referral_id_outside_the_contract_is_422_before_the_warehouse_is_asked(raw: str) -> None:
    error = refusal(api([]).get(f"/v1/referrals/{raw}/events"))  # no warehouse here: a query would fail
    assert (error["field"], error["type"]) == ("path.referral_id", "string_pattern_mismatch")


def test_a_good_id_is_forwarded_as_one_quoted_path_segment() -> None:
    asked: list[bytes] = []
    response = api(asked).get("/v1/live/trajectories/T-2025.1:a")
    assert (response.status_code, response.json()["detail"]) == (404, "unknown trajectory T-2025.1:a")
    assert asked == [b"/trajectories/T-2025.1%3Aa"]


def test_a_slash_never_reaches_the_route() -> None:
    """`%2F` is decoded before routing: `a/../b` is three segments, which no route of one id matches."""
    asked: list[bytes] = []
    assert api(asked).get("/v1/live/trajectories/..%2F..%2Fprovider-load").status_code == 404
    assert asked == []
