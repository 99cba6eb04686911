"""Spreadsheet import end to end: a 10,000-row LARS export (CSV, and the same rows as XLSX) with invalid rows,
imported through the running services: `kans import` and `POST /v1/imports/{mapping}`, counted by the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kans.bench_import import as_spreadsheet_cells, lars_row, write_csv, write_xlsx
from kans.cli import app
from tests.conftest import wait_for
from tests.e2e.conftest import Platform

START_YEAR, SCHOOL_YEAR = 2011, "2011-2012"  # a school year no other test uses
ROWS = 10_000
API_KEY = {"X-API-Key": "kans-dev-lars"}
NATIONAL_NUMBER = "85.07.30-033.28"
# Row n (spreadsheet row n + 2) of every thousand is made invalid in one way: column -> bad value and reason.
INVALID = {
    101: ("Geslacht", "M", "allowed values: Jongen, Meisje"),
    202: ("Geboortejaar", "", "required"),
    303: ("Instellingsnummer school", NATIONAL_NUMBER, "national register number"),
    404: ("Datum aanmelding", "31/02/2012", "not a valid date in the format dd/mm/yyyy"),
}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The export as CSV and as XLSX, and the (row, column) -> reason fragment the error report must list."""
    rows, expected = [], {}
    for n in range(ROWS):
        row = lars_row(n, START_YEAR)
        if (bad := INVALID.get(n % 1000)) is not None:
            column, value, reason = bad
            row[column] = value
            expected[(n + 2, column)] = reason
        rows.append(row)
    folder = tmp_path_factory.mktemp("export")
    return {
        "csv": write_csv(folder / "lars-export.csv", rows),
        "xlsx": write_xlsx(folder / "lars-export.xlsx", [as_spreadsheet_cells(r) for r in rows]),
        "expected": expected,
        "valid": ROWS - len(expected),
    }


def report_lines(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def assert_report(lines: list[dict[str, str]], expected: dict[tuple[int, str], str]) -> None:
    assert {(int(line["row"]), line["column"]) for line in lines} == set(expected)
    assert len(lines) == len(expected)  # one line per invalid row here: each has one bad cell
    for line in lines:
        assert expected[(int(line["row"]), line["column"])] in line["reason"], line
        assert NATIONAL_NUMBER not in line["reason"]


def referrals_counted(platform: Platform) -> int:
    return int(platform.api.get(f"/v1/stats/{SCHOOL_YEAR}/referrals-per-month").json()["total"])


def kans_import(platform: Platform, file: Path, *extra: str) -> Any:
    args = ["import", str(file), "--mapping", "lars-individual", "--ingest-url", platform.settings.ingest_base_url,
            "--api-key", API_KEY["X-API-Key"], *extra]  # fmt: skip
    return CliRunner().invoke(app, args)


def test_import_csv_then_xlsx_imports_valid_rows_exactly_once(
    platform: Platform, export: dict[str, Any], tmp_path: Path
) -> None:
    valid, expected = export["valid"], export["expected"]
    report = tmp_path / "errors.csv"
    first = kans_import(platform, export["csv"], "--report", str(report))
    assert first.exit_code == 2, first.output  # 2: imported, with invalid rows
    assert f"{ROWS} rows: {valid} imported, {len(expected)} invalid" in first.output
    assert f"{valid} events: {valid} created, 0 duplicates" in first.output
    assert_report(report_lines(report.read_text(encoding="utf-8")), expected)
    wait_for(lambda: referrals_counted(platform) >= valid, timeout_s=120, what=f"{valid} referrals in ClickHouse")

    # The same rows as an XLSX (date cells, number cells), uploaded to the ingest: every event is a duplicate.
    with export["xlsx"].open("rb") as upload:
        response = platform.ingest.post(
            "/v1/imports/lars-individual", headers=API_KEY, timeout=300,
            files={"file": ("lars-export.xlsx", upload, "application/vnd.ms-excel")},
        )  # fmt: skip
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["rows"], summary["imported_rows"], summary["invalid_rows"]) == (ROWS, valid, len(expected))
    assert (summary["created"], summary["duplicates"]) == (0, valid)
    errors = platform.ingest.get(summary["errors_url"], headers=API_KEY)
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    assert_report(report_lines(errors.text), expected)

    again = kans_import(platform, export["csv"])
    assert f"{valid} events: 0 created, {valid} duplicates" in again.output, again.output
    assert referrals_counted(platform) == valid


def test_upload_of_an_unknown_mapping_or_file_type_is_refused(platform: Platform, export: dict[str, Any]) -> None:
    files = {"file": ("lars-export.csv", export["csv"].read_bytes(), "text/csv")}
    assert platform.ingest.post("/v1/imports/no-such-mapping", headers=API_KEY, files=files).status_code == 404
    pdf = {"file": ("lars-export.pdf", b"%PDF-1.4", "application/pdf")}
    assert platform.ingest.post("/v1/imports/lars-individual", headers=API_KEY, files=pdf).status_code == 415
    anonymous = httpx.post(f"{platform.settings.ingest_base_url}/v1/imports/lars-individual", files=files)
    assert anonymous.status_code == 401  # the platform's client sends a key by default: a bare client does not
