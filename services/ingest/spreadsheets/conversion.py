"""The pure mapping engine: a row (or a group of rows) -> validated submissions, or errors naming the columns.

No I/O. Each record is validated against the real contract (`SUBMISSION_ADAPTER`); a contract error's field
path is traced back to the spreadsheet column (and, for list items, the row) that filled it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.registry import SUBMISSION_ADAPTER
from services.ingest.spreadsheets.cells import CellError, as_text, read_cell
from services.ingest.spreadsheets.compiled import compiled
from services.ingest.spreadsheets.mapping import EventSpec, FieldSpec, Mapping, template_columns
from services.ingest.spreadsheets.reader import Row

WHOLE_ROW = ""  # the column of an error that no single column explains


@dataclass(frozen=True)
class RowError:
    """Why a spreadsheet row was not imported: its 1-based row number, the column, the reason."""

    row: int
    column: str
    reason: str


@dataclass
class MappedRecord:
    """One source record (a row, or the rows of one group): its submissions if valid, else its errors."""

    rows: tuple[int, ...]
    row_id: str
    submissions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class _Draft:
    """A submission being built, with where each field came from (path -> (row, columns))."""

    body: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, tuple[int, str]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _fill(spec: FieldSpec, row: Row, mapping: Mapping) -> Any:
    """The value of one field on one row; None when the cell is empty and there is no default."""
    if spec.value is not None:
        return spec.value
    if spec.template is not None:
        parts = {}
        for column in template_columns(spec.template):
            cell = row.cells.get(column)
            if cell is None:
                raise CellError("required: this column has no value")
            parts[column] = as_text(cell)
        return spec.template.format_map(parts)
    cell = row.cells.get(spec.column) if spec.column else None
    return spec.default if cell is None else read_cell(cell, spec, mapping.date_format)


def _fill_all(draft: _Draft, specs: dict[str, FieldSpec], row: Row, mapping: Mapping, errors: list[RowError]) -> None:
    for path, spec in specs.items():
        columns = spec.column_label or WHOLE_ROW
        draft.origins[path] = (row.number, columns)
        try:
            value = _fill(spec, row, mapping)
        except CellError as err:
            errors.append(RowError(row.number, columns, str(err)))
            draft.failed.add(path)
            continue
        if value is not None:
            _put(draft.body, path, value)


def _dotted(parts: Sequence[int | str], index: Callable[[int], str]) -> str:
    return "".join(index(p) if isinstance(p, int) else f"{'.' if i else ''}{p}" for i, p in enumerate(parts))


def _location(loc: Sequence[int | str]) -> tuple[str, str]:
    """A pydantic error location without the union tag -> (exact path, path with list indexes as `[]`)."""
    parts = [p for i, p in enumerate(loc) if not (i == 0 and isinstance(p, str) and p[:1].isupper())]
    return _dotted(parts, lambda i: f"[{i}]"), _dotted(parts, lambda i: "[]")


def _origin(draft: _Draft, exact: str, generic: str, message: str) -> tuple[int, str, str] | None:
    """(row, columns, field path) that filled the failing field: the field itself, the nearest enclosing field,
    or, for a rule over a whole object (e.g. `payload`), the fields inside it that its message names (else all)."""
    for candidate in (exact, generic):
        path = candidate
        while path:
            if path in draft.origins:
                row, columns = draft.origins[path]
                return row, columns, path
            path = path.rsplit(".", 1)[0] if "." in path else ""
    inside = {path: origin for path, origin in draft.origins.items() if exact and path.startswith(f"{exact}.")}
    if not inside:
        return None
    named = [
        origin for path, origin in inside.items() if re.search(rf"\b{re.escape(path.rsplit('.', 1)[-1])}\b", message)
    ]
    inside_origins = named or list(inside.values())
    columns = ", ".join(dict.fromkeys(c for _, cols in inside_origins for c in cols.split(", ") if c))
    return min(row for row, _ in inside_origins), columns, exact


def _contract_errors(draft: _Draft, err: ValidationError, rows: tuple[int, ...]) -> list[RowError]:
    out = []
    for problem in err.errors(include_url=False):
        exact, generic = _location(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        found = _origin(draft, exact, generic, message)
        if found is not None and found[2] in draft.failed:
            continue  # already reported with the cell's own reason
        if found is None:
            reason = f"{exact or 'record'}: {message} (not filled by any column of this mapping)"
            out.append(RowError(rows[0], WHOLE_ROW, reason))
        elif problem["type"] == "missing":
            out.append(RowError(found[0], found[1], f"required: this column has no value ({exact})"))
        else:
            out.append(RowError(found[0], found[1], f"{message} ({exact})"))
    return out


def _submission(event: EventSpec, rows: Sequence[Row], mapping: Mapping, errors: list[RowError]) -> dict[str, Any]:
    first = rows[0]
    draft = _Draft()
    _fill_all(draft, event.record_fields, first, mapping, errors)
    if event.each_row is not None:
        items = []
        for index, row in enumerate(rows):
            item = _Draft()
            _fill_all(item, event.each_row.fields, row, mapping, errors)
            items.append(item.body)
            prefix = f"{event.each_row.path}[{index}]"
            draft.origins.update({f"{prefix}.{path}": origin for path, origin in item.origins.items()})
            draft.failed.update(f"{prefix}.{path}" for path in item.failed)
        _put(draft.body, event.each_row.path, items)
    body = {"event_type": event.event_type, "schema_version": event.schema_version,
            "source_system": mapping.source_system, **draft.body}  # fmt: skip
    try:
        SUBMISSION_ADAPTER.validate_python(body)
    except ValidationError as err:
        errors.extend(_contract_errors(draft, err, tuple(r.number for r in rows)))
    return body


def _disagreements(event: EventSpec, rows: Sequence[Row]) -> list[RowError]:
    """In a group, the record-level columns must say the same on every row."""
    out = []
    columns = {c for spec in event.record_fields.values() for c in spec.source_columns}
    for column in sorted(columns):
        for row in rows[1:]:
            if row.cells.get(column) != rows[0].cells.get(column):
                reason = f"differs from row {rows[0].number} of the same record (one record, one value)"
                out.append(RowError(row.number, column, reason))
    return out


def map_record(mapping: Mapping, rows: Sequence[Row]) -> MappedRecord:
    """One source record -> all its submissions, or the errors of every row (a record is all or nothing)."""
    key_column = mapping.group_by or mapping.row_id
    numbers = tuple(row.number for row in rows)
    key = rows[0].cells.get(key_column)
    if key is None:
        missing = [RowError(n, key_column, "required: the row's natural id (its source_ref)") for n in numbers]
        return MappedRecord(numbers, "", errors=missing)
    record = MappedRecord(numbers, str(key))
    for event in mapping.events:
        if event.when is not None and rows[0].cells.get(event.when) is None:
            continue
        if len(rows) > 1:
            record.errors.extend(_disagreements(event, rows))
        record.submissions.append(_submission(event, rows, mapping, record.errors))
    if record.errors:
        record.submissions = []
        # One line per cell: a column used by two fields (source_ref and referral_id) reports once.
        unique: dict[tuple[int, str], RowError] = {}
        for error in record.errors:
            unique.setdefault((error.row, error.column), error)
        record.errors = list(unique.values())
        failed = {e.row for e in record.errors}
        reason = f"not imported: row {min(failed)} of the same record is invalid"
        record.errors.extend(RowError(n, key_column, reason) for n in numbers if n not in failed)
    return record


def map_row(mapping: Mapping, row: Row) -> MappedRecord:
    """One row of an export whose every row is a record of its own. A valid row takes the compiled fast path; a
    row it cannot build or the contract refuses is mapped again by `map_record`, which names each problem."""
    fast = compiled(mapping)
    key = row.cells.get(mapping.row_id)
    if fast is not None and key is not None and (submissions := fast.submissions(row.cells)) is not None:
        try:
            for submission in submissions:
                SUBMISSION_ADAPTER.validate_python(submission)
        except ValidationError:
            pass
        else:
            return MappedRecord((row.number,), str(key), submissions)
    return map_record(mapping, [row])
