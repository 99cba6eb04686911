"""Cells of one school year -> the response rows: zero rows, Dutch labels, order, percentages, suppression."""

from __future__ import annotations

import itertools
from datetime import date

from core.auth import EVERYTHING, DataScope
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.labels import LabelContext, domain, label_rows
from services.warehouse.statistics.model import (
    Cell,
    Cells,
    StatisticDef,
    StatisticResult,
    SummaryFigure,
    trusted_row,
)
from services.warehouse.statistics.suppression import suppress, suppress_total

LEVEL_NL: dict[tuple[str, ...], str] = {("primary",): "basisonderwijs", ("secondary",): "secundair onderwijs"}


def population_text(definition: StatisticDef, filters: Filters, scope: DataScope = EVERYTHING) -> str:
    levels = filters.level or (definition.level,)
    level_nl = LEVEL_NL.get(tuple(levels), "basis- en secundair onderwijs")
    return f"{definition.population_nl.format(level=level_nl)}, {filters.describe_nl()}{scope_nl(scope)}"


def scope_nl(scope: DataScope) -> str:
    """The reader's scope in the population text (a CLB's statistics count its own referrals only)."""
    parts = [f"enkel verwijzer(s) {', '.join(sorted(scope.referrers))}"] if scope.referrers is not None else []
    parts += [f"enkel aanbieder(s) {', '.join(sorted(scope.providers))}"] if scope.providers is not None else []
    return "".join(f", {part}" for part in parts)


def previous_school_year(school_year: str) -> str:
    start = int(school_year[:4]) - 1
    return f"{start}-{start + 1}"


def _year_cells(definition: StatisticDef, cells: Cells, school_year: str) -> list[Cell]:
    """The cells of the year, their keys in the definition's dimension order (a previous-year statistic: both
    years, the year as the `school_year` dimension)."""
    wanted = [d for d in definition.dimensions if not (definition.previous_year and d == "school_year")]
    if sorted(wanted) != sorted(cells.dimensions):
        raise ValueError(f"{definition.code} computes {cells.dimensions}, defines {definition.dimensions}")
    order = [cells.dimensions.index(d) for d in wanted]
    if not definition.previous_year and order == list(range(len(order))):
        return [c for c in cells.cells if c.school_year == school_year]
    years = (previous_school_year(school_year), school_year) if definition.previous_year else (school_year,)
    out = []
    for c in cells.cells:
        if c.school_year in years:
            key = tuple(c.key[i] for i in order)
            out.append(Cell(school_year, (c.school_year, *key) if definition.previous_year else key, c.value, c.base))
    return out


def _filled(definition: StatisticDef, found: list[Cell], school_year: str) -> list[Cell]:
    if not definition.fill:
        return found
    domains = [domain(d, school_year, definition.labels) for d in definition.dimensions]
    if any(d is None for d in domains):
        return found
    present = {c.key for c in found}
    zeros = [Cell(school_year, key, 0) for key in itertools.product(*domains) if key not in present]  # type: ignore[arg-type]
    return found + zeros


# Codes that say no value was registered; a null code too (the report: "We konden de duurtijd wel niet voor alle
# trajecten bepalen"). Percentages are over the known values only, everywhere: "40% (105)" is 105 of the 262 with a
# known value, not of every referral.
NOT_REGISTERED = frozenset({"not_registered", "unknown"})


def _group_of(definition: StatisticDef) -> int | None:
    """The index of the dimension the percentages are taken within (None: the whole table)."""
    within = definition.pct_within
    return definition.dimensions.index(within[0]) if within else None


def _registered(key: tuple[str | None, ...], group: int | None) -> bool:
    return not any(code is None or code in NOT_REGISTERED for i, code in enumerate(key) if i != group)


def _percentages(definition: StatisticDef, cells: list[Cell]) -> tuple[list[float | None], list[float | None]]:
    """Each cell's percentage and its base: the cell's share of the known units of its group (the whole table, or the
    cells with the same code in the `pct_within` dimension). A not-registered cell has neither; its units stay out of
    the base (and are shown as its own row's value)."""
    if definition.pct_within is None:
        return [None] * len(cells), [None] * len(cells)
    group = _group_of(definition)
    known = [_registered(c.key, group) for c in cells]
    bases: dict[str | None, float] = {}
    for c, is_known in zip(cells, known, strict=True):
        if is_known:
            at = None if group is None else c.key[group]
            bases[at] = bases.get(at, 0) + (c.value or 0)
    pcts: list[float | None] = []
    base_of: list[float | None] = []
    for c, is_known in zip(cells, known, strict=True):
        base = bases.get(None if group is None else c.key[group], 0) if is_known else None
        pcts.append(round(100 * c.value / base, 1) if base and c.value is not None else None)
        base_of.append(base)
    return pcts, base_of


