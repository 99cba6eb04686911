"""The referral profile's columns in the warehouse, derived from the contract's model (`ReferralProfile`): which
fields are columns of the referral fact log (`referral_log`, migration 0002) and of the current state
(`referral_state`, 0007), and each one's ClickHouse type, read from the field's JSON Schema.

The migrations that created those tables stay as they were applied; tests/integration/test_migrations.py compares
their columns with these, so a field added to the model fails that test until a new migration adds its column (to
both tables, and to the view that fills the log: the folds pick it up from `PROFILE_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.envelope import Identifier
from schemas.referral_profile import ReferralProfile

# Free text stays in the event's payload: never a column, so never a statistic.
NOT_STORED = frozenset({"other_specification"})
_IDENTIFIER_PATTERN = TypeAdapter(Identifier).json_schema()["pattern"]
_NULL = {"type": "null"}


def _unsigned(field: str, schema: Mapping[str, Any]) -> str:
    if schema.get("minimum", -1) < 0:
        raise ValueError(f"{field}: no ClickHouse type for an integer that may be negative")
    top = schema.get("maximum", 2**64 - 1)
    return next(f"UInt{bits}" for bits in (8, 16, 32, 64) if top < 2**bits)


def clickhouse_type(field: str, schema: Mapping[str, Any]) -> str:
    """The column type of a profile field, from its JSON Schema `schema`. Strings are low-cardinality (codes,
    postcodes, language codes) but for identifiers; a multi-select stores "not registered" as ['not_registered'],
    never null; numbers and yes/no are nullable even where the model requires them: an amendment's row that does
    not carry one stores null, where a 0 would count."""
    options = schema.get("anyOf", [schema])
    nullable = _NULL in options
    values = [option for option in options if option != _NULL]
    kind = values[0].get("type") if len(values) == 1 else None
    if kind == "array":
        return "Array(LowCardinality(String))"
    if kind == "string":
        text = "Nullable(String)" if nullable else "String"
        return text if values[0].get("pattern") == _IDENTIFIER_PATTERN else f"LowCardinality({text})"
    if kind == "integer":
        return f"Nullable({_unsigned(field, values[0])})"
    if kind == "boolean":
        return "Nullable(UInt8)"
    raise ValueError(f"{field}: no ClickHouse type for {schema}; extend services/warehouse/profile_columns.py")


def stored_columns(model: type[BaseModel] = ReferralProfile) -> dict[str, str]:
    """{field: ClickHouse type} of the model's stored fields, in the model's order."""
    properties = model.model_json_schema()["properties"]
    return {name: clickhouse_type(name, properties[name]) for name in model.model_fields if name not in NOT_STORED}


def column_mismatches(table: Mapping[str, str], model: type[BaseModel] = ReferralProfile) -> list[str]:
    """What a table's columns ({name: type}, as `system.columns` gives them) lack of the model's profile, or type
    otherwise; empty when every stored field has its column."""
    found = []
    for name, wanted in stored_columns(model).items():
        if name not in table:
            found.append(f"no column {name} {wanted}")
        elif table[name] != wanted:
            found.append(f"column {name} is {table[name]}, the model wants {wanted}")
    return found


PROFILE_COLUMNS = stored_columns()
# The profile fields a submission sets and an amendment that carries them replaces (statistics/folds.py).
PROFILE_FIELDS = tuple(PROFILE_COLUMNS)
