"""Individual referrals' profile statistics (R01-R13, R29-R45) on the known history of tests/stats_history.py,
with every event inserted twice (duplicates must change nothing). Expected figures are written by hand."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.warehouse.statistics import engine
from tests.stats_history import NA, history, load, nonzero, pct


@pytest.fixture(scope="module")
def db(clickhouse: Any) -> str:
    name = f"stats_{uuid.uuid4().hex[:8]}"
    load(clickhouse, name, history(), times=2)
    return name


# fmt: off
EXPECTED: dict[str, tuple[dict[tuple[Any, ...], float], float]] = {
    "R01": ({("2019-09", "regular"): 1, ("2019-10", "regular"): 1, ("2020-01", "regular"): 1,
             ("2020-05", "corona"): 2}, 5),
    "R02": ({("regular", "boy"): 2, ("regular", "girl"): 1, ("corona", "boy"): 1, ("corona", "girl"): 1}, 5),
    "R03": ({("7",): 1, ("8",): 1, ("9",): 2, ("10",): 1}, 5),
    "R04": ({("primary_mainstream", "grade_1", NA): 2, ("primary_mainstream", "grade_4", NA): 1,
             ("primary_mainstream", "grade_3", NA): 1, ("primary_special_needs", "not_applicable", "type_3"): 1}, 5),
    "R05": ({("brussels",): 4, ("outside_brussels",): 1}, 5),
    "R06": ({("1030",): 2, ("1070",): 1, ("1080",): 1, (NA,): 1}, 5),
    "R07": ({("french",): 3, ("other",): 1, ("dutch",): 1}, 5),
    "R08": ({("regular", "none"): 2, ("regular", "two_years"): 1, ("corona", "one_year"): 1,
             ("corona", "unknown"): 1}, 5),
    "R09": ({("1",): 3, ("2",): 1, ("3",): 1}, 5),
    "R10": ({("b", "0-5"): 2, ("b", "16-30"): 1, ("b", "over_30"): 1, ("b", "not_registered"): 1, ("z", "0-5"): 2,
             ("z", "6-15"): 2, ("z", "not_registered"): 1}, 5),
    "R11": ({("behaviour_problems",): 2, ("truancy",): 1, ("none",): 1, ("other",): 1, ("demotivation",): 1,
             ("internalising",): 1}, 5),
    "R12": ({("2019-2020", "threatened"): 1, ("2019-2020", "none"): 2, ("2019-2020", "procedure_started"): 1,
             ("2019-2020", "excluded"): 1, ("2018-2019", "threatened"): 1, ("2018-2019", "none"): 1}, 5),
    "R13": ({("ambulant_care", "psychological_support"): 1, ("ambulant_care", "mental_health_centre"): 1,
             ("ambulant_care", "not_registered"): 1, ("ambulant_care", "none"): 2,
             ("ambulant_care", "context_support"): 1, ("residential_setting", "none"): 4,
             ("residential_setting", "foster_care"): 1, ("support_network", "yes"): 3, ("support_network", "no"): 1,
             ("support_network", "not_registered"): 1}, 5),
    "R29": ({("2019-2020", "raw"): 6, ("2019-2020", "excl_corona"): 5,
             ("2019-2020", "excl_corona_extra_part_time"): 4, ("2019-2020", "until_03_31"): 4,
             ("2019-2020", "until_03_31_excl_part_time"): 2, ("2018-2019", "raw"): 3,
             ("2018-2019", "excl_corona"): 3, ("2018-2019", "excl_corona_extra_part_time"): 3,
             ("2018-2019", "until_03_31"): 2, ("2018-2019", "until_03_31_excl_part_time"): 1}, 6),
    "R30": ({("lars",): 3, ("school_direct",): 1, ("intake",): 1, ("kans_rereferral",): 1}, 6),
    "R31": ({("2019-09", "regular"): 2, ("2019-10", "regular"): 1, ("2020-02", "regular"): 1,
             ("2020-04", "regular"): 1, ("2020-04", "corona"): 1}, 6),
    "R32": ({("all", "boy"): 4, ("all", "girl"): 2, ("without_corona", "boy"): 3, ("without_corona", "girl"): 2}, 6),
    "R33": ({("regular", "12"): 1, ("regular", "15"): 1, ("regular", "16"): 2, ("regular", "17"): 1,
             ("corona", "14"): 1}, 6),
    "R34": ({("grade_1",): 1, ("grade_3",): 1, ("grade_4",): 1, ("not_applicable",): 2}, 5),
    "R35": ({("stage_1", "secondary_a_stream"): 1, ("stage_2", "secondary_aso"): 1, ("stage_2", "secondary_bso"): 1,
             ("not_applicable", "secondary_part_time"): 2}, 5),
    "R36": ({("type_9", "ov3"): 1}, 1),
    "R37": ({("brussels", "yes"): 2, ("brussels", "no"): 2, ("outside_brussels", "no"): 1, ("unknown", "no"): 1}, 6),
    "R38": ({("brussels", "1000"): 1, ("brussels", "1070"): 1, ("brussels", "1080"): 1, ("brussels", "1082"): 1,
             ("outside_brussels", "1800"): 1, ("unknown", NA): 1}, 6),
    "R39": ({("french",): 3, ("other",): 1, ("dutch",): 1, ("unknown",): 1}, 6),
    "R40": ({("none",): 1, ("one_year",): 2, ("two_years",): 1, ("three_or_more",): 1, ("unknown",): 1}, 6),
    "R41": ({("primary", "0"): 1, ("primary", "1"): 3, ("primary", "2"): 1, ("primary", NA): 1,
             ("secondary", "1"): 1, ("secondary", "2"): 2, ("secondary", "3"): 1, ("secondary", "4"): 1,
             ("secondary", NA): 1}, 6),
    "R42": ({("b", "0-5"): 1, ("b", "6-15"): 2, ("b", "16-30"): 1, ("b", "over_30"): 1, ("b", "not_registered"): 1,
             ("z", "0-5"): 4, ("z", "not_registered"): 2, ("other", "0-5"): 4, ("other", "not_registered"): 2}, 6),
    "R43": ({("behaviour_problems",): 2, ("truancy",): 2, ("demotivation",): 1, ("other",): 1,
             ("not_registered",): 1}, 6),
    "R44": ({("school_situation", "early_leaving_risk"): 2, ("school_situation", "repeated_year"): 1,
             ("school_situation", "frequent_study_field_change"): 1, ("school_situation", "none"): 2,
             ("school_situation", "not_registered"): 1, ("discipline", "procedure_started"): 1,
             ("discipline", "none"): 3, ("discipline", "unknown"): 1, ("discipline", "threatened"): 1}, 6),
    "R45": ({("ambulant_care", "youth_court_social_service"): 2, ("ambulant_care", "ocj"): 1,
             ("ambulant_care", "not_registered"): 2, ("ambulant_care", "none"): 2,
             ("residential_setting", "none"): 4, ("residential_setting", "boarding_school"): 1,
             ("residential_setting", "unknown"): 1, ("support_network", "no"): 4,
             ("support_network", "not_registered"): 2}, 6),
}
# fmt: on


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_profile_statistic_matches_the_hand_count(clickhouse: Any, db: str, code: str) -> None:
    result = engine.statistic(clickhouse, db, code, "2019-2020", engine.Question())
    rows, total = EXPECTED[code]
    assert (nonzero(result), result.total) == (rows, total)
    for row in result.rows:
        assert all(row.model_extra[f"{d}_label_nl"] for d in result.dimensions), row


def test_percentages_follow_the_report(clickhouse: Any, db: str) -> None:
    r08 = engine.statistic(clickhouse, db, "R08", "2019-2020", engine.Question())
    assert pct(r08) == {  # over the known values (rule 4): RP4's unknown delay is beside the corona base, not in it
        ("regular", "none"): 66.7,
        ("regular", "two_years"): 33.3,
        ("corona", "one_year"): 100.0,
        ("corona", "unknown"): None,
    }
    bases = {(r.model_extra["offer_type"], r.model_extra["school_delay"]): r.pct_base for r in r08.rows if r.value}
    assert bases == {("regular", "none"): 3, ("regular", "two_years"): 3, ("corona", "one_year"): 1,
                     ("corona", "unknown"): None}  # fmt: skip
    r32 = engine.statistic(clickhouse, db, "R32", "2019-2020", engine.Question())
    assert pct(r32) == {
        ("all", "boy"): 66.7,
        ("all", "girl"): 33.3,
        ("without_corona", "boy"): 60.0,
        ("without_corona", "girl"): 40.0,
    }
    r12 = engine.statistic(clickhouse, db, "R12", "2019-2020", engine.Question())
    assert pct(r12)[("2018-2019", "threatened")] == 50.0 and pct(r12)[("2019-2020", "none")] == 40.0


def test_labels_are_dutch(clickhouse: Any, db: str) -> None:
    r02 = engine.statistic(clickhouse, db, "R02", "2019-2020", engine.Question())
    first = r02.rows[0].model_extra
    assert (first["offer_type_label_nl"], first["gender_label_nl"]) == ("Regulier aanbod", "Jongen")
    assert r02.population == "individuele aanmeldingen basisonderwijs, alle kanalen, in en buiten LARS geregistreerd"
    r06 = engine.statistic(clickhouse, db, "R06", "2019-2020", engine.Question())
    labels = {r.model_extra["residence_postcode"]: r.model_extra["residence_postcode_label_nl"] for r in r06.rows}
    assert labels == {
        "1030": "1030 Schaarbeek",
        "1070": "1070 Anderlecht",
        "1080": "1080 Sint-Jans-Molenbeek",
        None: "Onbekend",
    }
