"""The audit of per-pupil reads and the rate limit per caller, on the API without its lifespan: the projections worker
a stand-in, the audit log one that keeps its records (or is away). With the real broker and chDB:
tests/e2e/test_audit.py."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from core.auth import Role, development_headers
from core.settings import Settings
from core.topics import audit_topic, topic_specs
from schemas.audit import REASON_WITHHELD, AuditRecord
from services.api.bootstrap import Api
from services.api.main import create_app
from tests.unit.audit_fakes import RecordingAudit

REPO = Path(__file__).resolve().parents[2]
STATUS = {"trajectory_id": "T-1", "referral_id": "R-1", "status": "active", "provider_id": "p1", "module_id": "m",
          "offer_type": "regular", "dispatched_at": None, "started_at": None, "ended_at": None, "ending": None,
          "events_applied": 2}  # fmt: skip


def worker(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/trajectories/T-1":
        return httpx.Response(200, json=STATUS)
    if request.url.path == "/provider-load":
        return httpx.Response(200, json={"as_of": "2025-10-06", "rows": []})
    return httpx.Response(404, json={"detail": "unknown"})


def client(audit: RecordingAudit, **settings: Any) -> TestClient:
    app = create_app(Settings(**settings))
    projections = httpx.AsyncClient(transport=httpx.MockTransport(worker), base_url="http://worker")
    app.state.api = Api(app.state.settings, None, None, None, projections, audit)  # type: ignore[arg-type]
    return TestClient(app)


def headers(role: Role = Role.desk, *scope: str) -> dict[str, str]:
    return development_headers(Settings(), role, scope)


def test_a_served_read_is_recorded_once_with_who_what_and_why() -> None:
    audit = RecordingAudit()
    response = client(audit).get("/v1/live/trajectories/T-1",
                                 headers={**headers(), "X-Access-Reason": "complaint 2025-17"})  # fmt: skip
    assert response.status_code == 200 and response.json()["referral_id"] == "R-1"
    (record,) = audit.records
    assert (record.subject, record.role, record.scope) == ("dev-desk", "desk", [])
    assert (record.method, record.route) == ("GET", "/v1/live/trajectories/{trajectory_id}")
    assert (record.trajectory_id, record.referral_id, record.status, record.outcome) == ("T-1", "R-1", 200, "served")
    assert record.reason == "complaint 2025-17"


def test_refused_attempts_are_recorded_too() -> None:
    audit = RecordingAudit()
    api = client(audit)
    outside = api.get("/v1/live/trajectories/T-1", headers=headers(Role.provider, "p2"), params={"reason": "check"})
    anonymous = api.get("/v1/referrals/R-9/events")
    policy = api.get("/v1/referrals/R-9/events", headers=headers(Role.policy))
    assert (outside.status_code, anonymous.status_code, policy.status_code) == (404, 401, 403)
    got = [(r.status, r.outcome, r.subject, r.role, r.trajectory_id, r.referral_id, r.reason) for r in audit.records]
    assert got == [
        (404, "refused", "dev-provider-p2", "provider", "T-1", None, "check"),  # the referral is not told: not noted
        (401, "refused", None, None, None, "R-9", None),
        (403, "refused", "dev-policy", "policy", None, "R-9", None),
    ]


def test_without_the_audit_record_the_read_is_not_served() -> None:
    response = client(RecordingAudit(available=False)).get("/v1/live/trajectories/T-1", headers=headers())
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "unaudited" in response.json()["detail"] and "R-1" not in response.text


def test_a_reason_that_looks_like_personal_data_is_refused_and_never_stored() -> None:
    audit = RecordingAudit()
    response = client(audit).get("/v1/live/trajectories/T-1", headers={**headers(), "X-Access-Reason": "Jan Janssens"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "header.x-access-reason"
    (record,) = audit.records
    assert (record.status, record.reason) == (422, REASON_WITHHELD)


def test_routes_that_are_not_per_pupil_are_not_audited() -> None:
    audit = RecordingAudit()
    assert client(audit).get("/v1/live/provider-load", headers=headers()).status_code == 200
    assert audit.records == []


@pytest.fixture
def clock_early_in_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limiter's windows are whole minutes of the epoch, and a sliding-window counter lets one more request through
    just after a boundary (the last window's count is weighted down, then floored): CI ran this test at 17:00:00.1 and
    got four 200s. The clock of the limiter's storage and of the middleware starts 5 s into a minute and runs with
    real time, so the test stays inside one window."""
    import limits.aio.storage.memory as memory
    import limits.aio.strategies as strategies

    from services.api import rate_limit

    started, start = time.monotonic(), (time.time() // 60) * 60 + 5
    clock = SimpleNamespace(time=lambda: start + (time.monotonic() - started), monotonic=time.monotonic)
    for module in (memory, strategies, rate_limit):  # every reader of the clock: the storage, the window's stats, us
        monkeypatch.setattr(module, "time", clock)


@pytest.mark.usefixtures("clock_early_in_a_window")
def test_a_caller_over_the_limit_gets_429_with_retry_after_while_another_is_served() -> None:
    api = client(RecordingAudit(), rate_limit="3/minute")
    a, b = headers(Role.provider, "p1"), headers(Role.provider, "p2")
    statuses = [api.get("/v1/live/provider-load", headers=a).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/v1/live/provider-load", headers=a)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "at most 3 per 1 minute" in refused.json()["detail"]
    assert api.get("/v1/live/provider-load", headers=b).status_code == 200  # another caller: its own count
    assert api.get("/health").status_code == 200  # liveness is never limited
    anonymous = [api.get("/v1/live/provider-load").status_code for _ in range(4)]
    assert anonymous == [401, 401, 401, 429]  # no valid token: counted by the client address


def test_the_rate_limit_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="KANS_RATE_LIMIT='lots' is not a rate limit"):
        Settings(rate_limit="lots")


def test_openapi_documents_the_429_the_reason_and_the_audit_route() -> None:
    spec = create_app(Settings()).openapi()
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            assert ("429" in operation["responses"]) is path.startswith("/v1/"), path
    history = spec["paths"]["/v1/referrals/{referral_id}/events"]["get"]
    assert {(p["in"], p["name"]) for p in history["parameters"]} >= {("query", "reason"), ("header", "X-Access-Reason")}
    assert "503" in history["responses"]
    assert "**Roles:** desk." in spec["paths"]["/v1/audit"]["get"]["description"]


def test_asyncapi_describes_the_audit_topic_with_its_models_schema() -> None:
    doc = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    (channel,) = [c for c in doc["channels"].values() if c["address"] == "kans.audit.v1"]
    (ref,) = [m["$ref"] for m in channel["messages"].values()]
    message = doc["components"]["messages"][ref.rsplit("/", 1)[1]]
    assert message["payload"]["schema"] == AuditRecord.model_json_schema(mode="serialization")
    settings = Settings()
    (spec,) = [s for s in topic_specs(settings) if s.name == audit_topic(settings)]
    assert channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == int(spec.config["retention.ms"])
    assert spec.config["cleanup.policy"] == "delete" and int(spec.config["retention.ms"]) >= 10 * 365 * 86_400_000


@pytest.mark.parametrize("since", ["0684-04-18T17:05:20-16:08", "1969-12-31T23:59:59Z", "2300-01-01T00:00:00Z"])
def test_an_audit_since_outside_what_the_store_holds_is_422_naming_the_field(since: str) -> None:
    """Schemathesis found `since` in the year 684: formatted as `684-…`, ClickHouse refused it, and the desk got 500."""
    response = client(RecordingAudit()).get("/v1/audit", params={"since": since}, headers=headers())
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "query.since" and "between 1970 and 2299" in error["message"]
