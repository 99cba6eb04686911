"""How a report merges its statistics' GROUP BYs (services/warehouse/statistics/batch.py): which questions merge, and
how the merged rows are split back into the rows each question's own SQL returns. The merged SQL itself runs on the
embedded engine in tests/integration/test_statistics_history.py (every statistic of a report equals it alone)."""

from __future__ import annotations

import pytest

from services.warehouse.statistics.batch import Tape, merge, plan
from services.warehouse.statistics.query import Grouping

SOURCE = "(SELECT * FROM db.referral_state FINAL WHERE school_year IN {years:Array(String)})"
PARAMS = {"years": ["2019-2020"], "f_level": ["secondary"]}


def by(*dims: str, measures: tuple[tuple[str, str | None], ...] = (("count()", None),), **kw: object) -> Grouping:
    return Grouping(source=SOURCE, dims=dims, measures=measures, **kw)  # type: ignore[arg-type]


def recorded(*questions: tuple[Grouping | str, dict[str, object]]) -> Tape:
    tape = Tape()
    for what, params in questions:
        kind = "rows" if isinstance(what, str) else "grouped"
        assert tape.answer((kind, what), dict(params)) == []  # recording: no rows yet
    return tape


def test_groupings_of_one_population_become_one_query_others_stay_apart() -> None:
    a = recorded((by("gender"), PARAMS), (by("channel", "month"), PARAMS))
    b = recorded(
        (by("gender"), {**PARAMS, "f_level": ["primary"]}),  # another population: other parameters
        (by("gender", array_join="[1, 2] AS x"), PARAMS),  # another ARRAY JOIN
        (by("gender", measures=(("uniqExact(pupil_key)", None),)), PARAMS),  # an expensive measure of its own
        ("SELECT school_year, 1 FROM t GROUP BY school_year", PARAMS),  # raw SQL runs as it is
        (by(), PARAMS),  # a whole-population figure: the merged query's (school_year) set
    )
    jobs = plan([a, b])
    assert len(jobs) == 5
    first = jobs[0]
    assert [(tape is a, at) for tape, at in first.consumers] == [(True, 0), (True, 1), (False, 4)]
    assert "GROUPING SETS ((school_year, g0), (school_year, g1, g2), (school_year))" in first.sql
    assert [len(j.consumers) for j in jobs[1:]] == [1, 1, 1, 1]
    assert jobs[4].sql == "SELECT school_year, 1 FROM t GROUP BY school_year"


def test_a_population_grouped_by_more_than_64_expressions_takes_more_queries() -> None:
    tape = recorded(*[(by(f"d{i}", f"e{i}"), PARAMS) for i in range(40)])
    jobs = plan([tape])
    assert [len(job.consumers) for job in jobs] == [32, 8]
    assert [at for job in jobs for _, at in job.consumers] == list(range(40))


def test_a_largest_value_and_a_mean_merge_with_counts_a_distinct_count_does_not() -> None:
    counted = recorded((by("n"), PARAMS), (by(measures=(("max(n)", None), ("round(avg(n), 1)", None))), PARAMS),
                       (by("n", measures=(("uniqExact(school_id)", None),)), PARAMS))  # fmt: skip
    assert [len(job.consumers) for job in plan([counted])] == [2, 1]


def test_merged_rows_are_split_as_each_grouping_returns_them() -> None:
    gender = by("gender", totals=False)  # additive count: no total row of its own
    month = by("month", "gender", measures=(("count()", None), ("avg(age)", "count()")), totals=True)
    figure = by(measures=(("countIf(advised)", None),))
    sql, split = merge([gender, month, figure])
    assert "gender AS g0, month AS g1" in sql
    assert "grouping(g0, g1) AS grouping_mask" in sql
    # columns: school_year, g0 (gender), g1 (month), then (value, base) per distinct measure, the mask (bit per
    # expression not grouped by; g0 is the high bit)
    rows = [
        ("2019-2020", "f", "", 3, None, 11.5, 3, 1, None, 0b01),  # set (gender)
        ("2019-2020", "f", "2019-09", 2, None, 11.0, 2, 0, None, 0b00),  # set (month, gender)
        ("2019-2020", "m", "2019-10", 1, None, 12.0, 1, 1, None, 0b00),
        ("2019-2020", "", "", 4, None, 11.6, 4, 2, None, 0b11),  # set (school_year): the totals
    ]
    assert split(rows) == [
        [("2019-2020", "f", 3, None, 0)],
        [
            ("2019-2020", "2019-09", "f", 2, None, 11.0, 2, 0),
            ("2019-2020", "2019-10", "m", 1, None, 12.0, 1, 0),
            ("2019-2020", None, None, 4, None, 11.6, 4, 1),
        ],
        [("2019-2020", 2, None, 0)],
    ]


def test_a_replay_answers_in_order_and_refuses_another_question() -> None:
    tape = recorded((by("gender"), PARAMS), (by("month"), PARAMS))
    tape.answers = [[("2019-2020", "f", 1, None, 0)], [("2019-2020", "2019-09", 1, None, 0)]]
    tape.replay()
    assert tape.answer(("grouped", by("gender")), dict(PARAMS)) == [("2019-2020", "f", 1, None, 0)]
    with pytest.raises(RuntimeError, match="different question"):
        tape.answer(("grouped", by("grade")), dict(PARAMS))


def test_a_replay_before_the_answer_arrived_is_refused() -> None:
    tape = recorded((by("gender"), PARAMS)).replay()
    with pytest.raises(RuntimeError, match="before the query answering it ran"):
        tape.answer(("grouped", by("gender")), dict(PARAMS))
