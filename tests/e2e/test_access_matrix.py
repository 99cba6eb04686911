"""Who may use which route, end to end (services as processes, real broker and chDB): every route of the read API is
asked by every kind of caller (no token, an expired one, a wrong issuer, audience or signature, the desk, two CLBs,
two providers, policy, a source system), and each answers the status its rule says; a 200 holds only rows in the
caller's scope. A route the app serves that this table does not know fails the test: a new route needs a rule."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from core.auth import Role, issue_development_token
from core.settings import Settings
from services.api.main import create_app
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import capacity, dispatch, referral, start

U = uuid.uuid4().hex[:6]
CLB_A, CLB_B, P, Q = f"clb-a-{U}", f"clb-b-{U}", f"prov-p-{U}", f"prov-q-{U}"
YEAR = "2025-2026"  # the factories' default dates
RA = [f"RA{i}-{U}" for i in range(6)]  # CLB A's six secondary referrals (enough to be shown to policy: >= 5)
RB, TA, TB = f"RB-{U}", f"TA-{U}", f"TB-{U}"  # CLB B's one referral; TA: RA[0] at P (started); TB: RB at Q
UNAUTHENTICATED = ("anonymous", "expired", "wrong_issuer", "wrong_audience", "bad_signature")
CALLERS = ("desk", "clb_a", "clb_b", "provider_p", "provider_q", "policy", "source_system")


def tokens(settings: Settings, folder: Path) -> dict[str, dict[str, str]]:
    """Authorization headers of every kind of caller, signed with the platform's development key (or not)."""

    def bearer(role: Role, *scope: str, of: Settings = settings, **options: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_development_token(of, role, scope, **options)}"}

    stranger = settings.model_copy(update={"auth_dev_signing_key": folder / "another-key.pem"})
    return {
        "anonymous": {},
        "expired": bearer(Role.desk, now=time.time() - 7200, ttl_s=60),
        "wrong_issuer": bearer(Role.desk, of=settings.model_copy(update={"auth_issuer": "https://elsewhere"})),
        "wrong_audience": bearer(Role.desk, of=settings.model_copy(update={"auth_audience": "another-api"})),
        "bad_signature": bearer(Role.desk, of=stranger),
        "desk": bearer(Role.desk),
        "clb_a": bearer(Role.clb, CLB_A),
        "clb_b": bearer(Role.clb, CLB_B),
        "provider_p": bearer(Role.provider, P),
        "provider_q": bearer(Role.provider, Q),
        "policy": bearer(Role.policy),
        "source_system": bearer(Role.source_system, "lars", referrers=[CLB_A]),
    }


