"""Bad input, answered with a 4xx (REST) or a dead letter (inbound) naming the problem, never a 500 and never stored:
dates outside the plausible window, duplicated JSON keys, spreadsheets that are not text, hold an endless cell or
unpack to hundreds of MB. The rules alone, the routers on in-memory adapters, the inbound agent alone (no broker)."""

from __future__ import annotations

import asyncio
import csv
import json
import random
import tracemalloc
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from kans.bench_import import LARS_COLUMNS, as_spreadsheet_cells, lars_row, write_csv, write_xlsx
from schemas.registry import SUBMISSION_ADAPTER, example_submission
from services.ingest.inbound.checks import check_message
from services.ingest.main import create_app
from services.ingest.plausibility import DateWindow, date_problems
from services.ingest.routes import events
from services.ingest.spreadsheets.guards import MAX_CELL_CHARS, check_xlsx_archive
from services.ingest.spreadsheets.importer import BatchReply, ImportFailed, import_file
from services.ingest.spreadsheets.mapping import load_mapping
from services.ingest.strict_json import duplicate_keys
from tests.factories import dispatch, referral
from tests.unit.ingest_fakes import FakePublisher, fake_ingest
from tests.unit.test_ingest_inbound_agent import LARS, body, harness, headers, until
from tests.unit.test_ingest_routes import client_for

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
WINDOW = DateWindow()  # the defaults of Settings: from 2000-01-01 to one day after acceptance


def submission(data: dict[str, Any]) -> Any:
    return SUBMISSION_ADAPTER.validate_python(data)


# --- the plausibility window, a pure rule ---------------------------------------------------------------------


@pytest.mark.parametrize("occurred", ["1000-03-01T10:00:00+01:00", "1446-05-01T10:00:00+01:00",
                                      "1999-12-31T23:59:59+00:00", "4166-01-01T10:00:00+01:00",
                                      "9999-12-31T10:00:00+01:00", "2026-12-05T12:00:01+00:00"])  # fmt: skip
def test_occurred_at_outside_the_window_is_named_with_the_window(occurred: str) -> None:
    (problem,) = date_problems(submission(referral("R-1", occurred=occurred)), WINDOW, NOW)
    assert (problem.field, problem.type) == ("occurred_at", "date_out_of_window")
    assert occurred[:10] in problem.message
    assert "2000-01-01T00:00:00+00:00 .. 2026-12-05T12:00:00+00:00" in problem.message


@pytest.mark.parametrize("occurred", ["2000-01-01T00:00:00+00:00", "2019-10-01T10:00:00+02:00",
                                      "2026-12-05T11:59:59+00:00"])  # fmt: skip
def test_occurred_at_inside_the_window_passes(occurred: str) -> None:
    assert date_problems(submission(referral("R-1", occurred=occurred)), WINDOW, NOW) == []


def test_the_window_follows_the_settings() -> None:
    window = DateWindow.from_settings(Settings(earliest_event_date=date(2015, 9, 1), max_event_lead_s=3600))
    early = date_problems(submission(referral("R-1", occurred="2012-10-01T10:00:00+02:00")), window, NOW)
    late = date_problems(submission(referral("R-1", occurred="2026-12-04T13:30:00+00:00")), window, NOW)
    assert [p.field for p in early + late] == ["occurred_at", "occurred_at"]
    assert "from 2015-09-01 to 1 hour(s) after" in late[0].message


def test_payload_dates_have_their_own_window_after_occurred_at() -> None:
    def capacity(valid_from: str) -> Any:
        data = example_submission("ProviderCapacitySet")
        data["occurred_at"] = "2026-06-01T10:00:00+02:00"
        data["payload"]["valid_from"] = valid_from
        return submission(data)

    assert date_problems(capacity("2026-09-01"), WINDOW, NOW) == []  # next school year: planned ahead
    (problem,) = date_problems(capacity("9999-12-31"), WINDOW, NOW)
    assert problem.field == "payload.valid_from"
    assert "9999-12-31 is outside the plausible window 2000-01-01 .. 2029-06-0" in problem.message


def test_a_round_table_planned_in_year_4166_is_refused() -> None:
    data = example_submission("RoundTableScheduled")
    data["payload"]["scheduled_for"] = "4166-01-01"
    assert [p.field for p in date_problems(submission(data), WINDOW, NOW)] == ["payload.scheduled_for"]


# --- REST: 422 naming the field, nothing published ------------------------------------------------------------


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Any:
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as client:
        yield client


@pytest.mark.parametrize("year", ["1000", "1446", "4166", "9999"])
def test_an_implausible_year_is_a_422_naming_occurred_at_not_a_500(
    client: TestClient, publisher: FakePublisher, year: str
) -> None:
    response = client.post("/v1/events", json=referral("R-Y", occurred=f"{year}-03-01T10:00:00+01:00"))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["field"], error["type"]) == ("body.occurred_at", "date_out_of_window")
    assert f"{year}-03-01" in error["message"] and "plausible window 2000-01-01" in error["message"]
    assert publisher.events == []


