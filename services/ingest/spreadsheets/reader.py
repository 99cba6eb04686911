"""Read the rows of a CSV or XLSX export as dicts keyed by header, numbered as the spreadsheet numbers them.

Both readers stream: a 100,000-row file is never held in memory. Row 1 is the header; the first data row is
row 2, whatever empty rows follow (they keep their number so that an error report points at the right line).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.ingest.spreadsheets.guards import (
    MAX_CELL_CHARS,
    SpreadsheetError,
    check_cell,
    check_xlsx_archive,
    csv_encoding,
)

CellValue = str | int | float | bool | date | datetime | None
CSV_DELIMITERS = ";,\t"
SNIFF_BYTES = 64 * 1024
CSV_FIELD_LIMIT = 1 << 20
CSV_SUFFIXES = {".csv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


@dataclass(frozen=True)
class Row:
    """One data row: its 1-based spreadsheet row number and its cells by (stripped) header."""

    number: int
    cells: dict[str, CellValue]


def _clean(value: Any) -> CellValue:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value  # type: ignore[no-any-return]


def _header(cells: tuple[Any, ...] | list[Any]) -> list[str]:
    header = [str(c).strip() if c is not None else "" for c in cells]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise SpreadsheetError("the first row must hold the column headers")
    named = [h for h in header if h]
    duplicates = sorted({h for h in named if named.count(h) > 1})
    if duplicates:
        raise SpreadsheetError(f"duplicate column headers: {', '.join(duplicates)}")
    return header


def _rows(header: list[str], records: Iterator[tuple[Any, ...] | list[Any]]) -> Iterator[Row]:
    number = 1
    try:
        for number, record in enumerate(records, start=2):
            cells = {name: _clean(value) for name, value in zip(header, record, strict=False) if name}
            for name, value in cells.items():
                check_cell(number, name, value)
            if any(v is not None for v in cells.values()):
                yield Row(number, cells)
    except csv.Error as err:  # a field over csv's own limit (128 KiB), a NUL ...: not an export we can read
        raise SpreadsheetError(f"row {number + 1}: not readable as CSV ({err})", "not_csv", number + 1) from err


def _csv_rows(header: list[str], records: Iterator[list[str]]) -> Iterator[Row]:
    """`_rows` for CSV, whose cells are all text: one pass per row instead of one call per cell."""
    number = 1
    try:
        for number, record in enumerate(records, start=2):
            stripped = [value.strip() for value in record]
            cells: dict[str, CellValue] = {name: value or None for name, value in zip(header, stripped, strict=False)
                                           if name}  # fmt: skip
            if stripped and max(map(len, stripped)) > MAX_CELL_CHARS:
                for name, value in cells.items():
                    check_cell(number, name, value)
            if any(stripped) and any(v is not None for v in cells.values()):
                yield Row(number, cells)
    except csv.Error as err:
        raise SpreadsheetError(f"row {number + 1}: not readable as CSV ({err})", "not_csv", number + 1) from err


def _csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """Belgian Excel writes `;`-separated CSV (the comma is the decimal sign); others write `,`."""
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=CSV_DELIMITERS)
    except csv.Error:
        return csv.excel


@dataclass(frozen=True)
class Sheet:
    """An open export: its column headers and a stream of its data rows."""

    header: list[str]
    rows: Iterator[Row]


@contextmanager
def _open_csv(path: Path) -> Iterator[Sheet]:
    # csv's own cap (128 KiB a field, process-wide) only ever raised: a long cell is read, then refused naming its
    # row and column (check_cell); beyond this cap the row is refused without its column.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with path.open(encoding=csv_encoding(path), newline="") as text:
        dialect = _csv_dialect(text.read(SNIFF_BYTES))
        text.seek(0)
        records = csv.reader(text, dialect)
        try:
            header = _header(next(records, []))
        except csv.Error as err:
            raise SpreadsheetError(f"row 1: not readable as CSV ({err})", "not_csv", 1) from err
        yield Sheet([h for h in header if h], _csv_rows(header, records))


@contextmanager
def _open_xlsx(path: Path) -> Iterator[Sheet]:
    from openpyxl import load_workbook

    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged or non-XLSX file
        raise SpreadsheetError(f"not a readable XLSX file: {err}") from err
    try:
        records = workbook.worksheets[0].iter_rows(values_only=True)
        header = _header(next(records, ()))
        for name in header:
            check_cell(1, name, name)
        yield Sheet([h for h in header if h], _rows(header, records))
    finally:
        workbook.close()


def open_sheet(path: Path) -> AbstractContextManager[Sheet]:
    """Open a CSV (delimiter and encoding detected) or the first worksheet of an XLSX, chosen by extension."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _open_csv(path)
    if suffix in XLSX_SUFFIXES:
        return _open_xlsx(path)
    raise SpreadsheetError(f"unsupported file type {suffix or '(none)'}: use .csv or .xlsx")


def estimate_rows(path: Path) -> int | None:
    """Data rows in the file, for a progress bar: lines of a CSV, the declared dimension of an XLSX sheet."""
    if path.suffix.lower() in XLSX_SUFFIXES:
        from openpyxl import load_workbook

        check_xlsx_archive(path)
        workbook = load_workbook(path, read_only=True)
        try:
            max_row = workbook.worksheets[0].max_row
            return max_row - 1 if max_row else None
        finally:
            workbook.close()
    with path.open("rb") as raw:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b"")) - 1)
