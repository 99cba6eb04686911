"""The spreadsheet mapping engine without I/O beyond temporary files: reading, cells, mappings, error columns."""

from __future__ import annotations

import copy
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from kans.bench_import import LARS_COLUMNS, as_spreadsheet_cells, lars_row, write_csv, write_xlsx
from schemas.registry import SUBMISSION_LIST_ADAPTER
from services.ingest.spreadsheets.cells import CellError, parse_decimal, parse_integer, parse_moment, read_cell
from services.ingest.spreadsheets.conversion import MappedRecord, map_record, map_row
from services.ingest.spreadsheets.importer import BatchReply, import_file
from services.ingest.spreadsheets.mapping import FieldSpec, Mapping, load_mapping, mapping_names
from services.ingest.spreadsheets.reader import Row, open_sheet

LARS = "lars-individual"
NATIONAL_NUMBER = "85.07.30-033.28"  # date part 1985-07-30 and a valid mod-97 check: what the guard must catch


def lars(n: int = 7, **changes: Any) -> Row:
    return Row(n + 2, {k: (v or None) for k, v in {**lars_row(n, 2011), **changes}.items()})


def payload(record: MappedRecord, index: int = 0) -> dict[str, Any]:
    assert not record.errors, record.errors
    return record.submissions[index]["payload"]  # type: ignore[no-any-return]


def problems(record: MappedRecord) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in record.errors}


# -- cells -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("2010", 2010), ("1.234", 1234), (" 7 ", 7), (12.0, 12)])
def test_integers_in_belgian_notation(text: Any, expected: int) -> None:
    assert parse_integer(text) == expected


@pytest.mark.parametrize("text", ["2010a", "1,5", "twee", True])
def test_not_a_whole_number_is_refused(text: Any) -> None:
    with pytest.raises(CellError, match="not a whole number"):
        parse_integer(text)


@pytest.mark.parametrize(("text", "expected"), [("2,5", 2.5), ("1.234,5", 1234.5), ("2.5", 2.5), (3, 3.0)])
def test_decimals_with_a_decimal_comma(text: Any, expected: float) -> None:
    assert parse_decimal(text) == expected


def test_dates_are_read_day_first_in_brussels_time() -> None:
    assert parse_moment("03/02/2012", "%d/%m/%Y") == "2012-02-03T00:00:00+01:00"
    assert parse_moment("1/9/2011", "%d/%m/%Y") == "2011-09-01T00:00:00+02:00"
    assert parse_moment(datetime(2011, 9, 1), "%d/%m/%Y") == "2011-09-01T00:00:00+02:00"  # an XLSX date cell
    assert parse_moment(date(2012, 8, 31), "%d/%m/%Y") == "2012-08-31T00:00:00+02:00"
    with pytest.raises(CellError, match=r"not a valid date in the format dd/mm/yyyy: '31/02/2012'"):
        parse_moment("31/02/2012", "%d/%m/%Y")
    with pytest.raises(CellError, match="not a valid date"):
        parse_moment("2012-02-03", "%d/%m/%Y")


def test_translations_ignore_case_and_list_the_allowed_labels() -> None:
    spec = FieldSpec(column="Geslacht", values={"Jongen": "boy", "Meisje": "girl"})
    assert read_cell(" jongen ", spec, "%d/%m/%Y") == "boy"
    with pytest.raises(CellError, match="'M' is not one of the allowed values: Jongen, Meisje"):
        read_cell("M", spec, "%d/%m/%Y")


def test_multi_selects_become_code_lists() -> None:
    spec = FieldSpec(column="Risicogedrag", parse="list", values={"Spijbelen": "truancy", "Demotivatie": "demo"})
    assert read_cell("Demotivatie; spijbelen;", spec, "%d/%m/%Y") == ["demo", "truancy"]
    with pytest.raises(CellError, match="'Roken' is not one of"):
        read_cell("Demotivatie;Roken", spec, "%d/%m/%Y")


