"""The rendered annual report end to end: a generated school year posted through the ingest, the report asked from
the API process as HTML (opened in headless Chromium), PDF and XLSX, and made by `kans report`. The figures in the
report must be the statistics API's. School year 2009-2010 (and 2008-2009, the report's previous year): no other
test uses them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, sync_playwright
from pypdf import PdfReader

from core.auth import development_headers
from kans.paths import REPO_ROOT
from kans.processes import settings_env
from kans.synthetic.generator import generate
from kans.synthetic.output import DEMO_API_KEY, post_to_ingest
from kans.synthetic.params import GeneratorParams
from kans.synthetic.summary import Summary
from services.warehouse.statistics.model import SECTION_TITLES_NL
from services.warehouse.statistics.registry import STATISTICS
from tests.conftest import wait_for
from tests.platform import Platform

YEAR = "2009-2010"
REPORT = f"/v1/reports/annual/{YEAR}"
# The system Chromium (installed by `make install`); playwright's own browser download is never used.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]  # fmt: skip
COMPARED = ("R02", "R07", "R16", "R29", "R31", "R41", "R47", "R58")  # cross tables, percentages, T5, providers


def json_of(platform: Platform, path: str, **params: Any) -> Any:
    response = platform.api.get(path, params=params, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _settled(platform: Platform, previous: list[Any]) -> bool:
    """The year's statistics did not change since the last look (the writer is done with the posted events)."""
    report = json_of(platform, f"/v1/stats/{YEAR}")
    report.pop("elapsed_ms")
    same = bool(previous) and previous[-1] == report
    previous.append(report)
    return same


