"""The live process (`kans serve live`, services/api/live_main.py) on the session's platform: the API's live routes
from a process without ClickHouse. It answers every caller as the API does (same rules, same scopes: a CLB sees a
trajectory of its own referral only, from the referrers the process folds from the log), names the rows as the API
does, pushes them on its stream, survives records written straight to the log, and is not ready while a part it
needs is missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.auth import development_headers
from core.topics import events_topic
from services.api.live_main import create_live_app
from tests.conftest import wait_for
from tests.dispatch_catalogue import module, provider_fact
from tests.e2e.conftest import Platform
from tests.e2e.test_access_matrix import CALLERS, CHECKS, EXPECTED, REQUESTS, ask, callers, served_routes
from tests.e2e.test_dashboard_dispatch import first_events
from tests.event_log import produce_raw

__all__ = ["callers"]  # the access matrix's fixture: its events, and every kind of caller's headers
U = uuid.uuid4().hex[:6]
NAMED = f"named-{U}"


@pytest.fixture(scope="module")
def live(platform: Platform) -> Iterator[httpx.Client]:
    platform.start("live")
    try:
        with httpx.Client(base_url=platform.settings.live_base_url, timeout=60,
                          headers=development_headers(platform.settings)) as client:  # a desk token
            yield client
    finally:
        platform.stop("live")


@pytest.fixture(scope="module")
def named(platform: Platform) -> str:
    """A provider with a name and a module (day care, 4 places), in the projections."""
    platform.post(provider_fact("ProviderRegistered", NAMED, name=f"Werkhuis {U} vzw"),
                  *module(NAMED, "indiv", "day_care", ["secondary"], 4))  # fmt: skip
    wait_for(lambda: platform.load(NAMED, "indiv"), timeout_s=60, what="the named provider in the projections")
    return NAMED


def rows_of(client: httpx.Client, provider: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = client.get("/v1/live/provider-load", params={"provider_id": provider}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()["rows"]  # type: ignore[no-any-return]


def test_the_live_process_serves_the_apis_live_routes_and_nothing_that_needs_the_warehouse(
    platform: Platform,
) -> None:
    routes = served_routes(create_live_app(platform.settings))
    assert {path for _, path in routes if path.startswith("/v1/")} == {
        "/v1/live/provider-load", "/v1/live/stream", "/v1/live/waiting-times", "/v1/live/trajectories/{trajectory_id}"}


def test_every_live_route_answers_every_caller_as_the_api_does(
    platform: Platform, live: httpx.Client, callers: dict[str, dict[str, str]]
) -> None:
    assert live.get("/ready").status_code == 200
    routes = served_routes(create_live_app(platform.settings))
    failures: list[str] = []
    with httpx.Client(base_url=platform.settings.live_base_url, timeout=60) as anyone:  # no token of its own
        answers = {(route, caller): ask(anyone, route, REQUESTS[route][0], headers, REQUESTS[route][1])
                   for route in sorted(routes) for caller, headers in callers.items()}  # fmt: skip
    for (route, caller), response in answers.items():
        expected = EXPECTED[route][caller]
        if response.status_code != expected:
            failures.append(f"{route} {caller}: {response.status_code} (expected {expected})")
            continue
        if expected == 401 and not response.headers.get("WWW-Authenticate", "").startswith('Bearer realm="kans"'):
            failures.append(f"{route} {caller}: no bearer challenge")
        if expected == 200 and route in CHECKS and caller in CALLERS:
            try:
                CHECKS[route](caller, response.json())
            except (AssertionError, KeyError, StopIteration, ValueError) as err:
                failures.append(f"{route} {caller}: rows outside the scope or missing: {err!r}")
    assert not failures, "\n".join(failures)


def test_the_rows_are_named_as_the_api_names_them_and_a_rename_reaches_the_stream(
    platform: Platform, live: httpx.Client, named: str
) -> None:

    def named_rows(client: httpx.Client) -> list[dict[str, Any]] | None:
        rows = rows_of(client, NAMED)
        return rows if rows and rows[0]["provider_name"] and rows[0]["module_name"] else None

    from_live = wait_for(lambda: named_rows(live), timeout_s=60, what="the named rows on the live process")
    from_api = wait_for(lambda: named_rows(platform.api), timeout_s=60, what="the named rows on the API")
    fields = ("provider_id", "module_id", "provider_name", "module_name", "module_kind", "module_kind_label_nl",
              "capacity", "active", "waiting")  # fmt: skip
    assert [{k: r[k] for k in fields} for r in from_live] == [{k: r[k] for k in fields} for r in from_api]
    assert (from_live[0]["provider_name"], from_live[0]["module_kind"]) == (f"Werkhuis {U} vzw", "day_care")
    assert from_live[0]["module_kind_label_nl"] not in (None, "day_care")  # the code list's Dutch label

    platform.post(provider_fact("ProviderRegistered", NAMED, valid_from="2025-09-02", name=f"Werkhuis {U} Brussel"))
    wait_for(lambda: rows_of(live, NAMED)[0]["provider_name"] == f"Werkhuis {U} Brussel", timeout_s=30,
             what="the new name on the live process")  # fmt: skip
    pushed = first_events(f"{platform.settings.live_base_url}/v1/live/stream", development_headers(platform.settings),
                          seconds=3.0)  # fmt: skip
    loads = [body for name, body in pushed if name == "provider-load"]
    assert loads and {r["provider_name"] for r in loads[-1]["rows"] if r["provider_id"] == NAMED} == {
        f"Werkhuis {U} Brussel"}


def test_records_written_straight_to_the_log_do_not_stop_the_index(platform: Platform, live: httpx.Client,
                                                                   named: str) -> None:  # fmt: skip
    poison = [(b"x", b"\x00\xff not json"), (b"x", b"[]"), (b"x", b"{" * 50_000), (b"x", b'{"event_type": 1}'),
              (NAMED.encode(), b'{"event_type": "ProviderRegistered", "payload": {"provider_id": "' + NAMED.encode()
               + b'", "name": "forged"}}')]  # fmt: skip
    produce_raw(platform.settings.kafka_bootstrap, events_topic(platform.settings), poison)
    later = f"after-poison-{U}"
    platform.post(provider_fact("ProviderRegistered", later, name=f"Na {U}"),
                  provider_fact("ProviderCapacitySet", later, module_id="indiv", capacity=1))  # fmt: skip
    wait_for(lambda: (rows := rows_of(live, later)) and rows[0]["provider_name"] == f"Na {U}", timeout_s=60,
             what="a name published after the poison, on the live process")  # fmt: skip
    ready = live.get("/ready")
    assert ready.status_code == 200 and ready.json()["facts"]["ready"], ready.text
    assert rows_of(live, NAMED)[0]["provider_name"] != "forged"  # not a valid event: it named nothing


def test_the_live_process_is_not_ready_while_no_projections_worker_answers(platform: Platform, live: httpx.Client,
                                                                            tmp_path: Any) -> None:  # fmt: skip
    """A second live process whose projections worker is nowhere: alive, not ready, and its views answer 503."""
    from kans.processes import ServiceProcesses, free_port

    settings = platform.settings.model_copy(update={"live_port": free_port(),
                                                    "projections_urls": f"http://127.0.0.1:{free_port()}"})
    with ServiceProcesses(settings, tmp_path) as lonely:
        lonely.launch("live")
        base = settings.live_base_url
        wait_for(lambda: _status(f"{base}/health") == 200, timeout_s=60, what="the second live process up")
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 503
        assert any(problem.startswith("projections: not ready") for problem in ready.json()["problems"]), ready.text
        view = httpx.get(f"{base}/v1/live/provider-load", headers=development_headers(settings), timeout=10)
        assert view.status_code == 503 and "projections are not complete" in view.json()["detail"]


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_the_dashboard_reads_the_live_process_across_origins_and_the_api_when_it_is_down(
    platform: Platform, live: httpx.Client, named: str
) -> None:
    """The API's page, told where the live process is (as `KANS_LIVE_PUBLIC_URL` has the API serve it: injected here,
    the API of the session's platform being started without it), in headless Chromium: the live rows and the stream
    come from the live process across origins (CORS, the token in the header); told a live process that does not
    answer, the page reads the same views from the API."""
    import shutil

    from playwright.sync_api import sync_playwright

    from services.api.routes.dashboard import LIVE_MARK
    from tests.e2e.test_dashboard_dispatch import CHROMIUM_ARGS

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make install` installs it"
    wait_for(lambda: (rows := rows_of(live, NAMED)) and rows[0]["provider_name"], timeout_s=60,
             what="the named provider on the live process")  # fmt: skip

    def dashboard(live_url: str) -> tuple[str | None, str | None, list[str]]:
        errors: list[str] = []
        with sync_playwright() as playwright:
            # A page fulfilled by the test (the live address injected) has no address: Chromium counts it as public and
            # its local-network checks would refuse it loopback, which a page served by the API on 127.0.0.1 is not.
            lna = "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"
            browser = playwright.chromium.launch(executable_path=chromium, args=[*CHROMIUM_ARGS, lna])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1600})
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning")
                        and not m.text.startswith("Failed to load resource") else None)  # responses: below
                # no dispatch worker on this platform: the desk's dispatch section answers 503, as documented
                page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                        if r.status >= 400 and "/v1/dispatch/" not in r.url else None)  # fmt: skip

                def told(route: Any) -> None:
                    served = route.fetch()
                    body = served.text().replace(LIVE_MARK, f'"{live_url}"', 1)
                    route.fulfill(response=served, body=body)

                page.route(f"{platform.settings.api_base_url}/", told)
                page.goto(f"{platform.settings.api_base_url}/", timeout=60_000)
                page.wait_for_selector(f"#load tbody td[title='{NAMED}']", state="attached", timeout=30_000)
                page.wait_for_function("document.body.dataset.live === 'push'", timeout=30_000)
                return page.evaluate("document.body.dataset.liveFrom"), page.inner_text("#load tbody"), errors
            finally:
                browser.close()

    source, rows, errors = dashboard(platform.settings.live_base_url)
    assert (source, errors) == ("live", []), errors
    assert f"Werkhuis {U}" in rows  # the live process's names
    from kans.processes import free_port

    source, rows, _ = dashboard(f"http://127.0.0.1:{free_port()}")  # nobody listens there
    assert source == "api" and f"Werkhuis {U}" in rows