@pytest.fixture(scope="module")
def callers(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The callers' headers, once the module's events are in ClickHouse and in the projections."""
    platform.post(
        capacity(P, "individual", 3), capacity(Q, "individual", 3),
        *(referral(r, referrer_id=CLB_A) for r in RA), referral(RB, referrer_id=CLB_B),
        dispatch(RA[0], TA, P), start(RA[0], TA), dispatch(RB, TB, Q),
    )  # fmt: skip
    wait_for(lambda: len(platform.api.get(f"/v1/referrals/{RA[0]}/events").json().get("events", [])) == 3,
             timeout_s=60, what="CLB A's referral and its trajectory in ClickHouse")  # fmt: skip
    wait_for(lambda: len(platform.api.get(f"/v1/referrals/{RB}/events").json().get("events", [])) == 2,
             timeout_s=60, what="CLB B's referral in ClickHouse")  # fmt: skip
    wait_for(lambda: (platform.load(P) or {}).get("active") == 1 and (platform.load(Q) or {}).get("waiting") == 1,
             timeout_s=60, what="P's and Q's trajectories in the projections")  # fmt: skip
    return tokens(platform.settings, tmp_path_factory.mktemp("keys"))


# -- the requests: one per route ------------------------------------------------------------------------------------
Request = tuple[str, dict[str, Any]]  # url, httpx options
REQUESTS: dict[tuple[str, str], Request] = {
    ("GET", "/health"): ("/health", {}),
    ("GET", "/ready"): ("/ready", {}),
    ("GET", "/metrics"): ("/metrics", {}),
    ("GET", "/"): ("/", {}),
    ("GET", "/docs"): ("/docs", {}),
    ("GET", "/docs/oauth2-redirect"): ("/docs/oauth2-redirect", {}),
    ("GET", "/redoc"): ("/redoc", {}),
    ("GET", "/openapi.json"): ("/openapi.json", {}),
    ("GET", "/v1/live/provider-load"): ("/v1/live/provider-load", {}),
    ("GET", "/v1/live/stream"): ("/v1/live/stream", {}),
    ("GET", "/v1/live/waiting-times"): ("/v1/live/waiting-times", {"params": {"school_year": YEAR}}),
    ("GET", "/v1/live/trajectories/{trajectory_id}"): (f"/v1/live/trajectories/{TA}", {}),
    ("GET", "/v1/live/waiting-clocks"): ("/v1/live/waiting-clocks", {"params": {"school_year": YEAR}}),
    ("GET", "/v1/live/waiting-clocks/trend"): ("/v1/live/waiting-clocks/trend", {"params": {"school_year": YEAR}}),
    ("GET", "/v1/live/referrals"): ("/v1/live/referrals", {"params": {"school_year": YEAR, "limit": 500}}),
    ("GET", "/v1/live/referrals/{referral_id}"): (f"/v1/live/referrals/{RA[0]}", {}),
    ("GET", "/v1/live/completeness"): ("/v1/live/completeness", {"params": {"school_year": YEAR, "limit": 1}}),
    ("GET", "/v1/referrals/{referral_id}/events"): (f"/v1/referrals/{RA[0]}/events", {}),
    ("GET", "/v1/statistics"): ("/v1/statistics", {}),
    ("GET", "/v1/stats/{school_year}"): (f"/v1/stats/{YEAR}", {}),
    ("GET", "/v1/stats/{school_year}/{statistic}"): (f"/v1/stats/{YEAR}/R31", {}),
    ("GET", "/v1/stats/{school_year}/referrals-per-month"): (f"/v1/stats/{YEAR}/referrals-per-month", {}),
    ("GET", "/v1/stats/compare/{statistic}"): ("/v1/stats/compare/R31",
                                                {"params": {"from_year": "2024-2025", "to_year": YEAR}}),
    ("GET", "/v1/stats/comparisons/exclusions"): ("/v1/stats/comparisons/exclusions",
                                                  {"params": {"from_year": YEAR, "to_year": YEAR}}),
    ("POST", "/v1/stats/comparisons/exclusions"): ("/v1/stats/comparisons/exclusions",
                                                   {"json": {"from_year": YEAR, "to_year": YEAR}}),
    ("GET", "/v1/query/catalogue"): ("/v1/query/catalogue", {}),
    ("POST", "/v1/query"): ("/v1/query", {"json": {"measures": ["referrals"], "dimensions": ["referrer_id"],
                                                   "years": [YEAR]}}),
    ("GET", "/v1/reports/annual/{school_year}"): (f"/v1/reports/annual/{YEAR}", {}),
    ("GET", "/v1/audit"): ("/v1/audit", {"params": {"referral_id": RA[0], "limit": 5}}),
    ("GET", "/v1/dispatch/proposals"): ("/v1/dispatch/proposals", {}),
    ("GET", "/v1/dispatch/waiting-lists"): ("/v1/dispatch/waiting-lists", {}),
    ("GET", "/v1/dispatch/catalogue"): ("/v1/dispatch/catalogue", {}),
    ("GET", "/v1/dispatch/placements/{trajectory_id}"): (f"/v1/dispatch/placements/{TA}", {}),
}  # fmt: skip


# -- the expected status per caller ---------------------------------------------------------------------------------
def rule(*allowed: str, outside: dict[str, int] | None = None) -> dict[str, int]:
    """200 for the allowed callers (or the `outside` status, e.g. 404 for ids outside their scope), 403 for the other
    callers, 401 without a valid token."""
    statuses = {caller: 200 if caller in allowed else 403 for caller in CALLERS}
    return {**dict.fromkeys(UNAUTHENTICATED, 401), **statuses, **(outside or {})}


PUBLIC = dict.fromkeys(UNAUTHENTICATED + CALLERS, 200)
STATISTICS = rule("desk", "clb_a", "clb_b", "policy")
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    **{route: PUBLIC for route in REQUESTS if route[1] in ("/health", "/ready", "/metrics", "/", "/openapi.json")
       or route[1].startswith(("/docs", "/redoc"))},
    ("GET", "/v1/live/provider-load"): rule("desk", "provider_p", "provider_q"),
    ("GET", "/v1/live/stream"): rule("desk", "provider_p", "provider_q"),
    ("GET", "/v1/live/waiting-times"): rule("desk", "provider_p", "provider_q"),
    ("GET", "/v1/live/trajectories/{trajectory_id}"): rule("desk", "clb_a", "provider_p",
                                                          outside={"clb_b": 404, "provider_q": 404}),
    ("GET", "/v1/referrals/{referral_id}/events"): rule("desk", "clb_a", outside={"clb_b": 404}),
    ("GET", "/v1/live/waiting-clocks"): rule("desk", "provider_p", "provider_q"),
    ("GET", "/v1/live/waiting-clocks/trend"): rule("desk", "provider_p", "provider_q"),
    ("GET", "/v1/live/referrals"): rule("desk", "clb_a", "clb_b"),
    ("GET", "/v1/live/referrals/{referral_id}"): rule("desk", "clb_a", outside={"clb_b": 404}),
    ("GET", "/v1/live/completeness"): rule("desk"),
    ("GET", "/v1/stats/{school_year}/referrals-per-month"): rule("desk"),
    ("GET", "/v1/audit"): rule("desk"),
    # The shared platform runs no dispatch worker (it would place the other tests' referrals): the desk passes the
    # access rule and gets the documented 503; the dispatch tests (integration, test_dashboard_dispatch) get 200s.
    **{route: rule("desk", outside={"desk": 503}) for route in REQUESTS if route[1].startswith("/v1/dispatch")},
    **{route: STATISTICS for route in REQUESTS if route[1].startswith(("/v1/stat", "/v1/query", "/v1/reports"))
       and route[1] != "/v1/stats/{school_year}/referrals-per-month"},
}  # fmt: skip


# -- what a 200 may hold --------------------------------------------------------------------------------------------
def provider_load(caller: str, body: dict[str, Any]) -> None:
    shown = {row["provider_id"] for row in body["rows"]}
    assert {P, Q} <= shown if caller == "desk" else shown == {P if caller == "provider_p" else Q}, shown


def waiting_times(caller: str, body: dict[str, Any]) -> None:
    shown = {row["provider_id"] for row in body["rows"]}  # Q's trajectory has not started: no waiting time yet
    assert P in shown if caller == "desk" else shown == {P} if caller == "provider_p" else shown <= {Q}, shown


def waiting_clocks(caller: str, body: dict[str, Any]) -> None:
    """TA started at P (a completed wait), TB waits at Q (an open one): each provider sees its own rows only."""
    shown = {row["provider_id"] for row in body["rows"] if row["grouping"] != "overall"}
    assert {P, Q} <= shown if caller == "desk" else shown == {P if caller == "provider_p" else Q}, shown


def waiting_trend(caller: str, body: dict[str, Any]) -> None:
    shown = {row["provider_id"] for row in body["rows"]}  # a completed wait only at P
    assert P in shown if caller == "desk" else shown == {P} if caller == "provider_p" else shown == set(), shown


def referral_statuses(caller: str, body: dict[str, Any]) -> None:
    shown = {row["referral_id"]: row["referrer_id"] for row in body["rows"]}
    if caller == "desk":  # every referrer's (the page may hold other tests' referrals first)
        assert body["total"] >= len(RA) + 1 and len(set(shown.values())) >= 2, body["total"]
    else:
        own, ids = (CLB_A, set(RA)) if caller == "clb_a" else (CLB_B, {RB})
        assert set(shown) == ids and set(shown.values()) == {own}, shown


def referral_status(caller: str, body: dict[str, Any]) -> None:
    assert (body["referral_id"], body["referrer_id"], body["state"]) == (RA[0], CLB_A, "started")


def completeness(caller: str, body: dict[str, Any]) -> None:
    assert [c["check"] for c in body["checks"]] == ["trajectory_without_duration", "trajectory_without_half_days",
                                                     "trajectory_without_perspective", "referral_missing_profile",
                                                     "event_without_dispatch"]  # fmt: skip


def trajectory(caller: str, body: dict[str, Any]) -> None:
    assert (body["provider_id"], body["referral_id"], body["status"]) == (P, RA[0], "active")


def policy_view(result: dict[str, Any]) -> None:
    """Suppressed: every shown count is 0 or at least the threshold (5)."""
    assert result["audience"] == "policy"
    shown = [row["value"] for row in result["rows"] if row["value"] is not None]
    assert all(v == 0 or v >= 5 for v in shown), shown


def r31(caller: str, result: dict[str, Any]) -> None:
    """R31 (secondary referrals per month) of the school year, as each caller may see it."""
    if caller == "desk":
        assert result["audience"] == "desk" and result["total"] >= 7
        return
    policy_view(result)
    if caller == "clb_a":
        assert result["total"] == 6 and CLB_A in result["population"] and CLB_B not in result["population"]
    elif caller == "clb_b":
        assert result["total"] is None and result["suppressed_cells"] >= 1  # one referral: a small cell
    else:
        assert result["total"] is None or result["total"] >= 7


def year_report(caller: str, body: dict[str, Any]) -> None:
    (found,) = [s for section in body["sections"] for s in section["statistics"] if s["statistic"] == "R31"]
    r31(caller, found)


def ad_hoc(caller: str, body: dict[str, Any]) -> None:
    counts = {row["referrer_id"]: row["referrals"] for row in body["rows"]}
    if caller == "desk":
        assert counts[CLB_A] == 6 and counts[CLB_B] == 1 and body["audience"] == "desk"
        return
    assert body["audience"] == "policy"
    assert all(v is None or v == 0 or v >= 5 for v in counts.values()), counts
    if caller == "clb_a":
        assert counts == {CLB_A: 6}
    elif caller == "clb_b":
        assert counts == {CLB_B: None}  # its one referral, suppressed: but no one else's row


def exclusions(caller: str, body: dict[str, Any]) -> None:
    raw = next(row for row in body["rows"] if row["column"] == "raw")["values"][YEAR]
    if caller == "clb_a":
        assert raw == 6 and CLB_A in body["population"]
    elif caller == "clb_b":
        assert raw is None  # one referral: suppressed
    assert body["audience"] == ("desk" if caller == "desk" else "policy")


def compared(caller: str, body: dict[str, Any]) -> None:
    r31(caller, body["results"][-1])


def report(caller: str, html: str) -> None:
    if caller in ("clb_a", "clb_b"):
        own, other = (CLB_A, CLB_B) if caller == "clb_a" else (CLB_B, CLB_A)
        assert own in html and other not in html
    assert ("beleid: aantallen kleiner dan" in html) is (caller != "desk")


def audit_trail(caller: str, body: dict[str, Any]) -> None:
    """The desk sees who read RA[0]'s history (the fixture's polls at least), newest first."""
    assert body["records"] and {r["referral_id"] for r in body["records"]} == {RA[0]}, body


def history(caller: str, body: dict[str, Any]) -> None:
    assert body["referral_id"] == RA[0] and len(body["events"]) == 3
    assert {e["payload"]["referral_id"] for e in body["events"]} == {RA[0]}


CHECKS: dict[tuple[str, str], Callable[[str, Any], None]] = {
    ("GET", "/v1/live/provider-load"): provider_load,
    ("GET", "/v1/live/waiting-times"): waiting_times,
    ("GET", "/v1/live/trajectories/{trajectory_id}"): trajectory,
    ("GET", "/v1/live/waiting-clocks"): waiting_clocks,
    ("GET", "/v1/live/waiting-clocks/trend"): waiting_trend,
    ("GET", "/v1/live/referrals"): referral_statuses,
    ("GET", "/v1/live/referrals/{referral_id}"): referral_status,
    ("GET", "/v1/live/completeness"): completeness,
    ("GET", "/v1/referrals/{referral_id}/events"): history,
    ("GET", "/v1/audit"): audit_trail,
    ("GET", "/v1/stats/{school_year}"): year_report,
    ("GET", "/v1/stats/{school_year}/{statistic}"): r31,
    ("GET", "/v1/stats/compare/{statistic}"): compared,
    ("GET", "/v1/stats/comparisons/exclusions"): exclusions,
    ("POST", "/v1/stats/comparisons/exclusions"): exclusions,
    ("POST", "/v1/query"): ad_hoc,
    ("GET", "/v1/reports/annual/{school_year}"): report,
}  # fmt: skip


def served_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, those of its included routers too."""
    return {(method, str(route.path)) for route in iter_route_contexts(app.routes) for method in route.methods or ()
            if method != "HEAD"}  # fmt: skip


