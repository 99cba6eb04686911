"""Generated referrals as the spreadsheet exports the ingest imports (`kans import`): the LARS export, the
external-CLB form and the group-referral tool, in CSV or XLSX.

The layout is not repeated here: each export is written by reading its import mapping
(services/ingest/mappings/*.yaml) backwards. A field read from a column through a `values` table gets the first
label that translates to its code (a column feeding two fields, like Thuistaal, gets the label that gives both);
a number, text or date is written as the mapping parses it; constants are left out. Importing the file gives the
same profile back, under the source system and ids the mapping assigns.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.ingest.spreadsheets.mapping import FieldSpec, Mapping, load_mapping, template_columns

FORMATS = {  # --format -> (mapping, file type)
    "lars-csv": ("lars-individual", "csv"), "lars-xlsx": ("lars-individual", "xlsx"),
    "external-clb-csv": ("external-clb-form", "csv"), "external-clb-xlsx": ("external-clb-form", "xlsx"),
    "group-tool-csv": ("group-referral-tool", "csv"), "group-tool-xlsx": ("group-referral-tool", "xlsx"),
}  # fmt: skip
CHANNEL_OF_EXPORT = {"lars-individual": "lars", "external-clb-form": "external_clb"}
Record = dict[str, dict[str, Any]]  # event type -> submission: what one row (or group of rows) stands for


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]
    return data


def _labels(spec: FieldSpec, value: Any) -> list[str]:
    """Every label of the field's table that reads back as `value` (None: the labels that give nothing)."""
    return [str(label) for label, code in (spec.values or {}).items() if code == value]


def _list_cell(spec: FieldSpec, codes: list[str]) -> str | None:
    if not codes:
        empty = _labels(spec, None)
        return empty[0] if empty else None
    labels = [next(iter(_labels(spec, code)), None) for code in codes]
    return None if None in labels else spec.separator.join(str(label) for label in labels)


def _raw_cell(spec: FieldSpec, value: Any, mapping: Mapping) -> Any:
    fmt = spec.format or mapping.date_format
    if spec.parse == "datetime":
        return datetime.fromisoformat(value).strftime(f"{fmt} %H:%M")
    if spec.parse == "date" and spec.part is None:
        return date.fromisoformat(value).strftime(fmt)
    if spec.parse == "decimal":
        return str(value).replace(".", ",")
    return value


def _solve(column: str, wants: list[tuple[FieldSpec, Any]], mapping: Mapping) -> Any:
    """The cell of `column` that gives every field reading it its value, or None (left empty)."""
    if all(value is None or value == spec.default for spec, value in wants):
        return None
    tables = [(spec, value) for spec, value in wants if spec.values is not None]
    if tables:
        spec, value = tables[0]
        if spec.parse == "list":
            return _list_cell(spec, list(value or []))
        fits = [label for label in _labels(spec, value) if all(s.lookup.get(label.casefold()) == v
                                                                for s, v in tables[1:])]  # fmt: skip
        return fits[0] if fits else None
    parts = {spec.part: value for spec, value in wants if spec.part is not None and value is not None}
    if parts:
        spec = next(s for s, _ in wants if s.part is not None)
        return date(parts.get("year", 2000), parts.get("month", 1), 1).strftime(spec.format or mapping.date_format)
    spec, value = wants[0]
    return _raw_cell(spec, value, mapping)


def _template_cell(template: str, value: Any) -> Any:
    """The column of a one-column template (`clb:{CLB-code}`) that produced `value`, if it did."""
    prefix, _, rest = template.partition("{")
    suffix = rest.partition("}")[2]
    text = str(value)
    if text.startswith(prefix) and text.endswith(suffix):
        return text[len(prefix) : len(text) - len(suffix) or None]
    return None


def export_row(mapping: Mapping, record: Record, row_id: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cells of one export row: `row_id` is the row's natural id (and, grouped, of its group's items)."""
    wants: dict[str, list[tuple[FieldSpec, Any]]] = {}
    cells: dict[str, Any] = {}
    for event in mapping.events:
        submission = record.get(event.event_type)
        if submission is None:
            continue
        specs = [(path, spec, submission) for path, spec in event.record_fields.items()]
        if event.each_row and item is not None:
            specs += [(path, spec, item) for path, spec in event.each_row.fields.items()]
        for path, spec, source in specs:
            value = _get(source, path)
            if spec.column is not None:
                wants.setdefault(spec.column, []).append((spec, value))
                continue
            columns = template_columns(spec.template) if spec.template is not None else ()
            if len(columns) == 1 and columns[0] not in (mapping.row_id, mapping.group_by) and value is not None:
                cells.setdefault(columns[0], _template_cell(str(spec.template), value))
    for column, constraints in wants.items():
        cells[column] = _solve(column, constraints, mapping)
    return {**cells, (mapping.group_by or mapping.row_id): row_id}


def records_of(mapping: Mapping, chunk: list[dict[str, Any]]) -> Iterator[tuple[Record, str]]:
    """The records of one region-year that the export holds, with their natural ids, in the order they were made."""
    if mapping.group_by:
        for s in chunk:
            if s["event_type"] == "GroupReferralSubmitted":
                yield {s["event_type"]: s}, s["payload"]["group_referral_id"]
        return
    channel = CHANNEL_OF_EXPORT.get(mapping.name)
    records: dict[str, Record] = {}
    for s in chunk:
        rid = s["payload"].get("referral_id")
        if s["event_type"] == "ReferralSubmitted" and s["payload"]["channel"] == channel:
            records[rid] = {"ReferralSubmitted": s}
        elif rid in records and s["event_type"] in {e.event_type for e in mapping.events}:
            records[rid].setdefault(s["event_type"], s)
    yield from ((record, rid) for rid, record in records.items())


def export_rows(mapping: Mapping, chunks: Iterable[list[dict[str, Any]]]) -> Iterator[list[Any]]:
    """Header, then every row, as lists in the mapping's documented column order."""
    header = list(mapping.columns)
    yield header
    for chunk in chunks:
        for record, row_id in records_of(mapping, chunk):
            items = record[mapping.events[0].event_type]["payload"]["groups"] if mapping.group_by else [None]
            for number, item in enumerate(items, start=1):
                cells = export_row(mapping, record, row_id, item)
                if mapping.group_by:
                    cells[mapping.row_id] = item["group_id"] if item else number
                yield [cells.get(column) for column in header]


def write_export(chunks: Iterable[list[dict[str, Any]]], path: Path, export_format: str) -> int:
    """Write the export `export_format` (see FORMATS) of the generated chunks to `path`; returns the data rows."""
    mapping_name, file_type = FORMATS[export_format]
    rows = export_rows(load_mapping(mapping_name), chunks)
    count = -1
    if file_type == "csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=";")  # Belgian Excel's separator
            for count, row in enumerate(rows):  # noqa: B007 - the count is the result
                writer.writerow(["" if cell is None else cell for cell in row])
        return count
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(mapping_name)
    for count, row in enumerate(rows):  # noqa: B007
        sheet.append(row)
    workbook.save(path)
    return count