@pytest.fixture(scope="module")
def year(platform: Platform) -> Platform:
    summary = Summary()
    params = GeneratorParams(years=(YEAR,), seed=2009, scale=0.25)
    sent = post_to_ingest(summary.watch(generate(params)), platform.settings.ingest_base_url, DEMO_API_KEY)
    assert sent["created"] == sent["events"] > 300
    totals = summary.year_totals(YEAR)
    primary = sum(n for key, n in totals["referrals"].items() if key.startswith("primary"))
    secondary = sum(n for key, n in totals["referrals"].items() if key.startswith("secondary"))

    def counted() -> bool:
        figures = [json_of(platform, f"/v1/stats/{YEAR}/{code}")["total"] for code in ("R02", "R31", "R22", "R54")]
        return figures[:2] == [primary, secondary] and figures[2] + figures[3] == totals["groups"]

    wait_for(counted, timeout_s=120, interval_s=0.5, what=f"the referrals and groups of {YEAR} in ClickHouse")
    looks: list[Any] = []
    wait_for(lambda: _settled(platform, looks), timeout_s=120, interval_s=1.5, what="the statistics to settle")
    return platform


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make install` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


TABLES_JS = """() => Array.from(document.querySelectorAll("table.statistic-table")).map(t => ({
  statistic: t.dataset.statistic, columns: t.dataset.columns, labelColumns: Number(t.dataset.labelColumns),
  visible: t.getBoundingClientRect().height > 0, caption: t.caption.textContent.trim(),
  headers: Array.from(t.querySelectorAll("thead th")).map(th => th.textContent.trim()),
  rows: Array.from(t.querySelectorAll("tbody tr")).map(tr => Array.from(tr.children).map(c => c.textContent.trim())),
}))"""


def open_report(
    platform: Platform, browser: Browser, query: str = "", charts_at_least: int = 30
) -> tuple[list[dict[str, Any]], list[str]]:
    """Open the report page from the API in Chromium: its tables (as shown) and every console error."""
    page = browser.new_page()
    page.set_extra_http_headers(development_headers(platform.settings))  # a desk's browser, signed in
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    try:
        response = page.goto(f"{platform.settings.api_base_url}{REPORT}{query}", timeout=120_000)
        assert response is not None and response.status == 200
        page.wait_for_load_state("load")
        for section, title in SECTION_TITLES_NL.items():
            heading = page.locator(f'section[data-section="{section.value}"] > h3')
            assert heading.is_visible() and title in heading.inner_text(), section
        tables: list[dict[str, Any]] = page.evaluate(TABLES_JS)
        charts = page.locator("figure.chart")
        assert charts.count() >= charts_at_least and all(
            c.startswith("Grafiek ") for c in charts.locator("figcaption").all_inner_texts()
        )
    finally:
        page.close()
    return tables, errors


def figure(text: Any) -> float | None:
    """A figure as shown (Dutch: 1.234 / 12,5 / 35,1%) or as stored in the workbook; None when suppressed."""
    if text in ("x", "\u2013", None):
        return None
    if isinstance(text, int | float):
        return float(text)
    return float(str(text).rstrip("%").replace(".", "").replace(",", "."))


def shown(headers: list[str], label_columns: int, rows: list[list[Any]], cross: bool) -> dict[Any, Any]:
    """{(row labels, column label or None): [value, pct]} of a rendered table."""
    out: dict[Any, Any] = {}
    for row in rows:
        labels = tuple(row[:label_columns])
        for header, text in zip(headers[label_columns:], row[label_columns:], strict=True):
            is_pct = header.endswith(" (%)") or header == "%"
            column = header.removesuffix(" (%)") if cross else None
            out.setdefault((labels, column), [None, None])[1 if is_pct else 0] = figure(text)
    return out


def expected(stat: dict[str, Any], columns: str) -> dict[Any, Any]:
    """The same cells from the statistics API's JSON."""
    dims = [d for d in stat["dimensions"] if d != columns]
    return {
        (tuple(r[f"{d}_label_nl"] for d in dims), r[f"{columns}_label_nl"] if columns else None): [
            None if r["value"] is None else float(r["value"]), None if r["pct"] is None else float(r["pct"])]
        for r in stat["rows"]
    }  # fmt: skip


def assert_same_figures(table: dict[str, Any], rows: list[list[Any]], stat: dict[str, Any]) -> None:
    want = expected(stat, table["columns"])
    got = shown(table["headers"], table["labelColumns"], rows, bool(table["columns"]))
    for key, value in got.items():  # a cross-table cell with nothing counted is shown as 0
        assert value == want.get(key, [0.0, None] if value[1] is None else [0.0, value[1]]), (stat["statistic"], key)
    assert set(want) <= set(got), stat["statistic"]


def test_the_html_report_renders_in_chromium_with_every_section_and_every_statistics_table(
    year: Platform, browser: Browser
) -> None:
    response = year.api.get(REPORT, timeout=120)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    tables, errors = open_report(year, browser)
    assert errors == []
    assert [t["statistic"] for t in tables] == list(STATISTICS)
    assert all(t["visible"] for t in tables)
    assert [t["caption"].split(":")[0] for t in tables] == [f"Tabel {n}" for n in range(1, len(STATISTICS) + 1)]
    for table in tables:
        if table["statistic"] in COMPARED:
            stat = json_of(year, f"/v1/stats/{YEAR}/{table['statistic']}")
            assert stat["rows"] and any(r["value"] for r in stat["rows"]), table["statistic"]
            assert_same_figures(table, table["rows"], stat)


def test_the_policy_report_suppresses_the_cells_the_statistics_api_suppresses(year: Platform, browser: Browser) -> None:
    tables, errors = open_report(year, browser, "?audience=policy&exclude_channel=intake", charts_at_least=10)
    assert errors == []
    suppressed = 0
    for table in tables:
        if table["statistic"] in COMPARED:
            stat = json_of(year, f"/v1/stats/{YEAR}/{table['statistic']}", audience="policy", exclude_channel="intake")
            suppressed += stat["suppressed_cells"]
            assert_same_figures(table, table["rows"], stat)
    assert suppressed > 0  # the small year has small cells: the comparison covered hidden ones


def test_the_pdf_holds_every_section_and_every_table(year: Platform) -> None:
    response = year.api.get(REPORT, params={"format": "pdf", "as_of": "2030-01-01"}, timeout=180)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"kans-jaarrapport-{YEAR}.pdf" in response.headers["content-disposition"]
    reader = PdfReader(BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert len(reader.pages) > 20
    for title in SECTION_TITLES_NL.values():
        assert title in text, title
    for number in range(1, len(STATISTICS) + 1):
        assert f"Tabel {number}: " in text, number
    assert "Grafiek 1: " in text and "zoals geregistreerd tot en met 01/01/2030" in text


def test_the_workbook_has_a_sheet_per_table_with_the_statistics_figures(year: Platform, browser: Browser) -> None:
    response = year.api.get(REPORT, params={"format": "xlsx"}, timeout=120)
    assert response.status_code == 200, response.text
    book = load_workbook(BytesIO(response.content))
    sheets = {re.sub(r"^Tabel \d+ \((R\d\d[a-z]?)\)$", r"\1", name): name for name in book.sheetnames[1:]}
    assert book.sheetnames[0] == "Inhoud" and list(sheets) == list(STATISTICS)
    tables, _ = open_report(year, browser)
    for table in tables:
        if table["statistic"] in COMPARED:
            sheet = book[sheets[table["statistic"]]]
            rows = [list(r) for r in sheet.iter_rows(min_row=6, max_row=5 + len(table["rows"]),
                                                      max_col=len(table["headers"]), values_only=True)]  # fmt: skip
            assert [c.value for c in sheet[5][: len(table["headers"])]] == table["headers"]
            assert_same_figures(table, rows, json_of(year, f"/v1/stats/{YEAR}/{table['statistic']}"))
    assert sum(len(book[name]._charts) for name in book.sheetnames) >= 30


def kans_report(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kans.cli", "report", YEAR, *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=settings_env(platform.settings), capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip


def test_kans_report_asks_the_running_api_and_will_not_open_the_store_the_api_holds(
    year: Platform, tmp_path: Path
) -> None:
    out = tmp_path / "rapport.xlsx"
    started = time.monotonic()
    done = kans_report(year, "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"from the API at {year.settings.api_base_url}" in done.stdout and time.monotonic() - started < 120
    assert len(load_workbook(out).sheetnames) == len(STATISTICS) + 1  # the contents and a sheet per table
    refused = kans_report(year, "--format", "html", "--source", "local", "--out", str(tmp_path / "r.html"))
    assert refused.returncode == 1 and "is in use by process" in refused.stderr
    assert not (tmp_path / "r.html").exists()
