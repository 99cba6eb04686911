"""Ad hoc questions answered by the real engine on the known history (tests/stats_history.py)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from core.auth import EVERYTHING
from services.warehouse.statistics.adhoc import AdhocError, AdhocQuestion
from services.warehouse.statistics.adhoc_answer import answer


@pytest.fixture(scope="module")
def db(clickhouse: Any) -> str:
    from tests.stats_history import history, load

    name = f"adhoc_{uuid.uuid4().hex[:8]}"
    load(clickhouse, name, history(), times=2)
    return name


def ask(client: Any, db: str, audience: str = "desk", threshold: int = 5, **fields: Any) -> Any:
    question = AdhocQuestion.model_validate({"years": ["2019-2020"], **fields})
    return answer(client, db, question, audience, threshold, EVERYTHING)  # type: ignore[arg-type]


def by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    dims = [k for k in rows[0] if not k.endswith("_label_nl") and k not in keys] if rows else []
    return {tuple(r[d] for d in dims): tuple(r[k] for k in keys) for r in rows}


def test_referrals_and_pupils_by_year_and_level(clickhouse: Any, db: str) -> None:
    found = ask(clickhouse, db, measures=["referrals", "pupils"], dimensions=["school_year", "level"],
                years=["2018-2019", "2019-2020"])  # fmt: skip
    assert by(found.rows, "referrals", "pupils") == {
        ("2018-2019", "primary"): (2, 2), ("2018-2019", "secondary"): (3, 3),
        ("2019-2020", "primary"): (5, 4), ("2019-2020", "secondary"): (6, 6),
    }  # fmt: skip
    assert found.rows[0]["level_label_nl"] == "Basisonderwijs" and not found.truncated


def test_waiting_days_median_interpolates_and_skips_carried_over_trajectories(clickhouse: Any, db: str) -> None:
    # Secondary dispatch -> start: T6 7 days, T7 8, T8 6, T9 1 (T12 was carried over): median 6.5.
    found = ask(clickhouse, db, measures=["waiting_days_median", "started_trajectories"], dimensions=["level"])
    assert by(found.rows, "waiting_days_median", "started_trajectories") == {
        ("primary",): (7, 3),
        ("secondary",): (6.5, 5),
    }


def test_multi_select_dimensions_and_filters(clickhouse: Any, db: str) -> None:
    found = ask(clickhouse, db, measures=["referrals"], dimensions=["care_service"],
                filters={"level": ["secondary"], "care_service": ["youth_court_social_service"]})  # fmt: skip
    # RS1 and RS5 had the youth court's social service; RS5 also the OCJ.
    assert by(found.rows, "referrals") == {("ocj",): (1,), ("youth_court_social_service",): (2,)}


def test_exclusions_cut_off_day_and_as_of(clickhouse: Any, db: str) -> None:
    found = ask(clickhouse, db, measures=["referrals"], dimensions=["level"], until="03-31",
                filters={"exclude_offer_type": ["corona"]})  # fmt: skip
    assert by(found.rows, "referrals") == {("primary",): (3,), ("secondary",): (4,)}
    before = ask(clickhouse, db, measures=["referrals"], dimensions=["level"], as_of=date(2019, 11, 10))
    assert by(before.rows, "referrals") == {("primary",): (3,), ("secondary",): (3,)}


def test_group_measures(clickhouse: Any, db: str) -> None:
    measures = ["groups", "pupils_reached", "pupils_effectively_run", "class_hours"]
    found = ask(clickhouse, db, measures=measures, dimensions=["level"])
    assert by(found.rows, *measures) == {  # reached: started groups, g1b (stopped early, 20 pupils) included
        ("primary",): (3, 41, 21, 14),
        ("secondary",): (4, 57, 57, 9),
    }


def test_quotes_in_values_are_just_values(clickhouse: Any, db: str) -> None:
    found = ask(clickhouse, db, measures=["referrals"], dimensions=["gender"],
                filters={"gender": ["boy' OR '1'='1", "girl"]})  # fmt: skip
    assert by(found.rows, "referrals") == {("girl",): (4,)}
    assert clickhouse.query(f"SELECT count() > 0 FROM {db}.events").result_rows == [(1,)]


def test_row_limit_and_policy_suppression(clickhouse: Any, db: str) -> None:
    limited = ask(clickhouse, db, measures=["referrals"], dimensions=["month"], limit=3)
    assert len(limited.rows) == 3 and limited.truncated
    policy = ask(clickhouse, db, "policy", 2, measures=["referrals"], dimensions=["channel"],
                 filters={"level": ["secondary"]})  # fmt: skip
    values = {r["channel"]: r["referrals"] for r in policy.rows}
    assert values == {"lars": 3, "school_direct": None, "intake": None, "kans_rereferral": None}
    with pytest.raises(AdhocError, match="desk only"):
        ask(clickhouse, db, "policy", measures=["referrals"], dimensions=["school_id"])
