"""Advice, round tables, trajectories (R14-R21, R46-R53) and groups (R22-R28, R54-R59) on the known history of
tests/stats_history.py, every event inserted twice. Expected figures are written by hand."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from schemas.referrals import withdrawal_reasons
from services.warehouse.statistics import engine
from tests.stats_history import NA, history, load, nonzero


@pytest.fixture(scope="module")
def db(clickhouse: Any) -> str:
    name = f"stats_{uuid.uuid4().hex[:8]}"
    load(clickhouse, name, history(), times=2)
    return name


Expected = tuple[dict[tuple[Any, ...], float], float, dict[str, float]]
# The history has no referral withdrawn as its outcome (RP6 is retracted: it counts nowhere).
NO_WITHDRAWALS = {"withdrawn": 0, **{f"withdrawn_{reason}": 0 for reason in withdrawal_reasons()}}
EXPECTED: dict[str, Expected] = {
    "R14": (
        {("youth_care",): 1},
        1,
        {
            "referrals": 5,
            "with_trajectory": 4,
            "without_started_trajectory": 3,
            "advice_only": 1,
            "round_table_no_start": 0,
            "not_started": 2,
            "not_started_before_dispatch": 0,
            "round_table_cancelled": 0,
            **NO_WITHDRAWALS,
            "no_decision_yet": 0,
            "advice_youth_care": 0,
            "reorientation": 0,
        },
    ),
    "R15": (
        {("held", NA): 1, ("cancelled", "practical"): 1},
        2,
        {
            "trajectories_to_start": 1,
            "decision_not_to_start": 0,
            "advice_youth_care": 0,
            "reorientation_alternative_learning_path": 0,
        },
    ),
    "R16": (
        {
            ("tigo", "regular"): 2,
            ("frambozenhof", "regular"): 1,
            ("groep-intro", "corona"): 1,
            ("abrusco", "corona"): 1,
        },
        5,
        {"pupils_referred": 4, "pupils_with_trajectory": 3, "pupils_combined": 1},
    ),
    "R17": (
        {
            ("tigo", "started", NA): 1,
            ("tigo", "not_started", "provider_capacity"): 1,
            ("frambozenhof", "started", NA): 1,
            ("groep-intro", "started", NA): 1,
            ("abrusco", "not_started", "too_late_in_year"): 1,
        },
        5,
        {},
    ),
    "R18": ({("over_3_months",): 1, ("one_to_three_months",): 1, ("not_registered",): 1}, 3, {}),
    "R19": ({("2",): 1, ("1",): 1, ("not_registered",): 1}, 3, {}),
    "R20": ({("frambozenhof", "corona_crisis"): 1}, 1, {"started": 3}),
    "R21": ({("back_full_time_current_school",): 1, ("continues_next_year",): 1}, 2, {}),
    "R46": (
        {("held", NA): 3, ("cancelled", "corona_crisis"): 1},
        4,
        {
            "trajectories_to_start": 2,
            "decision_not_to_start": 1,
            "advice_youth_care": 1,
            "reorientation_alternative_learning_path": 0,
        },
    ),
    "R47": (
        {
            ("abrusco", "individual", "regular"): 2,
            ("groep-intro", "group-formation", "regular"): 1,
            ("abrusco", "coach", "regular"): 1,
            ("groep-intro", "corona-support", "corona"): 1,
            ("abrusco", "corona-support", "corona"): 1,
        },
        6,
        {
            "referrals": 6,
            "with_trajectory": 4,
            "without_started_trajectory": 2,
            "advice_only": 0,
            "round_table_no_start": 1,
            "not_started": 0,
            "not_started_before_dispatch": 0,
            "round_table_cancelled": 1,
            **NO_WITHDRAWALS,
            "no_decision_yet": 0,
            "advice_youth_care": 1,
            "reorientation": 0,
        },
    ),
    "R48": ({("1",): 3, ("2",): 1}, 4, {}),
    "R49": ({("groep-intro", "started", NA): 1, ("abrusco", "not_started", "school_youth_coach"): 1}, 2, {}),
    "R50": ({}, 0, {}),  # youth coaches come from the providers' coach settings, which this history has none of
    "R51": (
        {
            ("duration", "one_to_three_months"): 1,
            ("duration", "over_3_months"): 2,
            ("duration", "not_registered"): 2,
            ("half_days", "1"): 2,
            ("half_days", "3"): 1,
            ("half_days", "2"): 2,
        },
        5,
        {"missing_duration": 2, "missing_half_days": 0},
    ),
    "R52": ({("groep-intro", "corona_crisis"): 1}, 1, {"started": 5}),
    "R53": ({("back_full_time_current_school",): 3, ("alternative_learning_path",): 1}, 4, {}),
    "R22": (
        {
            ("2019-10", "group_referrals"): 1,
            ("2019-10", "groups"): 2,
            ("2019-11", "group_referrals"): 1,
            ("2019-11", "groups"): 1,
        },
        3,
        {},
    ),
    "R23": (
        {
            ("primary_mainstream", "grade_6", NA, "class_group"): 1,
            ("primary_mainstream", "grade_5", NA, "class_group"): 1,
            ("primary_special_needs", "not_applicable", "type_7", "school_composed_group"): 1,
        },
        3,
        {},
    ),
    "R24": (
        {
            ("2019-2020", "pupils_referred"): 48,
            ("2019-2020", "pupils_in_started_groups"): 42,
            ("2019-2020", "pupils_reached"): 41,  # rule 6: g1a's 21 and g1b's 20 (started, stopped early)
            ("2019-2020", "pupils_effectively_run"): 21,  # g1a only
        },
        48,
        {},
    ),
    "R25": (
        {
            ("started", NA): 2,
            ("effectively_run", NA): 1,
            ("stopped_early", "corona_crisis"): 1,
            ("not_started", "corona_crisis"): 1,
        },
        3,
        {},
    ),
    "R26": (  # rule 5: group referrals and groups per module; the total is the group referrals (G1, G2)
        {
            ("class_action", "group_referrals"): 1,
            ("class_action", "groups"): 1,
            ("theme_workshop", "group_referrals"): 1,
            ("theme_workshop", "groups"): 1,
            ("school_composed_group", "group_referrals"): 1,
            ("school_composed_group", "groups"): 1,
        },
        2,
        {},
    ),
    "R27": ({("class_action",): 21, ("theme_workshop",): 20}, 41, {"pupils_effectively_run": 21}),  # rule 6
    "R28": ({("10_to_19",): 1}, 1, {"mean_class_hours": 12, "min_class_hours": 12, "max_class_hours": 12}),
    "R54": (
        {
            ("2019-05", "group_referrals"): 1,
            ("2019-05", "groups"): 3,
            ("2019-10", "group_referrals"): 1,
            ("2019-10", "groups"): 1,
        },
        4,
        {},
    ),
    "R55": (
        {
            ("secondary_a_stream", "grade_1", NA, NA, "class_group"): 1,
            ("secondary_a_stream", "grade_2", NA, NA, "class_group"): 1,
            ("secondary_special_needs", "not_applicable", "basic_offer", "ov3", "class_group"): 1,
            ("secondary_bso", "grade_3", NA, NA, "restorative_group"): 1,
        },
        4,
        {},
    ),
    "R56": (
        {
            ("2019-2020", "pupils_referred"): 62,
            ("2019-2020", "pupils_in_started_groups"): 59,
            ("2019-2020", "pupils_reached"): 57,
            ("2019-2020", "pupils_effectively_run"): 57,
            ("2018-2019", "pupils_referred"): 20,
            ("2018-2019", "pupils_in_started_groups"): 20,
            ("2018-2019", "pupils_reached"): 19,
            ("2018-2019", "pupils_effectively_run"): 19,
        },
        62,
        {},
    ),
    "R57": ({("not_dispatched", NA): 1, ("started", NA): 3, ("effectively_run", NA): 3}, 4, {}),
    "R58": (
        {
            ("abrusco", "theme_workshop", "referred_groups"): 2,
            ("abrusco", "theme_workshop", "started_groups"): 2,
            ("groep-intro", "class_action", "referred_groups"): 1,
            ("groep-intro", "class_action", "started_groups"): 1,
            ("", "restorative", "referred_groups"): 1,
        },
        4,
        {},
    ),
    "R59": (
        {
            ("theme_workshop", "with_class_hours"): 2,
            ("theme_workshop", "mean_class_hours"): 4.5,
            ("theme_workshop", "at_least_6_hours"): 1,
            ("class_action", "not_registered"): 1,
        },
        2,
        {},
    ),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_outcome_statistic_matches_the_hand_count(clickhouse: Any, db: str, code: str) -> None:
    result = engine.statistic(clickhouse, db, code, "2019-2020", engine.Question())
    rows, total, summary = EXPECTED[code]
    assert (nonzero(result), result.total) == (rows, total)
    assert {s.measure: s.value for s in result.summary} == summary


def test_r59_mean_of_nothing_is_null_not_zero(clickhouse: Any, db: str) -> None:
    r59 = engine.statistic(clickhouse, db, "R59", "2019-2020", engine.Question())
    means = {r.model_extra["group_module"]: r.value for r in r59.rows if r.model_extra["measure"] == "mean_class_hours"}
    assert means == {"theme_workshop": 4.5, "class_action": None}


def test_provider_and_module_labels_come_from_the_provider_facts(clickhouse: Any, db: str) -> None:
    r47 = engine.statistic(clickhouse, db, "R47", "2019-2020", engine.Question())
    labels = {(r.model_extra["provider_label_nl"], r.model_extra["module_label_nl"]) for r in r47.rows}
    assert ("Abrusco", "Coach op school") in labels and ("Groep INTRO", "group-formation") in labels
    r58 = engine.statistic(clickhouse, db, "R58", "2019-2020", engine.Question())
    assert {r.model_extra["provider_label_nl"] for r in r58.rows} == {"Abrusco", "Groep INTRO", "Nog niet doorgegeven"}