def test_personal_data_in_a_text_cell_is_refused_without_repeating_it() -> None:
    with pytest.raises(CellError, match="national register number") as refused:
        read_cell(NATIONAL_NUMBER, FieldSpec(column="Aanmeldingsnummer"), "%d/%m/%Y")
    assert NATIONAL_NUMBER not in str(refused.value)
    pupil = FieldSpec(column="Leerling-ID", pseudonymised=True)  # hashed by the ingest: allowed
    assert read_cell(NATIONAL_NUMBER, pupil, "%d/%m/%Y") == NATIONAL_NUMBER


# -- reading files -----------------------------------------------------------------------------------------------
def test_csv_and_xlsx_give_the_same_rows_with_spreadsheet_row_numbers(tmp_path: Path) -> None:
    rows = [lars_row(n, 2011) for n in range(3)]
    csv_file = write_csv(tmp_path / "export.csv", [rows[0], {c: "" for c in LARS_COLUMNS}, rows[1], rows[2]])
    xlsx_file = write_xlsx(tmp_path / "export.xlsx", [as_spreadsheet_cells(r) for r in rows])
    with open_sheet(csv_file) as sheet:
        assert sheet.header == LARS_COLUMNS
        from_csv = list(sheet.rows)
    assert [r.number for r in from_csv] == [2, 4, 5]  # row 3 is empty: skipped, numbering kept
    with open_sheet(xlsx_file) as sheet:
        from_xlsx = list(sheet.rows)
    assert from_xlsx[0].cells["Datum aanmelding"] == datetime(2011, 9, 1)
    mapping = load_mapping(LARS)
    assert [map_row(mapping, r).submissions for r in from_csv] == [map_row(mapping, r).submissions for r in from_xlsx]


def test_comma_separated_windows_1252_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("Aanmeldingsnummer,Residentiële setting\r\n2011-1,Geen\r\n".encode("cp1252"))
    with open_sheet(path) as sheet:
        assert [r.cells for r in sheet.rows] == [{"Aanmeldingsnummer": "2011-1", "Residentiële setting": "Geen"}]


# -- mappings ----------------------------------------------------------------------------------------------------
def test_every_mapping_loads_and_documents_its_columns() -> None:
    assert {LARS, "external-clb-form", "group-referral-tool"} <= set(mapping_names())
    for name in mapping_names():
        mapping = load_mapping(name)
        assert mapping.row_id in mapping.columns


def test_an_undocumented_column_is_a_mapping_error() -> None:
    data = load_mapping(LARS).model_dump(exclude_none=True)
    del data["columns"]["Geslacht"]
    with pytest.raises(ValueError, match="not documented under `columns`: Geslacht"):
        Mapping.model_validate(data)


def test_a_valid_lars_row_becomes_a_valid_referral() -> None:
    record = map_row(load_mapping(LARS), lars(7, Geslacht="Meisje", Risicogedrag="Demotivatie;Spijbelen"))
    SUBMISSION_LIST_ADAPTER.validate_python(record.submissions)
    submission = record.submissions[0]
    assert (submission["event_type"], submission["source_system"]) == ("ReferralSubmitted", "lars")
    assert submission["occurred_at"] == "2011-09-08T00:00:00+02:00"
    assert submission["source_ref"] == "referral:2011-000007"
    body = payload(record)
    assert body["gender"] == "girl"
    assert body["pupil_id"] == "LL7000007"


def test_the_same_row_always_gives_the_same_source_refs(tmp_path: Path) -> None:
    rows = [lars_row(n, 2011) for n in range(50)]
    first = write_csv(tmp_path / "a.csv", rows)
    again = write_csv(tmp_path / "b.csv", reversed(rows))  # same records, other order: other row numbers
    refs = []
    for path in (first, again):
        with open_sheet(path) as sheet:
            refs.append(sorted(s["source_ref"] for r in sheet.rows for s in map_row(load_mapping(LARS), r).submissions))
    assert refs[0] == refs[1]
    assert len(set(refs[0])) == 50


