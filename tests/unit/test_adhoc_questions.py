"""Ad hoc questions are checked against the whitelist and compiled with bound values (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.warehouse.statistics.adhoc import AdhocError, AdhocQuestion, compile_sql, plan
from services.warehouse.statistics.adhoc_catalog import DIMENSIONS, MEASURES


def ask(**fields: Any) -> AdhocQuestion:
    return AdhocQuestion.model_validate({"measures": ["referrals"], "years": ["2019-2020"], **fields})


def refused(question: AdhocQuestion, audience: str = "desk") -> AdhocError:
    with pytest.raises(AdhocError) as caught:
        plan(question, audience)  # type: ignore[arg-type]
    return caught.value


def test_an_injection_in_a_dimension_name_is_an_unknown_dimension() -> None:
    err = refused(ask(dimensions=["gender; DROP TABLE events"]))
    assert err.field == "body.dimensions[0]" and "unknown dimension" in err.message
    assert err.allowed == sorted(DIMENSIONS["referrals"])


def test_unknown_measures_and_filters_name_the_field_and_the_allowed_values() -> None:
    err = refused(ask(measures=["referrals", "count(*)"]))
    assert (err.field, err.allowed) == ("body.measures[1]", sorted(MEASURES))
    err = refused(ask(filters={"1=1 OR gender": ["boy"]}))
    assert err.field == "body.filters.1=1 OR gender" and "exclude_gender" in (err.allowed or [])


def test_a_quote_in_a_filter_value_is_just_a_value_bound_as_a_parameter() -> None:
    p = plan(ask(dimensions=["gender"], filters={"gender": ["boy' OR '1'='1"], "exclude_channel": ["intake"]}), "desk")
    sql = compile_sql(p, "(SELECT * FROM referrals)", 100)
    assert "'1'='1" not in sql and "boy" not in sql and "intake" not in sql
    assert p.params == {"q0": ["intake"], "q1": ["boy' OR '1'='1"]}
    assert "channel NOT IN {q0:Array(String)}" in sql and "gender IN {q1:Array(String)}" in sql


def test_measures_of_different_sources_are_not_combined() -> None:
    err = refused(ask(measures=["referrals", "trajectories"]))
    assert err.field == "body.measures" and "referrals" in (err.allowed or []) and "trajectories" not in err.allowed


def test_per_school_figures_are_for_the_desk_only() -> None:
    assert plan(ask(dimensions=["school_id"]), "desk").dimensions == ["school_id"]
    assert "desk only" in refused(ask(dimensions=["school_id"]), "policy").message
    assert "desk only" in refused(ask(filters={"school_id": ["school-a"]}), "policy").message


def test_multi_selects_become_array_joins_and_any_match_filters() -> None:
    p = plan(ask(dimensions=["risk_behaviour"], filters={"care_service": ["ocj"]}), "desk")
    sql = compile_sql(p, "r", 10)
    assert "ARRAY JOIN if(empty(risk_behaviours), ['none'], risk_behaviours) AS m0" in sql
    assert "hasAny({q0:Array(String)}, if(empty(ambulant_care), ['none'], ambulant_care))" in sql


def test_the_row_limit_is_asked_one_row_beyond_to_detect_truncation() -> None:
    assert compile_sql(plan(ask(dimensions=["month"], limit=50), "desk"), "r", 50).endswith("LIMIT 51")
    with pytest.raises(ValidationError):
        ask(limit=1_000_000)
    with pytest.raises(ValidationError):
        ask(years=["2019-2020'; --"])
    with pytest.raises(ValidationError):
        ask(sql="SELECT 1")


def test_a_bad_cut_off_day_is_refused() -> None:
    assert refused(ask(until="31/03")).field == "body.until"
