"""As-of, corrections, retractions, duplicates, filters, suppression and comparisons on the known history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.warehouse.statistics import engine
from services.warehouse.statistics.comparison import ExclusionColumn
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.registry import STATISTICS
from tests.stats_history import NA, history, load, nonzero

YEAR = "2019-2020"


@pytest.fixture(scope="module")
def once(clickhouse: Any) -> str:
    name = f"stats_{uuid.uuid4().hex[:8]}"
    load(clickhouse, name, history(), times=1)
    return name


@pytest.fixture(scope="module")
def twice(clickhouse: Any) -> str:
    name = f"stats_{uuid.uuid4().hex[:8]}"
    load(clickhouse, name, history(), times=2)
    return name


def stat(client: Any, db: str, code: str, **question: Any) -> Any:
    return engine.statistic(client, db, code, YEAR, engine.Question(**question))


def test_duplicate_rows_are_stored_but_change_no_statistic(clickhouse: Any, once: str, twice: str) -> None:
    raw = clickhouse.query(f"SELECT count() FROM {twice}.referral_log").result_rows[0][0]
    single = clickhouse.query(f"SELECT count() FROM {once}.referral_log").result_rows[0][0]
    assert raw == 2 * single  # the duplicates really are there (no merge ran)
    for code in STATISTICS:
        a, b = stat(clickhouse, once, code), stat(clickhouse, twice, code)
        assert a.model_dump(exclude={"elapsed_ms"}) == b.model_dump(exclude={"elapsed_ms"}), code


def test_as_of_gives_what_was_known_then(clickhouse: Any, twice: str) -> None:
    # 10 November 2019: RP6 was referred (4 Nov) and not yet retracted (20 Nov); RP3-RP5 were not referred yet.
    before = stat(clickhouse, twice, "R01", as_of=date(2019, 11, 10))
    assert (nonzero(before), before.total) == (
        {("2019-09", "regular"): 1, ("2019-10", "regular"): 1, ("2019-11", "regular"): 1},
        3,
    )
    assert before.as_of == date(2019, 11, 10)
    now = stat(clickhouse, twice, "R01")
    assert (now.total, nonzero(now).get(("2019-11", "regular"))) == (5, None)


def test_as_of_before_a_correction_shows_the_old_values(clickhouse: Any, twice: str) -> None:
    # RP2's postcode 1600 and one year of delay were corrected on 2 December 2019 (to 1070, two years).
    assert nonzero(stat(clickhouse, twice, "R06", as_of=date(2019, 11, 30))) == {("1030",): 1, ("1600",): 1}
    assert nonzero(stat(clickhouse, twice, "R06", as_of=date(2019, 12, 2)))[("1070",)] == 1
    old = nonzero(stat(clickhouse, twice, "R08", as_of=date(2019, 11, 30)))
    assert old == {("regular", "none"): 1, ("regular", "one_year"): 1}
    # The amendment of RP1 changed only its risk behaviours: its other fields stay as submitted.
    assert nonzero(stat(clickhouse, twice, "R11", as_of=date(2020, 2, 2)))[("behaviour_problems",)] == 2
    assert ("truancy",) not in nonzero(stat(clickhouse, twice, "R11", as_of=date(2020, 2, 2)))
    assert nonzero(stat(clickhouse, twice, "R07"))[("french",)] == 3


def test_as_of_uses_recording_time_not_occurrence(clickhouse: Any, twice: str) -> None:
    # RS5 was referred on 3 February 2020 but only recorded on 15 September 2020.
    assert nonzero(stat(clickhouse, twice, "R30", as_of=date(2020, 8, 31)))[("lars",)] == 2
    assert nonzero(stat(clickhouse, twice, "R30", as_of=date(2020, 9, 15)))[("lars",)] == 3


def test_retracted_registration_drops_out_with_everything_it_had(clickhouse: Any, twice: str) -> None:
    assert stat(clickhouse, twice, "R01", as_of=date(2019, 11, 19)).total == 3
    assert stat(clickhouse, twice, "R01", as_of=date(2019, 11, 20)).total == 2


def test_common_filters(clickhouse: Any, twice: str) -> None:
    lars_only = Filters(exclude_channel=("external_clb", "intake"))
    r02 = stat(clickhouse, twice, "R02", filters=lars_only)
    assert (nonzero(r02), r02.total) == ({("regular", "boy"): 2, ("corona", "boy"): 1, ("corona", "girl"): 1}, 4)
    assert r02.population == ("individuele aanmeldingen basisonderwijs, zonder CLB buiten Brussel en Intake, "
                             "in en buiten LARS geregistreerd")
    assert stat(clickhouse, twice, "R31", filters=Filters(until="03-31")).total == 4
    assert stat(clickhouse, twice, "R31", filters=Filters(offer_type=("corona",))).total == 1
    assert stat(clickhouse, twice, "R01", filters=Filters(level=("secondary",))).total == 6  # a level overrides
    by_provider = stat(clickhouse, twice, "R30", filters=Filters(provider=("groep-intro",)))
    assert nonzero(by_provider) == {("lars",): 1, ("school_direct",): 1}  # RS1 (T7) and RS3 (T9)
    assert nonzero(stat(clickhouse, twice, "R17", filters=Filters(provider=("tigo",)))) == {
        ("tigo", "started", NA): 1,
        ("tigo", "not_started", "provider_capacity"): 1,
    }
    assert stat(clickhouse, twice, "R57", filters=Filters(provider=("abrusco",))).total == 2


def test_policy_audience_suppresses_small_cells_and_their_complement(clickhouse: Any, twice: str) -> None:
    policy = engine.Audience("policy", threshold=2)
    r53 = stat(clickhouse, twice, "R53", audience=policy)
    hidden = {r.model_extra["perspective"] for r in r53.rows if r.suppressed}
    # alternative_learning_path (1) is below 2; back_full_time (3) would give it away from the total (4).
    assert hidden == {"alternative_learning_path", "back_full_time_current_school"}
    assert all(r.value is None and r.pct is None for r in r53.rows if r.suppressed)
    assert (r53.total, r53.suppressed_cells) == (4, 2)
    desk = stat(clickhouse, twice, "R53")
    assert not any(r.suppressed for r in desk.rows) and desk.suppressed_cells == 0
    default_policy = stat(clickhouse, twice, "R02", audience=engine.Audience("policy"))
    assert [r.value for r in default_policy.rows if r.value] == []  # every non-zero cell is below 5
    assert default_policy.total == 5


def test_compare_years_side_by_side(clickhouse: Any, twice: str) -> None:
    compared = engine.compare(clickhouse, twice, "R02", "2018-2019", "2019-2020", engine.Question())
    table = {(r.model_extra["offer_type"], r.model_extra["gender"]): r.values for r in compared.table}
    assert table[("regular", "boy")] == {"2018-2019": 1, "2019-2020": 2}
    assert table[("regular", "girl")] == {"2018-2019": 1, "2019-2020": 1}
    assert table[("corona", "girl")] == {"2018-2019": 0, "2019-2020": 1}
    assert compared.totals == {"2018-2019": 2, "2019-2020": 5}
    assert [r.school_year for r in compared.results] == ["2018-2019", "2019-2020"]


def test_comparison_with_exclusions_defaults_to_t5_and_takes_other_columns(clickhouse: Any, twice: str) -> None:
    t5 = engine.comparison_with_exclusions(
        clickhouse, twice, "2018-2019", "2019-2020", "secondary", None, engine.Question()
    )
    assert {r.column: r.values for r in t5.rows} == {
        "raw": {"2018-2019": 3, "2019-2020": 6},
        "excl_corona": {"2018-2019": 3, "2019-2020": 5},
        "excl_corona_extra_part_time": {"2018-2019": 3, "2019-2020": 4},
        "until_03_31": {"2018-2019": 2, "2019-2020": 4},
        "until_03_31_excl_part_time": {"2018-2019": 1, "2019-2020": 2},
    }
    own = (
        ExclusionColumn(
            code="bso_until_april",
            label_nl="Zonder BSO tot 30/04",
            exclude_education_form=("secondary_bso",),
            until="04-30",
        ),
    )
    mine = engine.comparison_with_exclusions(
        clickhouse, twice, "2018-2019", "2019-2020", "secondary", own, engine.Question()
    )
    assert mine.rows[0].values == {"2018-2019": 2, "2019-2020": 5}  # RQ5 (BSO, April); RS3 (BSO)


@pytest.mark.parametrize(
    "question",
    [
        engine.Question(),
        engine.Question(audience=engine.Audience("policy", 2)),
        engine.Question(filters=Filters(exclude_channel=("external_clb",), until="03-31")),
        engine.Question(filters=Filters(level=("secondary",), offer_type=("regular",))),
        engine.Question(as_of=date(2020, 1, 15)),
    ],
    ids=["now", "policy", "filtered", "one_level", "as_of"],
)
def test_whole_report_of_a_year_has_every_statistic_and_equals_the_single_ones(
    clickhouse: Any, twice: str, question: engine.Question
) -> None:
    """The report merges the statistics' GROUP BYs into fewer queries (batch.py): every statistic still equals the
    one computed on its own, for any question."""
    report = engine.report(clickhouse, twice, YEAR, question)
    found = {s.statistic: s for section in report.sections for s in section.statistics}
    assert sorted(found) == sorted(STATISTICS)
    for code in STATISTICS:
        assert found[code] == engine.statistic(clickhouse, twice, code, YEAR, question), code
    assert sum(len(s.rows) for s in found.values()) > 100
    leftovers = clickhouse.query(f"SHOW TABLES FROM {twice} LIKE '_snapshot%'").result_rows
    assert leftovers == []