def test_errors_name_the_column_and_the_reason() -> None:
    mapping = load_mapping(LARS)
    bad = map_row(mapping, lars(3, Geslacht="M", Geboortejaar="", **{"Datum aanmelding": "31/02/2012"}))
    assert bad.submissions == []
    reasons = {e.column: e.reason for e in bad.errors}
    assert set(reasons) == {"Geslacht", "Geboortejaar", "Datum aanmelding"}
    assert all(e.row == 5 for e in bad.errors)
    assert "allowed values: Jongen, Meisje" in reasons["Geslacht"]
    assert reasons["Geboortejaar"].startswith("required")
    assert "dd/mm/yyyy" in reasons["Datum aanmelding"]


def test_a_contract_error_is_traced_back_to_its_column() -> None:
    # The mapping passes postcodes through; the contract decides what a valid one is.
    assert problems(map_row(load_mapping(LARS), lars(3, Geboortemaand="13"))) == {(5, "Geboortemaand")}
    assert problems(map_row(load_mapping(LARS), lars(3, Aanmeldingsnummer="2011 7"))) == {(5, "Aanmeldingsnummer")}


def test_a_national_register_number_in_an_id_column_is_refused() -> None:
    record = map_row(load_mapping(LARS), lars(3, Aanmeldingsnummer=NATIONAL_NUMBER))
    assert problems(record) == {(5, "Aanmeldingsnummer")}
    assert NATIONAL_NUMBER not in record.errors[0].reason


def test_the_compiled_fast_path_maps_every_row_as_the_slow_path_does() -> None:
    """map_row builds a valid row with the compiled readers (cached per distinct cell); map_record is the slow path
    that tracks every field's column. Both must give the same submissions, and the same errors for a bad row."""
    mapping = load_mapping(LARS)
    rows = [lars(n) for n in range(300)] + [lars(n, Advies="Jeugdhulp", **{"Datum advies": "20/09/2011"})
                                             for n in range(300, 320)]  # fmt: skip
    rows += [Row(r.number, as_spreadsheet_cells(r.cells)) for r in rows[:50]]  # date and number cells
    for row in rows:
        fast, slow = map_row(mapping, row), map_record(mapping, [row])
        assert not fast.errors and fast.submissions == slow.submissions, row.number
    first, second = map_row(mapping, rows[3]), map_row(mapping, rows[3])
    first.submissions[0]["payload"]["risk_behaviours"].append("other")  # a cached list is not shared
    assert second.submissions[0]["payload"]["risk_behaviours"] == ["demotivation", "truancy"]
    bad = [lars(3, Geslacht="M"), lars(4, Aanmeldingsnummer=NATIONAL_NUMBER), lars(5, Geboortemaand="13"),
           lars(6, **{"CLB-code": None}), lars(7, **{"Datum aanmelding": "31/02/2012"})]  # fmt: skip
    for row in bad:
        fast, slow = map_row(mapping, row), map_record(mapping, [row])
        assert fast.submissions == [] and fast.errors == slow.errors and fast.errors, row.number


def test_dry_run_import_counts_and_reports_in_row_order(tmp_path: Path) -> None:
    rows = [lars_row(n, 2011) for n in range(20)]
    rows[4] = {**rows[4], "Geslacht": "?"}
    rows[9] = {**copy.deepcopy(rows[2]), "Geslacht": "Meisje" if rows[2]["Geslacht"] == "Jongen" else "Jongen"}
    summary = import_file(write_csv(tmp_path / "x.csv", rows), load_mapping(LARS), None)
    assert (summary.rows, summary.imported_rows, summary.invalid_rows) == (20, 18, 2)
    assert [(e.row, e.column) for e in summary.errors] == [(6, "Geslacht"), (11, "Aanmeldingsnummer")]
    assert "same natural id as row 4" in summary.errors[1].reason


