"""The dashboard's waiting-time clocks, data completeness and referral-status lookup (issue 16, L3-L5), in headless
Chromium on the platform's processes (a platform of its own, with the dispatch worker: the desk's page also asks for
its proposals). Events through the ingest: a provider of this test gets two referrals started 7 and 21 days after
their referral (median 14) and a third dispatched, not started (one open wait); the sections show those figures, the
monthly trend of the provider, the completeness counts the API gives, and a referral's status looked up by id. A
pushed provider-load change refreshes the clocks (throttled). No console errors, no failed request; screenshots kept
(`.kans-test/artefacts/dashboard-operations*.png`), also at a phone's width."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from core.auth import development_headers
from core.settings import Settings
from kans.paths import REPO_ROOT
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import capacity, dispatch, referral, start

U = uuid.uuid4().hex[:6]
PROVIDER, YEAR = f"ops-{U}", "2025-2026"
RA, RB, RC, RD = (f"OPS{n}-{U}" for n in "ABCD")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTEFACTS = REPO_ROOT / ".kans-test" / "artefacts"


@pytest.fixture
def platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(settings, tmp_path / "logs")
    try:
        platform.start("inbound", "dispatch", "ingest", "projections", "api")
        yield platform
    finally:
        platform.close()


def clocks_row(platform: Platform) -> dict[str, Any] | None:
    body = platform.api.get("/v1/live/waiting-clocks", params={"school_year": YEAR}).json()
    return next((r for r in body.get("rows", []) if r["grouping"] == "provider" and r["provider_id"] == PROVIDER
                 and r["segment"] == "referral_to_start"), None)  # fmt: skip


def cells(page: Page, selector: str) -> list[str]:
    return [c.strip() for c in page.inner_text(selector).split("\t")]


def test_the_dashboard_shows_clocks_completeness_and_a_referrals_status(platform: Platform) -> None:
    platform.post(
        capacity(PROVIDER, "individual", 5),
        referral(RA), dispatch(RA, f"T{RA}", PROVIDER), start(RA, f"T{RA}"),  # 6 Oct -> 13 Oct: 7 days
        referral(RB), dispatch(RB, f"T{RB}", PROVIDER), start(RB, f"T{RB}", "2025-10-27T09:00:00+01:00"),  # 21 days
        referral(RC), dispatch(RC, f"T{RC}", PROVIDER),  # open
    )  # fmt: skip
    row = wait_for(lambda: r if (r := clocks_row(platform)) and r["completed"] == 2 and r["open"] == 1 else None,
                   timeout_s=60, what="the provider's waits in the warehouse")  # fmt: skip
    assert (row["median_days"], row["p90_days"]) == (14.0, 21.0)
    completeness = platform.api.get("/v1/live/completeness", params={"school_year": YEAR, "limit": 5}).json()
    without_duration = next(c for c in completeness["checks"] if c["check"] == "trajectory_without_duration")
    assert {"key": PROVIDER, "count": 2} in without_duration["by_provider"]  # the factories' starts give no duration

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make install` installs it"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2400})
            page.set_extra_http_headers(development_headers(platform.settings))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{platform.settings.api_base_url}/", timeout=60_000)
            page.select_option("#year", YEAR)
            mine = f"#clocks tbody tr:has-text('{PROVIDER}')"
            page.wait_for_selector(mine, timeout=30_000)
            shown = cells(page, mine)
            trend = page.get_attribute(f"{mine} svg", "data-points")
            page.wait_for_selector("#completeness tbody tr[data-check='trajectory_without_duration']", timeout=30_000)
            count_shown = cells(page, "#completeness tbody tr[data-check='trajectory_without_duration']")[1]
            page.fill("#referral-id", RB)
            page.click("#lookup-form button")
            page.wait_for_selector("#referral-status .state", timeout=15_000)
            status = page.inner_text("#referral-status")
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "dashboard-operations.png"), full_page=True)

            # A pushed provider-load change (a new dispatch) refreshes the clocks: two open waits on screen.
            page.wait_for_function("document.body.dataset.live === 'push'", timeout=30_000)
            platform.post(referral(RD), dispatch(RD, f"T{RD}", PROVIDER))
            page.wait_for_function(f"""() => {{
                const row = [...document.querySelectorAll('#clocks tbody tr')].find(r => r.textContent.includes('{U}'));
                return row && row.children[5].textContent === '2';
            }}""", timeout=30_000)  # fmt: skip

            phone = browser.new_page(viewport={"width": 390, "height": 2400})
            phone.set_extra_http_headers(development_headers(platform.settings))
            phone.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            phone.goto(f"{platform.settings.api_base_url}/", timeout=60_000)
            phone.select_option("#year", YEAR)
            phone.wait_for_selector(mine, timeout=30_000)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # the tables scroll, the page not
            phone.screenshot(path=str(ARTEFACTS / "dashboard-operations-phone.png"), full_page=True)
        finally:
            browser.close()
    assert shown[:8] == [PROVIDER, "2", "14", "21", "100 %", "1", shown[6], "1"], shown  # 7 and 21 days; one open
    assert trend == "2025-10: 14 d"  # both started in October 2025: one point, the median
    assert count_shown == str(without_duration["count"])
    assert "Traject loopt (sinds 2025-10-27)" in status and "Aangemeld: 2025-10-06" in status
    assert "Toegewezen: 2025-10-08" in status and "Gestart: 2025-10-27" in status
    assert f"{PROVIDER} / individual: loopt" in status
    assert errors == []