def test_one_implausible_event_refuses_the_batch(client: TestClient, publisher: FakePublisher) -> None:
    batch = [referral("R-A"), dispatch("R-A", "T-A", "tigo", occurred="9999-01-01T10:00:00+01:00"), referral("R-B")]
    response = client.post("/v1/events/batch", json=batch)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body[1].occurred_at"]
    assert publisher.events == []
    assert client.post("/v1/events/batch", json=[batch[0], batch[2]]).status_code == 202  # nothing was half-kept


def test_a_duplicated_json_key_is_a_422_naming_it(client: TestClient, publisher: FakePublisher) -> None:
    text = json.dumps(referral("R-D")).replace('"level": "secondary"', '"level": "primary", "level": "secondary"')
    response = client.post("/v1/events", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["field"], error["type"]) == ("body.payload.level", "json_duplicate_key")
    batch = "[" + json.dumps(referral("R-E")) + "," + json.dumps(referral("R-F"))[:-1] + ', "actor": "desk:x"}]'
    response = client.post("/v1/events/batch", content=batch, headers={"Content-Type": "application/json"})
    assert [e["field"] for e in response.json()["errors"]] == ["body[1].actor"]
    assert publisher.events == []


def test_a_duplicated_key_without_an_api_key_is_still_a_401(client: TestClient) -> None:
    text = '{"event_type": "ReferralSubmitted", "event_type": "ReferralSubmitted"}'
    response = client.post("/v1/events", content=text, headers={"Content-Type": "application/json", "X-API-Key": ""})
    assert response.status_code == 401


def test_duplicate_keys_are_found_at_any_depth_and_only_then() -> None:
    assert duplicate_keys(b'[{"a": 1, "p": {"x": 1, "x": 2}}, {"a": 1, "a": 2}]') == [(0, "p", "x"), (1, "a")]
    assert duplicate_keys(json.dumps([referral("R-1"), referral("R-1")])) == []  # the same object twice is fine
    assert duplicate_keys(b"\xff not json") == []  # the validator says it is not JSON