STREAMS = {("GET", "/v1/live/stream")}  # never ends: its status and headers are what the matrix reads


def ask(client: httpx.Client, route: tuple[str, str], url: str, headers: dict[str, str],
        options: dict[str, Any]) -> httpx.Response:  # fmt: skip
    if route not in STREAMS:
        return client.request(route[0], url, headers=headers, **options)
    with client.stream(route[0], url, headers=headers, **options) as response:
        if response.status_code != 200:
            response.read()
        return response


def test_every_api_route_answers_every_caller_as_its_rule_says(
    platform: Platform, callers: dict[str, dict[str, str]]
) -> None:
    routes = served_routes(create_app(platform.settings))
    assert not routes - set(EXPECTED), f"routes without an expected rule here: {sorted(routes - set(EXPECTED))}"
    assert not routes - set(REQUESTS), f"routes without a request here: {sorted(routes - set(REQUESTS))}"
    failures: list[str] = []
    with httpx.Client(base_url=platform.settings.api_base_url, timeout=120) as client:
        for route in sorted(routes):
            url, options = REQUESTS[route]
            for caller, headers in callers.items():
                response = ask(client, route, url, headers, options)
                expected = EXPECTED[route][caller]
                if response.status_code != expected:
                    failures.append(f"{route} {caller}: {response.status_code} (expected {expected}) "
                                    f"{response.text[:200]}")  # fmt: skip
                    continue
                if expected == 401:
                    challenge = response.headers.get("WWW-Authenticate", "")
                    if not challenge.startswith('Bearer realm="kans"') or (
                            caller != "anonymous" and 'error="invalid_token"' not in challenge):  # fmt: skip
                        failures.append(f"{route} {caller}: challenge {challenge!r}")
                if expected == 200 and route in CHECKS and caller in CALLERS:
                    body = response.text if route[1].startswith("/v1/reports") else response.json()
                    try:
                        CHECKS[route](caller, body)
                    except (AssertionError, KeyError, StopIteration, ValueError) as err:
                        failures.append(f"{route} {caller}: rows outside the scope or missing: {err!r}")
    assert not failures, "\n".join(failures)


