"""The referral profile's warehouse columns derived from the model (services/warehouse/profile_columns.py): which
fields are stored, and the ClickHouse type each kind of field maps to."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, create_model

from schemas.referral_profile import ReferralProfile
from services.warehouse.profile_columns import (
    PROFILE_COLUMNS,
    PROFILE_FIELDS,
    clickhouse_type,
    column_mismatches,
    stored_columns,
)
from services.warehouse.statistics.folds import referrals_fold


def _extended(**fields: Any) -> Any:
    return create_model("ExtendedProfile", __base__=ReferralProfile, **fields)


def test_every_profile_field_but_the_free_text_is_a_column_in_the_models_order() -> None:
    model_fields = list(ReferralProfile.model_fields)
    assert "other_specification" in model_fields
    assert list(PROFILE_FIELDS) == [name for name in model_fields if name != "other_specification"]
    assert len(PROFILE_FIELDS) == 30


def test_each_kind_of_field_has_its_clickhouse_type() -> None:
    assert PROFILE_COLUMNS["level"] == "LowCardinality(String)"  # a code, required
    assert PROFILE_COLUMNS["bubao_type"] == "LowCardinality(Nullable(String))"  # a code or null
    assert PROFILE_COLUMNS["referrer_id"] == "String"  # an identifier: many distinct values
    assert PROFILE_COLUMNS["school_id"] == "Nullable(String)"
    assert PROFILE_COLUMNS["residence_postcode"] == "LowCardinality(Nullable(String))"
    assert PROFILE_COLUMNS["birth_year"] == "Nullable(UInt16)"  # required, but an amendment's row may lack it
    assert PROFILE_COLUMNS["birth_month"] == "Nullable(UInt8)"  # at most 12
    assert PROFILE_COLUMNS["absence_b_half_days"] == "Nullable(UInt16)"  # at most 400
    assert PROFILE_COLUMNS["risk_behaviours"] == "Array(LowCardinality(String))"  # null stored as ['not_registered']
    assert PROFILE_COLUMNS["support_network"] == "Nullable(UInt8)"


def test_an_integers_bounds_choose_its_width_and_a_negative_one_is_refused() -> None:
    assert clickhouse_type("n", {"type": "integer", "minimum": 0, "maximum": 255}) == "Nullable(UInt8)"
    assert clickhouse_type("n", {"type": "integer", "minimum": 0, "maximum": 256}) == "Nullable(UInt16)"
    assert clickhouse_type("n", {"type": "integer", "minimum": 0, "maximum": 70_000}) == "Nullable(UInt32)"
    with pytest.raises(ValueError, match="negative"):
        clickhouse_type("n", {"type": "integer", "minimum": -1, "maximum": 5})


def test_a_field_of_a_kind_without_a_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="score: no ClickHouse type"):
        stored_columns(_extended(score=(float | None, None)))


def test_a_field_added_to_the_model_without_its_column_is_a_mismatch() -> None:
    table = dict(PROFILE_COLUMNS)
    assert column_mismatches(table) == []
    extended = _extended(mentor_id=(str | None, Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$")))
    assert column_mismatches(table, extended) == ["no column mentor_id Nullable(String)"]


def test_a_column_typed_otherwise_is_a_mismatch() -> None:
    table = {**PROFILE_COLUMNS, "birth_month": "Nullable(UInt16)"}
    del table["gender"]
    assert column_mismatches(table) == [
        "no column gender LowCardinality(String)",
        "column birth_month is Nullable(UInt16), the model wants Nullable(UInt8)",
    ]


def test_the_referral_fold_carries_and_patches_every_stored_field() -> None:
    sql = referrals_fold("db")
    for name in PROFILE_FIELDS:
        assert f"if(a.set_{name}, a.new_{name}, s.{name}) AS {name}" in sql
    assert "other_specification" not in sql