# -- the other sources -------------------------------------------------------------------------------------------
def test_external_clb_form_reads_month_and_year_from_one_cell() -> None:
    cells = {"Formuliernummer": "F-2020-0042", "Ingediend op": "14/10/2019 10:35", "CLB": "clb-halle",
             "Leerlingnummer CLB": "H-88123", "Geslacht leerling": "Meisje", "Geboortemaand en -jaar": "04/2008",
             "Aanbod": "Regulier", "Niveau": "SO", "Leerjaar": "2", "Onderwijsvorm": "B-stroom",
             "School in Brussel?": "Nee", "Postcode woonplaats": "1500", "Risicogedrag": "Spijbelen;Demotivatie",
             "Hulpverlening betrokken": "Geen"}  # fmt: skip
    record = map_row(load_mapping("external-clb-form"), Row(2, cells))
    body = payload(record)
    assert record.submissions[0]["occurred_at"] == "2019-10-14T10:35:00+02:00"
    assert (body["birth_year"], body["birth_month"], body["channel"]) == (2008, 4, "external_clb")
    assert (body["school_location"], body["gender"], body["grade"]) == ("outside_brussels", "girl", "grade_2")
    assert (body["risk_behaviours"], body["ambulant_care"]) == (["truancy", "demotivation"], [])
    SUBMISSION_LIST_ADAPTER.validate_python(record.submissions)


def group_row(number: int, request: str, group: str, **changes: Any) -> Row:
    cells = {
        "Aanvraagnummer": request, "Groepnummer": group, "Datum aanvraag": "12/05/2020", "CLB-code": "clb-brussel-2",
        "Kanaal": "CLB Brussel", "Instellingsnummer school": "100245", "Ligging school": "Brussel",
        "Onderwijsniveau": "Secundair onderwijs", "Leerjaar": "1", "Onderwijsvorm": "A-stroom",
        "Soort groep": "Klasgroep", "Aantal leerlingen": "22", "Gevraagde module": "Klasactie",
        "Thema klasactie": "Weerbaarheid", "Voorkeur aanbieder": "Geen voorkeur", **changes,
    }  # fmt: skip
    return Row(number, {k: v for k, v in cells.items() if v is not None})


def test_group_rows_become_one_group_referral_with_all_its_groups() -> None:
    mapping = load_mapping("group-referral-tool")
    rows = [group_row(2, "GA-2020-7", "1"), group_row(3, "GA-2020-7", "2", **{"Soort groep": "Herstelgroep",
            "Aantal leerlingen": "3", "Gevraagde module": "Herstel", "Thema klasactie": None,
            "Voorkeur aanbieder": "Abrusco"})]  # fmt: skip
    record = map_record(mapping, rows)
    (submission,) = record.submissions
    assert (submission["event_type"], submission["source_ref"]) == (
        "GroupReferralSubmitted",
        "group-referral:GA-2020-7",
    )
    groups = submission["payload"]["groups"]
    assert [(g["group_id"], g["group_kind"], g["pupil_count"]) for g in groups] == [
        ("1", "class_group", 22), ("2", "restorative_group", 3)]  # fmt: skip
    assert "preferred_provider_id" not in groups[0] and groups[1]["preferred_provider_id"] == "abrusco"
    SUBMISSION_LIST_ADAPTER.validate_python(record.submissions)


def test_an_invalid_group_row_keeps_its_whole_referral_out_and_names_its_own_row() -> None:
    mapping = load_mapping("group-referral-tool")
    rows = [group_row(2, "GA-2020-8", "1"), group_row(3, "GA-2020-8", "2", **{"Aantal leerlingen": "0"}),
            group_row(4, "GA-2020-8", "3", **{"Datum aanvraag": "13/05/2020"})]  # fmt: skip
    record = map_record(mapping, rows)
    assert record.submissions == []
    assert {(e.row, e.column) for e in record.errors} == {
        (3, "Aantal leerlingen"), (4, "Datum aanvraag"), (2, "Aanvraagnummer")}  # fmt: skip
    assert "row 3 of the same record is invalid" in next(e.reason for e in record.errors if e.row == 2)


