"""A mapping compiled once into one reader per field: the fast path of `conversion.py` for valid rows.

Reading a field through its `FieldSpec` on every row (which source, which parse, which path) cost more than the
cells themselves. Compiled, each field is one function of the row's cells, and the cells an export repeats
(codes, dates, numbers, school ids) are read once per distinct value (a bounded cache per field). The fast path
does not track where each value came from: a record it cannot build is built again by the slow path, which names
the row, the column and the reason, so the error report is the same whichever path found the problem.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.ingest.spreadsheets.cells import CellError, as_text, read_cell
from services.ingest.spreadsheets.mapping import EventSpec, FieldSpec, Mapping
from services.ingest.spreadsheets.reader import CellValue

# Distinct values remembered per field: a code list or a school year's dates fit; a unique id only churns it.
CACHED_VALUES = 4096

Cells = dict[str, CellValue]
Texts = dict[str, str]  # the row's cells already read as text (a column used by several templates is read once)
FieldReader = Callable[[Cells, Texts], Any]


class _Empty(Exception):
    """A template column without a value: the slow path reports it (`required`)."""


_cached_text = lru_cache(maxsize=CACHED_VALUES, typed=True)(as_text)


def _text(cells: Cells, texts: Texts, column: str) -> str:
    text = texts.get(column)
    if text is None:
        cell = cells.get(column)
        if cell is None:
            raise _Empty(column)
        text = texts[column] = _cached_text(cell)
    return text


def _template_reader(template: str) -> FieldReader:
    pieces = list(string.Formatter().parse(template))
    if any(spec or conversion for _, _, spec, conversion in pieces):  # `{x:>5}`, `{x!r}`: as str.format does it
        names = [name for _, name, _, _ in pieces if name]
        return lambda cells, texts: template.format_map({name: _text(cells, texts, name) for name in names})
    if len(pieces) == 1 and pieces[0][1]:  # "{Column}" or "prefix:{Column}"
        prefix, column = pieces[0][0], pieces[0][1]
        return lambda cells, texts: prefix + _text(cells, texts, column)
    parts = [(literal, name or "") for literal, name, _, _ in pieces]

    def fill(cells: Cells, texts: Texts) -> str:
        return "".join(literal + (_text(cells, texts, name) if name else "") for literal, name in parts)

    return fill


def _column_reader(spec: FieldSpec, date_format: str) -> FieldReader:
    column, default = spec.column, spec.default
    if spec.parse == "text" and spec.values is None and spec.pseudonymised:
        # A pupil id: unique per row (a cache would only churn) and not checked for personal data (it is hashed).
        def pseudonymised(cells: Cells, texts: Texts) -> Any:
            cell = cells.get(column)  # type: ignore[arg-type]
            return default if cell is None else as_text(cell, True)

        return pseudonymised

    cached = lru_cache(maxsize=CACHED_VALUES, typed=True)(lambda cell: read_cell(cell, spec, date_format))
    copy = spec.parse == "list"  # a cached list must not be shared by two submissions

    def read(cells: Cells, texts: Texts) -> Any:
        cell = cells.get(column)  # type: ignore[arg-type]
        if cell is None:
            return default
        value = cached(cell)
        return list(value) if copy else value

    return read


def field_reader(spec: FieldSpec, date_format: str) -> FieldReader:
    """One field's value on a row (None: left out), or CellError/_Empty when the slow path must say why."""
    if spec.value is not None:
        constant = spec.value
        return lambda cells, texts: constant
    if spec.template is not None:
        return _template_reader(spec.template)
    if spec.column is None:
        default = spec.default
        return lambda cells, texts: default
    return _column_reader(spec, date_format)


@dataclass(frozen=True)
class CompiledEvent:
    """One event of a mapping: its constant head and, per field, the path and the reader."""

    spec: EventSpec
    head: dict[str, Any]
    fields: tuple[tuple[tuple[str, ...], str, FieldReader], ...]  # (parent path, leaf, reader)

    def build(self, cells: Cells, texts: Texts) -> dict[str, Any]:
        """The submission of a one-row record; raises CellError/_Empty when a cell cannot be read. As the slow path,
        an object (`payload`) is made when its first field has a value."""
        body = dict(self.head)
        objects: dict[tuple[str, ...], dict[str, Any]] = {(): body}
        for parent, leaf, reader in self.fields:
            value = reader(cells, texts)
            if value is None:
                continue
            target = objects.get(parent)
            if target is None:
                target = body
                for part in parent:
                    target = target.setdefault(part, {})
                objects[parent] = target
            target[leaf] = value
        return body


@dataclass(frozen=True)
class CompiledMapping:
    mapping: Mapping
    events: tuple[CompiledEvent, ...]

    def submissions(self, cells: Cells) -> list[dict[str, Any]] | None:
        """The submissions of a one-row record before the contract is checked; None when a cell cannot be read
        (the slow path then names it)."""
        texts: Texts = {}
        out = []
        try:
            for event in self.events:
                if event.spec.when is not None and cells.get(event.spec.when) is None:
                    continue
                out.append(event.build(cells, texts))
        except (CellError, _Empty):
            return None
        return out


def _compile_event(mapping: Mapping, event: EventSpec) -> CompiledEvent:
    head = {"event_type": event.event_type, "schema_version": event.schema_version,
            "source_system": mapping.source_system}  # fmt: skip
    fields = tuple((tuple(path.split(".")[:-1]), path.rsplit(".", 1)[-1], field_reader(spec, mapping.date_format))
                   for path, spec in event.record_fields.items())  # fmt: skip
    return CompiledEvent(event, head, fields)


_COMPILED: dict[int, CompiledMapping] = {}


def compiled(mapping: Mapping) -> CompiledMapping | None:
    """The compiled form of a mapping whose records are single rows (None for grouped exports: the slow path)."""
    if mapping.group_by is not None or any(event.each_row is not None for event in mapping.events):
        return None
    found = _COMPILED.get(id(mapping))  # the entry holds its mapping: the id is not reused while it is here
    if found is None:
        found = _COMPILED[id(mapping)] = CompiledMapping(mapping, tuple(_compile_event(mapping, e)
                                                                        for e in mapping.events))  # fmt: skip
    return found