def test_a_clb_asking_for_another_clbs_referral_history_gets_the_404_of_an_unknown_id(
    platform: Platform, callers: dict[str, dict[str, str]]
) -> None:
    api = platform.settings.api_base_url
    other = httpx.get(f"{api}/v1/referrals/{RA[0]}/events", headers=callers["clb_b"], timeout=30)
    unknown = httpx.get(f"{api}/v1/referrals/no-such-{U}/events", headers=callers["clb_b"], timeout=30)
    own = httpx.get(f"{api}/v1/referrals/{RB}/events", headers=callers["clb_b"], timeout=30)
    assert (other.status_code, unknown.status_code, own.status_code) == (404, 404, 200)
    assert other.json()["detail"] == unknown.json()["detail"].replace(f"no-such-{U}", RA[0])
    assert [e["event_type"] for e in own.json()["events"]] == ["ReferralSubmitted", "TrajectoryDispatched"]


def test_the_audience_follows_the_role_not_the_parameter(
    platform: Platform, callers: dict[str, dict[str, str]]
) -> None:
    api = platform.settings.api_base_url
    for caller in ("policy", "clb_a"):
        refused = httpx.get(f"{api}/v1/stats/{YEAR}/R31", params={"audience": "desk"}, headers=callers[caller])
        assert refused.status_code == 403 and "audience=desk is for the desk role" in refused.json()["detail"]
        asked = httpx.post(f"{api}/v1/query", params={"audience": "desk"}, headers=callers[caller],
                           json={"measures": ["referrals"], "years": [YEAR]})  # fmt: skip
        assert asked.status_code == 403
    per_school = {"measures": ["referrals"], "dimensions": ["school_id"], "years": [YEAR]}
    refused_school = httpx.post(f"{api}/v1/query", headers=callers["policy"], json=per_school)
    assert refused_school.status_code == 422 and "desk only" in refused_school.text
    desk_as_policy = httpx.get(f"{api}/v1/stats/{YEAR}/R31", params={"audience": "policy"}, headers=callers["desk"])
    assert desk_as_policy.json()["audience"] == "policy"