def test_advice_column_adds_an_advice_event_only_when_present() -> None:
    mapping = load_mapping(LARS)
    assert [s["event_type"] for s in map_row(mapping, lars(4)).submissions] == ["ReferralSubmitted"]
    advised = map_row(mapping, lars(4, Advies="Jeugdhulp", **{"Datum advies": "20/09/2011"}))
    assert [s["event_type"] for s in advised.submissions] == ["ReferralSubmitted", "AdviceGiven"]
    assert payload(advised, 1) == {"referral_id": "LARS-2011-000004", "kind": "youth_care"}
    assert mapping.missing_columns([c for c in LARS_COLUMNS if c != "Tucht"]) == ["Tucht"]
    assert mapping.missing_columns([*LARS_COLUMNS, "Advies"]) == ["Datum advies"]


def test_batches_keep_rows_whole_retry_when_unavailable_and_report_conflicting_rows(tmp_path: Path) -> None:
    """The importer against a scripted ingest (the HTTP path is covered end to end in tests/e2e)."""
    file = write_csv(tmp_path / "x.csv", [lars_row(n, 2011) for n in range(25)])
    batches: list[list[str]] = []
    conflict = {"index": 3, "source_system": "lars", "source_ref": "referral:2011-000003"}
    replies = iter([BatchReply(503, {"detail": "broker down"}), BatchReply(409, {"conflicts": [conflict]})])

    def ingest(submissions: list[dict[str, Any]]) -> BatchReply:
        batches.append([s["source_ref"] for s in submissions])
        reply = next(replies, None)
        return reply or BatchReply(202, {"created": len(submissions), "duplicates": 0})

    summary = import_file(file, load_mapping(LARS), ingest, batch_events=10)
    assert [len(b) for b in batches] == [10, 10, 9, 10, 5]  # 503 -> same batch again; 409 -> again without row 5
    assert batches[0] == batches[1] and "referral:2011-000003" not in batches[2]
    assert (summary.imported_rows, summary.invalid_rows, summary.created) == (24, 1, 24)
    assert [(e.row, e.column) for e in summary.errors] == [(5, "Aanmeldingsnummer")]
    assert "imported before with other values" in summary.errors[0].reason


def test_batches_posted_at_once_count_every_row_once_and_report_conflicts(tmp_path: Path) -> None:
    """Up to `in_flight` batches at the ingest together: each still retried whole, conflicts reported per row."""
    file = write_csv(tmp_path / "x.csv", [lars_row(n, 2011) for n in range(95)])
    lock, busy, most = threading.Lock(), [0], [0]
    refs: list[str] = []
    unavailable = {"referral:2011-000042"}  # its batch answers 503 once

    def ingest(submissions: list[dict[str, Any]]) -> BatchReply:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.02)
        with lock:
            busy[0] -= 1
            sent = [s["source_ref"] for s in submissions]
            if unavailable & set(sent):
                unavailable.clear()
                return BatchReply(503, {"detail": "broker down"})
            conflicts = [{"index": i} for i, ref in enumerate(sent) if ref == "referral:2011-000007"]
            if conflicts:
                return BatchReply(409, {"conflicts": conflicts})
            refs.extend(sent)
        return BatchReply(202, {"created": len(submissions), "duplicates": 0})

    summary = import_file(file, load_mapping(LARS), ingest, batch_events=10, in_flight=3)
    assert most[0] == 3
    assert sorted(refs) == sorted({f"referral:2011-{n:06d}" for n in range(95)} - {"referral:2011-000007"})
    assert (summary.imported_rows, summary.invalid_rows, summary.created) == (94, 1, 94)
    assert [(e.row, e.column) for e in summary.errors] == [(9, "Aanmeldingsnummer")]