def test_the_request_bodies_stay_documented_in_openapi() -> None:
    document = create_app(Settings()).openapi()
    for path in ("/v1/events", "/v1/events/batch"):
        operation = document["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert "$ref" in json.dumps(operation["requestBody"]["content"]["application/json"]["schema"])
        assert [p["name"] for p in operation.get("parameters", [])] == []  # the duplicate-key check adds none
        assert "may or may not be in the event log" in operation["responses"]["503"]["description"]


# --- the Kafka way in: dead letters with the reason -----------------------------------------------------------


def test_inbound_dead_letters_an_implausible_date_and_a_duplicated_key_and_publishes_the_rest(tmp_path: Path) -> None:
    h = harness(tmp_path)
    doubled = body(referral("R-2"))[:-1] + b', "source_ref": "ref:R-2"}'

    async def scenario() -> list[Any]:
        async with h.agent.test_context() as agent:
            sent = [
                await h.put(agent, body(referral("R-1", occurred="9999-03-01T10:00:00+01:00")), LARS),
                await h.put(agent, doubled, LARS),
                await h.put(agent, body(referral("R-3")), LARS),
            ]
            await until(lambda: all(e.message.acked for e in sent), "every message acknowledged")
            return await h.letters(2)

    letters = asyncio.run(scenario())
    by_reason = {headers(x)["error-type"]: headers(x) for x in letters}
    assert by_reason["invalid_submission"]["error-fields"] == "occurred_at"
    assert "plausible window" in by_reason["invalid_submission"]["error-message"]
    assert by_reason["invalid_json"]["error-fields"] == "source_ref"
    assert [e.payload.referral_id for e in h.publisher.events] == ["R-3"]  # type: ignore[attr-defined]


def test_check_message_names_a_duplicated_key(tmp_path: Path) -> None:
    keys = fake_ingest(Settings()).keys
    rejection = check_message(b'{"event_type": "X", "payload": {"a": 1, "a": 1}}', LARS, keys)
    assert (rejection.reason, rejection.fields) == ("invalid_json", ("payload.a",))  # type: ignore[union-attr]


# --- spreadsheets: bounded cells, text only, XLSX sizes from the ZIP directory --------------------------------

MAPPING = load_mapping("lars-individual")


def rows(n: int) -> list[dict[str, Any]]:
    return [lars_row(i, 2013) for i in range(n)]


def test_a_200000_character_cell_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    data = rows(3)
    data[1]["Opmerking"] = "x" * 200_000
    with pytest.raises(ImportFailed) as refused:
        import_file(write_csv(tmp_path / "long.csv", data), MAPPING, None)
    assert refused.value.type == "cell_too_long"
    assert str(refused.value) == f"row 3, column 'Opmerking': a cell of 200,000 characters; at most {MAX_CELL_CHARS:,}"


def test_a_cell_beyond_the_csv_field_cap_is_refused_naming_its_row(tmp_path: Path) -> None:
    data = rows(3)
    data[2]["Opmerking"] = "x" * 1_100_000
    with pytest.raises(ImportFailed) as refused:
        import_file(write_csv(tmp_path / "longer.csv", data), MAPPING, None)
    assert (refused.value.type, str(refused.value)[:6]) == ("not_csv", "row 4:")


def test_a_long_cell_in_an_xlsx_is_refused_too(tmp_path: Path) -> None:
    data = [as_spreadsheet_cells(r) for r in rows(2)]
    data[0]["Opmerking"] = "y" * 5_000
    with pytest.raises(ImportFailed, match="row 2, column 'Opmerking'"):
        import_file(write_xlsx(tmp_path / "long.xlsx", data), MAPPING, None)


@pytest.mark.parametrize("garbage", [
    random.Random(1).randbytes(50_000),  # random bytes
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,  # an image renamed .csv
    "Aanmeldingsnummer;Geslacht\n1;Jongen\n".encode("utf-16"),  # NULs: not the text we read
    b"Aanmeldingsnummer;Geslacht\n1;\x81\x8d\x8f\x90\x9d\n",  # neither UTF-8 nor Windows-1252
])  # fmt: skip
def test_binary_garbage_uploaded_as_csv_is_not_a_csv_file(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(garbage)
    with pytest.raises(ImportFailed, match=r"^not a CSV file") as refused:
        import_file(path, MAPPING, None)
    assert refused.value.type == "not_csv"


def test_windows_1252_exports_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    with path.open("w", encoding="cp1252", newline="") as out:
        writer = csv.DictWriter(out, LARS_COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows({**r, "Opmerking": "Leerling uit Schaarbeek, één broer"} for r in rows(3))
    summary = import_file(path, MAPPING, None)
    assert (summary.rows, summary.invalid_rows) == (3, 0)


def zip_bomb(path: Path, unpacked_mb: int) -> Path:
    """A small XLSX whose sheet XML unpacks to `unpacked_mb` MB of repeated rows (written streaming)."""
    row = b'<row><c t="inlineStr"><is><t>' + b"A" * 200 + b"</t></is></c></row>"
    chunk = row * ((1 << 20) // len(row))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            for _ in range(unpacked_mb):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_an_xlsx_zip_bomb_is_refused_from_its_directory_without_unpacking_it(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.xlsx", 300)
    assert bomb.stat().st_size < 2 << 20  # a small upload ...
    assert sum(i.file_size for i in zipfile.ZipFile(bomb).infolist()) > 300_000_000  # ... of 300 MB unpacked
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailed) as refused:
            import_file(bomb, MAPPING, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.type == "xlsx_too_large"
    assert "xl/worksheets/sheet1.xml unpacks" in str(refused.value) and "ZIP bomb" in str(refused.value)
    assert peak < 5 << 20  # the directory was read, not the sheet


def test_xlsx_caps_are_per_part_and_in_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.ingest.spreadsheets import guards

    real = write_xlsx(tmp_path / "real.xlsx", [as_spreadsheet_cells(r) for r in rows(50)])
    check_xlsx_archive(real)  # a real export passes
    monkeypatch.setattr(guards, "MAX_XLSX_TOTAL_BYTES", 10_000)
    with pytest.raises(ImportFailed, match="the XLSX unpacks to"):
        import_file(real, MAPPING, None)
    not_zip = tmp_path / "not.xlsx"
    not_zip.write_bytes(b"PK\x03\x04 but not really a zip")
    with pytest.raises(ImportFailed, match="not a readable XLSX file") as refused:
        import_file(not_zip, MAPPING, None)
    assert refused.value.type == "not_xlsx"


def test_an_import_reports_rows_whose_dates_the_ingest_refuses_and_imports_the_rest(
    tmp_path: Path, publisher: FakePublisher
) -> None:
    data = rows(4)
    data[2]["Datum aanmelding"] = "01/01/1999"
    path = write_csv(tmp_path / "dates.csv", data)
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as client:
        def post(submissions: list[dict[str, Any]]) -> BatchReply:
            response = client.post("/v1/events/batch", json=submissions)
            return BatchReply(response.status_code, response.json())

        summary = import_file(path, MAPPING, post)
    assert (summary.imported_rows, summary.invalid_rows, summary.created) == (3, 1, 3)
    (error,) = summary.errors
    assert (error.row, error.column) == (4, "Datum aanmelding")
    assert "1999-01-01" in error.reason and "plausible window 2000-01-01" in error.reason
    assert len(publisher.events) == 3


def test_every_generated_demo_event_is_inside_the_window() -> None:
    from kans.demo import demo_events

    today = date(2026, 12, 4)
    accepted_at = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=23)
    bad = [s["source_ref"] for s in demo_events(today, years=1) if date_problems(submission(s), WINDOW, accepted_at)]
    assert bad == []
