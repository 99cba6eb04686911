"""The statistics' definitions and the shaping of cells into rows (pure)."""

from __future__ import annotations

import pytest

from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.labels import LabelContext, dimension_label, domain
from services.warehouse.statistics.model import Cell, Cells, Section, StatisticDef
from services.warehouse.statistics.registry import REPORT_STATISTICS, STATISTICS
from services.warehouse.statistics.shaping import shape

SUPPLEMENTS = ["R05a", "R22a", "R26a", "R30a", "R37a", "R44a", "R46a", "R54a", "R55a", "R59a"]


def test_every_report_statistic_is_defined_once_with_its_section_and_unit() -> None:
    assert list(REPORT_STATISTICS) == [f"R{n:02d}" for n in range(1, 60)]
    sections = {code: d.section for code, d in STATISTICS.items()}
    assert {sections[c] for c in ("R01", "R13", "R21")} == {Section.primary_individual}
    assert {sections[c] for c in ("R22", "R28")} == {Section.primary_groups}
    assert {sections[c] for c in ("R29", "R45", "R53")} == {Section.secondary_individual}
    assert {sections[c] for c in ("R54", "R59")} == {Section.secondary_groups}
    for definition in STATISTICS.values():
        assert (
            definition.title_nl and definition.unit and definition.dimensions and "{level}" in definition.population_nl
        )


@pytest.mark.parametrize("code", sorted(STATISTICS))
def test_every_code_of_a_filled_dimension_has_a_dutch_label(code: str) -> None:
    definition = STATISTICS[code]
    ctx = LabelContext(own=definition.labels)
    for dim in definition.dimensions:
        for value in domain(dim, "2019-2020", definition.labels) or []:
            text = dimension_label(dim, value, {}, ctx)
            assert text and (text != value or dim == "school_year"), (dim, value)


def test_the_figures_the_report_gives_in_its_text_follow_their_statistic_and_per_school_ones_are_the_desks() -> None:
    """R22a sorts right after R22, in R22's section (the report's 1.2.1.2 "Scholen" follows 1.2.1.1); only the
    distributions over schools are desk-only."""
    assert [code for code in STATISTICS if code not in REPORT_STATISTICS] == SUPPLEMENTS
    codes = list(STATISTICS)
    for code in SUPPLEMENTS:
        assert codes.index(code) == codes.index(code[:-1]) + 1
        assert STATISTICS[code].section == STATISTICS[code[:-1]].section and STATISTICS[code].report_note_nl
    assert [c for c, d in STATISTICS.items() if d.desk_only] == ["R05a", "R22a", "R37a", "R54a"]


def test_a_desk_only_statistic_is_withheld_from_the_policy_audience() -> None:
    """Whatever the cells, the policy view of a per-school statistic has no row, no total and no figure."""
    definition = STATISTICS["R22a"]
    cells = Cells(cells=[Cell("2019-2020", ("4",), 1), Cell("2019-2020", ("1",), 7)],
                  dimensions=("referrals_per_school",), totals={"2019-2020": 8},
                  summary={"2019-2020": [("max_referrals_per_school", 4)]})  # fmt: skip
    desk = shape(definition, cells, "2019-2020", filters=Filters(), as_of=None, audience="desk", threshold=5,
                 labels=LabelContext())  # fmt: skip
    assert ([r.value for r in desk.rows], desk.total) == ([7, 1], 8)
    assert desk.rows[1].model_extra["referrals_per_school_label_nl"] == "4 aanmeldingen"
    policy = shape(definition, cells, "2019-2020", filters=Filters(), as_of=None, audience="policy", threshold=5,
                   labels=LabelContext())  # fmt: skip
    assert (policy.rows, policy.total, [s.value for s in policy.summary]) == ([], None, [None, None])
    assert policy.suppressed_cells == 4 and policy.note_nl.startswith("Cijfers per school zijn enkel voor het KANS")


def _definition(**extra: object) -> StatisticDef:
    values: dict[str, object] = {
        "code": "RX",
        "title_nl": "Test",
        "section": Section.secondary_individual,
        "unit": "referrals",
        "dimensions": ("offer_type", "gender"),
        "population_nl": "aanmeldingen {level}",
        "compute": lambda q: Cells(),
        **extra,
    }
    return StatisticDef(**values)  # type: ignore[arg-type]


def _cells() -> Cells:
    return Cells(
        cells=[
            Cell("2019-2020", ("girl", "regular"), 1),
            Cell("2019-2020", ("boy", "regular"), 3),
            Cell("2019-2020", ("boy", "corona"), 4),
            Cell("2018-2019", ("boy", "regular"), 9),
        ],
        dimensions=("gender", "offer_type"),
        totals={"2019-2020": 8, "2018-2019": 9},
    )


def test_shaping_orders_by_code_list_labels_in_dutch_and_computes_percentages_within_a_dimension() -> None:
    result = shape(
        _definition(pct_within=("offer_type",)),
        _cells(),
        "2019-2020",
        filters=Filters(),
        as_of=None,
        audience="desk",
        threshold=5,
        labels=LabelContext(),
    )
    rows = [(r.model_extra["offer_type"], r.model_extra["gender"], r.value, r.pct) for r in result.rows]
    assert rows == [("regular", "boy", 3, 75.0), ("regular", "girl", 1, 25.0), ("corona", "boy", 4, 100.0)]
    assert result.rows[0].model_extra["gender_label_nl"] == "Jongen" and result.total == 8
    assert result.population == "aanmeldingen secundair onderwijs, alle kanalen, in en buiten LARS geregistreerd"


def test_shaping_fills_zero_rows_from_the_code_lists() -> None:
    result = shape(
        _definition(fill=True),
        _cells(),
        "2019-2020",
        filters=Filters(),
        as_of=None,
        audience="desk",
        threshold=5,
        labels=LabelContext(),
    )
    assert len(result.rows) == 2 * 4 and sum(r.value or 0 for r in result.rows) == 8


def test_a_statistic_computing_other_dimensions_than_it_defines_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="defines"):
        shape(
            _definition(dimensions=("offer_type", "age")),
            _cells(),
            "2019-2020",
            filters=Filters(),
            as_of=None,
            audience="desk",
            threshold=5,
            labels=LabelContext(),
        )