def _unsafe_groups(definition: StatisticDef, cells: list[Cell], hidden: set[int]) -> set[str | None]:
    """Groups whose base would give a suppressed not-registered cell away (base and total shown: the difference)."""
    group = _group_of(definition)
    return {None if group is None else cells[i].key[group] for i in hidden if not _registered(cells[i].key, group)}


def shape(definition: StatisticDef, cells: Cells, school_year: str, *, filters: Filters, as_of: date | None,
          audience: str, threshold: int, labels: LabelContext,
          scope: DataScope = EVERYTHING) -> StatisticResult:  # fmt: skip
    """The response for one school year (a previous-year statistic shows both years as `school_year` rows)."""
    if definition.desk_only and audience != "desk":
        return withheld(definition, cells, school_year, filters=filters, as_of=as_of, audience=audience, scope=scope)
    ctx = LabelContext(labels.providers, labels.modules, {**labels.own, **definition.labels})
    dimensions = definition.dimensions
    found = _filled(definition, _year_cells(definition, cells, school_year), school_year)
    found_labels, places = label_rows(dimensions, [c.key for c in found], ctx)
    order = sorted(range(len(found)), key=places.__getitem__)
    ordered = [found[i] for i in order]
    total = cells.totals.get(school_year, 0)
    pcts, bases = _percentages(definition, ordered)
    summary = [(code, value) for code, value in cells.summary.get(school_year, [])] or [
        (code, 0.0) for code in definition.summary_labels
    ]
    hidden: set[int] = set()
    hide_total, hidden_summary = False, set()
    if audience == "policy":
        hidden = suppress(ordered, dimensions, threshold)
        hide_total = suppress_total(total, threshold)
        hidden_summary = {code for code, value in summary if suppress_total(value, threshold)}
        if unsafe := _unsafe_groups(definition, ordered, hidden):
            group = _group_of(definition)
            for i, cell in enumerate(ordered):
                if (None if group is None else cell.key[group]) in unsafe:
                    pcts[i] = bases[i] = None
    names = (*dimensions, *(f"{d}_label_nl" for d in dimensions))  # the extra fields of a row, codes first
    rows = [
        trusted_row(dict(zip(names, cell.key + found_labels[found_index], strict=True)),
                    value=None if i in hidden else cell.value, pct=None if i in hidden or hide_total else pcts[i],
                    pct_base=None if i in hidden or hide_total else bases[i], suppressed=i in hidden)
        for i, (found_index, cell) in enumerate(zip(order, ordered, strict=True))
    ]  # fmt: skip
    figures = [
        SummaryFigure(
            measure=code,
            label_nl=definition.summary_labels.get(code, code),
            value=None if code in hidden_summary else value,
        )
        for code, value in summary
    ]
    return StatisticResult(
        statistic=definition.code,
        title_nl=definition.title_nl,
        section=definition.section,
        report_ref=definition.report_ref,
        school_year=school_year,
        population=population_text(definition, filters, scope),
        filters=filters.given(),
        as_of=as_of,
        audience=audience,
        unit=definition.unit,
        dimensions=list(definition.dimensions),
        rows=rows,
        total=None if hide_total else total,
        summary=figures,
        suppressed_cells=len(hidden) + len(hidden_summary) + int(hide_total),
        note_nl=definition.report_note_nl,
    )


WITHHELD_NL = ("Cijfers per school zijn enkel voor het KANS-team (privacy: het rapport neemt de verdeling over de "
               "scholen niet op); voor dit publiek worden ze niet getoond.")


def withheld(definition: StatisticDef, cells: Cells, school_year: str, *, filters: Filters, as_of: date | None,
             audience: str, scope: DataScope = EVERYTHING) -> StatisticResult:  # fmt: skip
    """A desk-only statistic (per-school figures) for another audience: no rows, no total, no figure; every cell the
    desk would see is counted as suppressed, and the note says why."""
    hidden = len(_year_cells(definition, cells, school_year)) + len(cells.summary.get(school_year, []))
    return StatisticResult(
        statistic=definition.code, title_nl=definition.title_nl, section=definition.section,
        report_ref=definition.report_ref, school_year=school_year,
        population=population_text(definition, filters, scope), filters=filters.given(), as_of=as_of,
        audience=audience, unit=definition.unit, dimensions=list(definition.dimensions), rows=[], total=None,
        summary=[SummaryFigure(measure=code, label_nl=text, value=None)
                 for code, text in definition.summary_labels.items()],
        suppressed_cells=hidden + 1, note_nl=WITHHELD_NL,
    )  # fmt: skip