# -- the ingest: source systems (API key or token) and the desk tool submit; nobody else ----------------------------
INGEST_PUBLIC = ("/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
SUBMITTERS = ("desk", "source_system")


def ingest_rule(allowed: dict[str, int]) -> dict[str, int]:
    return {**dict.fromkeys(UNAUTHENTICATED, 401), **dict.fromkeys(CALLERS, 403), **allowed}


INGEST_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    **{("GET", path): PUBLIC for path in INGEST_PUBLIC},
    ("POST", "/v1/events"): ingest_rule(dict.fromkeys(SUBMITTERS, 202)),
    ("POST", "/v1/events/batch"): ingest_rule(dict.fromkeys(SUBMITTERS, 202)),
    ("POST", "/v1/imports/{mapping}"): ingest_rule(dict.fromkeys(SUBMITTERS, 200)),
    # The error report belongs to its uploader (the source system's token here): another submitter gets a 404.
    ("GET", "/v1/imports/{import_id}/errors.csv"): ingest_rule({"source_system": 200, "desk": 404}),
    # Only the desk decides on a dispatch proposal; without a dispatch worker here the desk gets 503 (nothing decided).
    ("POST", "/v1/dispatch/trajectories/{trajectory_id}/decision"): ingest_rule({"desk": 503}),
}


