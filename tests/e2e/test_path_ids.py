"""Ids in a path, sent byte for byte (http.client: httpx would resolve `..` before sending) to the API as a process:
anything the contract does not allow as an identifier is a 422 naming the field and the pattern, and never reaches
the projections worker (the issue's `..` reached the worker's root page); a good id with `.` and `:` round-trips."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import dispatch, referral

PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$"


def raw_get(platform: Platform, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(platform.settings.api_host, platform.settings.api_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": platform.api.headers["Authorization"]})  # the desk
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body.startswith(b"{") else body
    finally:
        connection.close()


@pytest.mark.parametrize("raw", ["..", "%2e%2e", ".", "T-1%00", "%00", "T-1%0d%0aX-Injected:%201", "T" * 10_000],
                         ids=["dot-dot", "dot-dot-encoded", "dot", "NUL-inside", "NUL", "CRLF", "10000-characters"])
def test_a_trajectory_id_outside_the_contract_is_422_naming_field_and_pattern(platform: Platform, raw: str) -> None:
    status, body = raw_get(platform, f"/v1/live/trajectories/{raw}")
    assert status == 422, body
    (error,) = body["errors"]
    assert (error["field"], error["type"]) == ("path.trajectory_id", "string_pattern_mismatch")
    assert PATTERN in error["message"]


@pytest.mark.parametrize("raw", ["%2e%2e", "R%00", "R" * 10_000])
def test_a_referral_id_outside_the_contract_is_422(platform: Platform, raw: str) -> None:
    status, body = raw_get(platform, f"/v1/referrals/{raw}/events")
    assert (status, body["errors"][0]["field"]) == (422, "path.referral_id")


def test_a_path_that_climbs_out_never_reaches_the_workers_pages(platform: Platform) -> None:
    """`%2F` is decoded before routing: the id would be several segments, which no route of one id matches (404),
    or end in a slash, which is redirected to the same route without it (where `..` is a 422)."""
    for raw in ("..%2F..%2Fprovider-load", "%2e%2e%2fprovider-load", "T-1%2F..%2F..", "..%2f"):
        status, body = raw_get(platform, f"/v1/live/trajectories/{raw}")
        assert status in (307, 404), (raw, status)
        assert not isinstance(body, dict) or ("rows" not in body and "as_of" not in body), body


def test_a_good_id_with_dots_and_colons_round_trips(platform: Platform) -> None:
    rid, tid = "R-PATH.1", "T-PATH.1:a"
    platform.post(referral(rid), dispatch(rid, tid, "provider-path"))
    _, body = wait_for(lambda: (r := raw_get(platform, f"/v1/live/trajectories/{tid}"))[0] == 200 and r,
                            timeout_s=30, what="the trajectory in the live view")  # fmt: skip
    assert (body["trajectory_id"], body["referral_id"], body["status"]) == (tid, rid, "waiting")
    assert raw_get(platform, "/v1/live/trajectories/T-PATH.1%3Aa")[1]["trajectory_id"] == tid  # quoted: the same
