"""The mapping of one source's export to contract submissions: a YAML file in services/ingest/mappings/.

A mapping is configuration, not code: which columns the export has (documented), which column is the row's
natural id, and for each event a row produces, how each submission field is filled (column + translation,
template, or constant). This module loads and checks a mapping; `conversion.py` applies it to rows.
"""

from __future__ import annotations

import string
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.codelists import allowed
from schemas.registry import EVENT_TYPES

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"
ParseKind = Literal["text", "integer", "decimal", "date", "datetime", "list"]


class MappingError(ValueError):
    """A mapping file that cannot be used (unknown name, invalid YAML, inconsistent configuration)."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@cache
def template_columns(template: str) -> tuple[str, ...]:
    """The column names a template such as `referral:{Aanmeldingsnummer}` refers to."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


class FieldSpec(_Strict):
    """How one submission field is filled: exactly one of `column`, `template` or `value`."""

    column: str | None = Field(None, description="The export column the value is read from.")
    template: str | None = Field(None, description="Text built from columns, e.g. `LARS-{Aanmeldingsnummer}`.")
    value: Any = Field(None, description="A constant.")
    parse: ParseKind = Field("text", description="How the cell is read when there is no `values` table.")
    values: dict[str, Any] | None = Field(None, description="Translation of the export's labels to codes.")
    separator: str = Field(";", description="Separator of a multi-select cell (`parse: list`).")
    default: Any = Field(None, description="Used when the cell is empty; without it the field is left out.")
    format: str | None = Field(None, description="strptime format of a date; the mapping's `date_format` else.")
    part: Literal["year", "month"] | None = Field(None, description="Only this part of a date (`parse: date`).")
    pseudonymised: bool = Field(
        False, description="The ingest hashes this value (a pupil id): a national register number is allowed here."
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [name for name in ("column", "template", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column, template, value (got {', '.join(given) or 'none'})")
        if self.values is not None and self.column is None:
            raise ValueError("a `values` translation needs a `column`")
        if self.part is not None and self.parse != "date":
            raise ValueError("`part` needs `parse: date`")
        return self

    @cached_property
    def source_columns(self) -> tuple[str, ...]:
        """The columns this field reads."""
        if self.column is not None:
            return (self.column,)
        return template_columns(self.template) if self.template is not None else ()

    @cached_property
    def column_label(self) -> str:
        """The columns as an error report names them."""
        return ", ".join(self.source_columns)

    @cached_property
    def lookup(self) -> dict[str, Any]:
        """The `values` table keyed by normalised label: labels match regardless of case and surrounding spaces."""
        return {str(label).strip().casefold(): code for label, code in (self.values or {}).items()}


class RowItems(_Strict):
    """For grouped exports: each row of a group becomes one item of a list field (e.g. `payload.groups`)."""

    path: str
    fields: dict[str, FieldSpec]


class EventSpec(_Strict):
    """One event type a row (or a group of rows) produces."""

    event_type: str
    when: str | None = Field(None, description="Only when this column exists and has a value on the row.")
    source_ref: str = Field(description="Template of the natural id: the same row gives the same source_ref.")
    occurred_at: FieldSpec
    actor: FieldSpec
    fields: dict[str, FieldSpec] = Field(description="Dotted submission paths, e.g. `payload.gender`.")
    each_row: RowItems | None = None

    @field_validator("event_type")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value}; the contract has {', '.join(EVENT_TYPES)}")
        return value

    @property
    def schema_version(self) -> int:
        """The contract's current version of the event: an import always writes the current shape."""
        return int(EVENT_TYPES[self.event_type].model_fields["schema_version"].default)

    @cached_property
    def record_fields(self) -> dict[str, FieldSpec]:
        """Envelope and payload fields filled once per record (dotted submission paths)."""
        source_ref = FieldSpec(template=self.source_ref)
        return {"occurred_at": self.occurred_at, "actor": self.actor, "source_ref": source_ref, **self.fields}

    def columns_used(self) -> set[str]:
        """Every column this event reads (its switch `when` included)."""
        items = list(self.each_row.fields.values()) if self.each_row else []
        specs = [*self.record_fields.values(), *items]
        return {c for spec in specs for c in spec.source_columns} | ({self.when} if self.when else set())


class Mapping(_Strict):
    """A source's export layout and how its rows become submissions."""

    name: str
    description: str
    source_system: str
    file_types: list[str] = Field(["csv", "xlsx"])
    row_id: str = Field(description="The column with the row's natural id (never the row number).")
    group_by: str | None = Field(None, description="Rows with the same value here form one record.")
    date_format: str = "%d/%m/%Y"
    columns: dict[str, str] = Field(description="Every column of the export, with what it holds.")
    events: list[EventSpec] = Field(min_length=1)

    @field_validator("source_system")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in allowed("source_system"):
            raise ValueError(f"unknown source_system {value}; allowed: {', '.join(allowed('source_system'))}")
        return value

    @model_validator(mode="after")
    def _columns_documented(self) -> Mapping:
        used = {self.row_id, *([self.group_by] if self.group_by else [])}
        for event in self.events:
            used.update(event.columns_used())
            if event.each_row and not self.group_by:
                raise ValueError(f"{event.event_type}: each_row needs group_by")
        undocumented = sorted(used - set(self.columns))
        if undocumented:
            raise ValueError(f"columns used but not documented under `columns`: {', '.join(undocumented)}")
        return self

    def missing_columns(self, header: list[str]) -> list[str]:
        """Columns the mapping needs that the file lacks; an optional event's columns only if its switch is there."""
        present = set(header)
        needed = {self.row_id, *([self.group_by] if self.group_by else [])}
        for event in self.events:
            if event.when is None or event.when in present:
                needed.update(event.columns_used())
        return sorted(needed - present)


def mapping_names() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))


@cache
def load_mapping(name: str) -> Mapping:
    """Load and check a mapping by name (`lars-individual`) or by path to a YAML file."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else MAPPINGS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MappingError(f"no mapping {name!r}; available: {', '.join(mapping_names())}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Mapping.model_validate({"name": path.stem, **data})
    except (yaml.YAMLError, ValidationError, TypeError) as err:
        raise MappingError(f"mapping {path.name} is invalid: {err}") from err
