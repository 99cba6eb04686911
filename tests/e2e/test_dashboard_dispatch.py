"""The dashboard shows the dispatch service's open proposals and waiting lists to the desk, in headless Chromium, on
the platform's processes (a platform of its own): two theme workshops asked of a provider with one place (named by the
school) give one open proposal and one group on the waiting list, both on screen with the rule that decided, and the
load table's waiting list column counts it. No console errors, no failed request; a screenshot is kept
(`.kans-test/artefacts/dashboard-dispatch.png`)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from core.auth import Role, development_headers, issue_development_token
from core.settings import Settings
from kans.paths import REPO_ROOT
from tests.conftest import wait_for
from tests.dispatch_catalogue import group_referral, module, provider_fact
from tests.e2e.conftest import Platform

U = uuid.uuid4().hex[:6]
PROVIDER, MODULE = f"dash-{U}", f"workshop-{U}"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTEFACTS = REPO_ROOT / ".kans-test" / "artefacts"


def desk_view(platform: Platform) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    proposals = platform.api.get("/v1/dispatch/proposals").json()["proposals"]
    lists = platform.api.get("/v1/dispatch/waiting-lists").json()["lists"]
    return ([p for p in proposals if p["provider_id"] == PROVIDER],
            [w for w in lists if w["provider_id"] == PROVIDER])  # fmt: skip


@pytest.fixture
def platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """A platform of its own with the dispatch worker and the ingest's Kafka way in (the suite's shared platform
    runs neither: the dispatch service would place the other tests' referrals)."""
    platform = Platform(settings, tmp_path / "logs")
    try:
        platform.start("inbound", "dispatch", "ingest", "projections", "api")
        yield platform
    finally:
        platform.close()


