"""The API app as `main.py` assembles it, without its lifespan (no ClickHouse, no Kafka): every route where it was,
the routers reaching their collaborators through `deps.py`, and `bootstrap.Api` stopping everything it started.
The whole app against real services: tests/e2e."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.access import check_rules
from core.auth import Role, development_headers
from core.settings import Settings
from services.api.access import RULES
from services.api.bootstrap import Api
from services.api.main import create_app
from services.api.warehouse import Warehouse

ROUTES = {
    ("GET", "/health"), ("GET", "/ready"),
    ("GET", "/v1/live/provider-load"), ("GET", "/v1/live/trajectories/{trajectory_id}"),
    ("GET", "/v1/live/waiting-times"), ("GET", "/v1/live/stream"),
    ("GET", "/v1/live/waiting-clocks"), ("GET", "/v1/live/waiting-clocks/trend"), ("GET", "/v1/live/referrals"),
    ("GET", "/v1/live/referrals/{referral_id}"), ("GET", "/v1/live/completeness"),
    ("GET", "/v1/statistics"), ("GET", "/v1/stats/{school_year}"), ("GET", "/v1/stats/{school_year}/{statistic}"),
    ("GET", "/v1/stats/{school_year}/referrals-per-month"), ("GET", "/v1/stats/compare/{statistic}"),
    ("GET", "/v1/stats/comparisons/exclusions"), ("POST", "/v1/stats/comparisons/exclusions"),
    ("GET", "/v1/query/catalogue"), ("POST", "/v1/query"),
    ("GET", "/v1/referrals/{referral_id}/events"),
    ("GET", "/v1/reports/annual/{school_year}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/dispatch/proposals"), ("GET", "/v1/dispatch/waiting-lists"), ("GET", "/v1/dispatch/catalogue"),
    ("GET", "/v1/dispatch/placements/{trajectory_id}"),
}  # fmt: skip


def test_every_route_is_where_it_was() -> None:
    spec = create_app(Settings()).openapi()
    assert {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops} - {("GET", "/metrics")} \
        == ROUTES
    tags = {path: ops["get"]["tags"] for path, ops in spec["paths"].items() if "get" in ops}
    assert tags["/v1/referrals/{referral_id}/events"] == ["history"]
    assert tags["/v1/stats/{school_year}/referrals-per-month"] == ["statistics"]


def test_the_monthly_route_is_matched_before_a_statistic_code() -> None:
    """`referrals-per-month` is not a statistic code: were `/stats/{school_year}/{statistic}` matched first, the
    dashboard would get a 422. A bad school year is refused before anything is asked of the warehouse (none here)."""
    app = create_app(Settings())
    app.state.api = Api(app.state.settings, None, None, None, None)  # type: ignore[arg-type]
    client = TestClient(app, headers=development_headers(app.state.settings))
    response = client.get("/v1/stats/2019-2021/referrals-per-month")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.school_year"
    assert client.get("/v1/stats/2019-2020/referrals-per-month", params={"level": "tertiary"}).status_code == 422


def test_the_dashboard_page_is_served_with_a_desk_token_in_development() -> None:
    app = create_app(Settings())
    page = TestClient(app).get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/v1/stats/${year}/referrals-per-month" in page.text
    token = page.text.split("const SERVED_TOKEN = ")[1].split(";")[0].strip('"')
    assert app.state.access.tokens.verify(token).role is Role.desk


def test_every_route_has_an_access_rule_and_the_docs_can_authorize() -> None:
    app = create_app(Settings())
    check_rules(app)  # what the lifespan does before serving
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": spec["components"][
            "securitySchemes"]["bearer"]["description"]}  # fmt: skip
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            public = RULES[(method.upper(), path)] is None
            assert ("security" in operation) is not public, (method, path)
            assert public or "**Roles:**" in operation["description"], (method, path)
    assert spec["paths"]["/v1/live/provider-load"]["get"]["security"] == [{"bearer": []}]
    assert "**Roles:** desk, provider." in spec["paths"]["/v1/live/provider-load"]["get"]["description"]


def test_a_route_without_a_rule_stops_the_app_and_is_refused_meanwhile() -> None:
    app = create_app(Settings())
    app.state.api = Api(app.state.settings, None, None, None, None)  # type: ignore[arg-type]
    del app.state.access.rules[("GET", "/v1/statistics")]
    with pytest.raises(RuntimeError, match=r"without an access rule: .*'/v1/statistics'.*services/api/access.py"):
        check_rules(app)
    response = TestClient(app).get("/v1/statistics", headers=development_headers(app.state.settings))
    assert response.status_code == 403 and "allowed roles: none" in response.json()["detail"]


def projections_worker(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/provider-load"
    rows = [{"provider_id": p, "module_id": "individual", "active": 1, "waiting": 0, "capacity": 2, "free": 1,
             "load_pct": 50.0} for p in ("p1", "p2")]  # fmt: skip
    return httpx.Response(200, json={"as_of": "2025-10-06", "rows": rows})


def test_routers_reach_the_wired_collaborators_through_deps() -> None:
    app = create_app(Settings())
    projections = httpx.AsyncClient(transport=httpx.MockTransport(projections_worker), base_url="http://worker")
    app.state.api = Api(app.state.settings, None, None, None, projections)  # type: ignore[arg-type]
    client = TestClient(app)
    desk = development_headers(app.state.settings)
    response = client.get("/v1/live/provider-load", params={"provider_id": "p2"}, headers=desk)
    assert response.status_code == 200
    assert [row["provider_id"] for row in response.json()["rows"]] == ["p2"]
    own = client.get("/v1/live/provider-load", headers=development_headers(app.state.settings, Role.provider, ["p1"]))
    assert [row["provider_id"] for row in own.json()["rows"]] == ["p1"]  # a provider sees its own rows only
    anonymous = client.get("/v1/live/provider-load")
    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (401, 'Bearer realm="kans"')
    policy = client.get("/v1/live/provider-load", headers=development_headers(app.state.settings, Role.policy))
    assert policy.status_code == 403 and "allowed roles: desk, provider" in policy.json()["detail"]


class Recorder:
    def __init__(self, log: list[str], name: str, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def _record(self, what: str) -> None:
        self.log.append(f"{self.name}.{what}")
        if self.fail:
            raise RuntimeError(f"{self.name} failed")

    def stop(self) -> None:
        self._record("stop")

    def close(self) -> None:
        self._record("close")

    async def aclose(self) -> None:
        self._record("aclose")


@pytest.mark.parametrize("failing", [None, "projections", "writer", "client"])
def test_stop_closes_the_client_last_even_when_a_step_fails(failing: str | None) -> None:
    log: list[str] = []
    parts: dict[str, Any] = {name: Recorder(log, name, fail=name == failing)
                             for name in ("projections", "writer", "client", "reader", "writer_client")}  # fmt: skip
    warehouse = Warehouse([parts["client"], parts["reader"]], "kans")
    api = Api(Settings(), parts["client"], warehouse, parts["writer"], parts["projections"],  # type: ignore[arg-type]
              writer_clients=[parts["writer_client"]])  # fmt: skip
    api._started = True
    if failing:
        with pytest.raises(RuntimeError, match=failing):
            asyncio.run(api.stop())
    else:
        asyncio.run(api.stop())
    # The clients last, every one of them even when one failed to close
    assert log == ["projections.aclose", "writer.stop", "client.close", "reader.close", "writer_client.close"]