def _lars_csv() -> bytes:
    from kans.bench_import import LARS_COLUMNS, lars_row

    rows = [lars_row(0, 2025), {**lars_row(1, 2025), "Geslacht": "M"}]  # the second row is invalid
    lines = [";".join(LARS_COLUMNS)] + [";".join(str(row[c]) for c in LARS_COLUMNS) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def ingest_request(route: tuple[str, str], caller: str, n: int, import_id: str) -> Request:
    """The request of `route` for `caller`: a submission it may make (a referral of CLB A, by LARS; the desk's own
    for the desk); others send the same and must be refused before anything is read."""
    submission = {**referral(f"RI{n}-{U}", referrer_id=CLB_A), "source_system": "desk" if caller == "desk" else "lars"}
    upload: dict[str, Any] = {"files": {"file": ("lars.csv", _lars_csv(), "text/csv")}, "params": {"dry_run": "true"}}
    requests: dict[tuple[str, str], Request] = {
        ("POST", "/v1/events"): ("/v1/events", {"json": submission}),
        ("POST", "/v1/events/batch"): ("/v1/events/batch", {"json": [submission]}),
        ("POST", "/v1/imports/{mapping}"): ("/v1/imports/lars-individual", upload),
        ("GET", "/v1/imports/{import_id}/errors.csv"): (f"/v1/imports/{import_id}/errors.csv", {}),
        ("POST", "/v1/dispatch/trajectories/{trajectory_id}/decision"): (
            f"/v1/dispatch/trajectories/T-{U}/decision", {"json": {"proposal_id": f"P-{U}", "decision": "confirm"}}),
    }
    return requests.get(route, (route[1], {}))


def test_every_ingest_route_answers_every_caller_as_its_rule_says(
    platform: Platform, callers: dict[str, dict[str, str]]
) -> None:
    from services.ingest.main import create_app as create_ingest

    routes = served_routes(create_ingest(platform.settings))
    assert not routes - set(INGEST_EXPECTED), f"routes without a rule here: {sorted(routes - set(INGEST_EXPECTED))}"
    failures: list[str] = []
    with httpx.Client(base_url=platform.settings.ingest_base_url, timeout=120) as client:
        url, options = ingest_request(("POST", "/v1/imports/{mapping}"), "source_system", 0, "")
        uploaded = client.post(url, headers=callers["source_system"], **options)
        assert uploaded.status_code == 200 and uploaded.json()["invalid_rows"] == 1, uploaded.text
        import_id = uploaded.json()["import_id"]
        for n, (route, (caller, headers)) in enumerate((r, c) for r in sorted(routes) for c in callers.items()):
            url, options = ingest_request(route, caller, n, import_id)
            response = client.request(route[0], url, headers=headers, **options)
            expected = INGEST_EXPECTED[route][caller]
            if response.status_code != expected:
                failures.append(f"{route} {caller}: {response.status_code} (expected {expected}) {response.text[:300]}")
            elif expected == 401 and not response.headers.get("WWW-Authenticate", "").startswith(
                    'Bearer realm="kans-ingest"'):  # fmt: skip
                failures.append(f"{route} {caller}: challenge {response.headers.get('WWW-Authenticate')!r}")
    assert not failures, "\n".join(failures)
    # What a source system's token submitted is stored under the token's identity (it is limited to CLB A).
    n = sorted(routes).index(("POST", "/v1/events")) * len(callers) + list(callers).index("source_system")
    def stored() -> list[dict[str, Any]] | None:
        response = platform.api.get(f"/v1/referrals/RI{n}-{U}/events")
        return response.json()["events"] if response.status_code == 200 else None

    events = wait_for(stored, timeout_s=60, what="the referral a token submitted, in ClickHouse")
    assert [e["source_ref"] for e in events] == [f"token:dev-source_system-lars/ref:RI{n}-{U}"]