def test_the_desk_sees_open_proposals_and_waiting_lists_on_the_dashboard(platform: Platform) -> None:
    platform.post(provider_fact("ProviderRegistered", PROVIDER, name=f"Werkplaats {U} vzw"),
                  *module(PROVIDER, MODULE, "theme_workshop", ["secondary"], 1))
    wait_for(lambda: any(m["provider_id"] == PROVIDER for m in platform.api.get("/v1/dispatch/catalogue").json()[
        "modules"]), timeout_s=60, what="the provider in the dispatch worker's catalogue")  # fmt: skip
    first, second = f"GW1-{U}", f"GW2-{U}"
    platform.post(group_referral(first, "2025-10-06", preferred=PROVIDER, module="theme_workshop"))
    wait_for(lambda: desk_view(platform)[0], timeout_s=60, what="the first group's proposal")
    platform.post(group_referral(second, "2025-10-07", preferred=PROVIDER, module="theme_workshop"))
    proposals, lists = wait_for(lambda: v if (v := desk_view(platform))[1] else None, timeout_s=60,
                                what="the second group on the waiting list")  # fmt: skip
    assert [p["group_id"] for p in proposals] == [f"{first}-0"]
    assert [(w["module_id"], [e["referral_id"] for e in w["waiting"]]) for w in lists] == [(MODULE, [second])]
    row = wait_for(lambda: next((r for r in platform.api.get("/v1/live/provider-load", params={
        "provider_id": PROVIDER}).json()["rows"] if r["waiting_list"] == 1), None), timeout_s=60,
        what="the waiting list in the live load view")  # fmt: skip
    assert (row["module_id"], row["waiting"], row["capacity"]) == (MODULE, 0, 1)
    named = wait_for(lambda: r if (r := platform.api.get("/v1/live/provider-load", params={
        "provider_id": PROVIDER}).json()["rows"][0])["provider_name"] else None, timeout_s=30,
        what="the provider's name in the live view")  # fmt: skip
    assert (named["provider_name"], named["module_name"], named["module_kind"], named["module_kind_label_nl"]) == (
        f"Werkplaats {U} vzw", "Module", "theme_workshop", "Themawerking")  # fmt: skip

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make install` installs it"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.set_extra_http_headers(development_headers(platform.settings))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{platform.settings.api_base_url}/", timeout=60_000)
            name = f"Werkplaats {U} vzw"
            page.wait_for_selector(f"#proposals tbody tr:has-text('{first}-0')", timeout=30_000)
            page.wait_for_selector(f"#waiting tbody tr:has-text('{name}')", timeout=30_000)
            proposal_row = page.inner_text(f"#proposals tbody tr:has-text('{first}-0')")
            waiting_row = page.inner_text(f"#waiting tbody tr:has-text('{name}')")
            load_row = page.inner_text(f"#load tbody tr:has-text('{name}')")
            headers = page.inner_text("#load thead")
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "dashboard-dispatch.png"), full_page=True)
            # Pushed, not polled (the page polls only while its stream is down): the provider takes a second
            # group; the capacity and the freed waiting list reach the screen through the stream.
            # The stream is open before its first event arrives: wait for the first push (the snapshot) too.
            page.wait_for_function("document.body.dataset.live === 'push' && Number(document.body.dataset.pushes) > 0",
                                   timeout=30_000)  # fmt: skip
            pushes = int(page.evaluate("document.body.dataset.pushes"))
            posted_at = time.monotonic()
            platform.post(provider_fact("ProviderCapacitySet", PROVIDER, "2025-10-08", module_id=MODULE, capacity=2))
            page.wait_for_function(f"""() => {{
                const row = [...document.querySelectorAll('#load tbody tr')].find(r => r.textContent.includes('{U}'));
                return row && row.children[5].textContent === '2' && row.children[4].textContent === '0';
            }}""", timeout=15_000)  # fmt: skip
            pushed_in = time.monotonic() - posted_at
            assert page.evaluate("document.body.dataset.live") == "push"
            assert int(page.evaluate("document.body.dataset.pushes")) > pushes
            page.wait_for_selector(f"#proposals tbody tr:has-text('{second}-0')", timeout=15_000)
            page.screenshot(path=str(ARTEFACTS / "dashboard-dispatch-pushed.png"), full_page=True)
        finally:
            browser.close()
    shown = f"Werkplaats {U} vzw / Module (Themawerking)"  # names, not ids, on the Dutch page
    assert shown in proposal_row and "2025-10-06" in proposal_row and "aanmelding" in proposal_row
    assert "the school asked for" in proposal_row  # the rule that decided, explained
    assert waiting_row.split("\t")[:4] == [f"Werkplaats {U} vzw", "Module (Themawerking)", "1", "2025-10-07"]
    assert "Wachtlijst" in headers and load_row.split("\t")[2:5] == ["0", "0", "1"]
    assert errors == []
    print(f"\ncapacity raised -> on the dashboard by push in {pushed_in * 1000:.0f} ms")

    # The stream as the API serves it: a provider gets its own rows and no dispatch event; no token, 401.
    api = platform.settings.api_base_url
    assert httpx.get(f"{api}/v1/live/stream", timeout=10).status_code == 401
    token = issue_development_token(platform.settings, Role.provider, [PROVIDER])
    received = first_events(f"{api}/v1/live/stream", {"Authorization": f"Bearer {token}"}, seconds=3.0)
    assert [name for name, _ in received] == ["provider-load"]
    assert {r["provider_id"] for r in received[0][1]["rows"]} == {PROVIDER}
    desk = first_events(f"{api}/v1/live/stream", development_headers(platform.settings), seconds=3.0)
    assert {name for name, _ in desk} == {"provider-load", "dispatch"}


def first_events(url: str, headers: dict[str, str], seconds: float) -> list[tuple[str, Any]]:
    """The SSE events a stream sends in its first `seconds` (pings left out)."""
    found: list[tuple[str, Any]] = []
    name = "message"
    deadline = time.monotonic() + seconds
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(seconds + 5, read=seconds)) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        try:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    found.append((name, json.loads(line[5:].strip())))
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # nothing more within the time: the views did not change
    return found
