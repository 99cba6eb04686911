"""Computing statistics on the warehouse: one statistic, a whole year's report, a range of years, the comparison
with exclusions. Every function takes (client, database, ...) so the API runs it with `Warehouse.run`."""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.auth import EVERYTHING, DataScope
from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics import batch, folds
from services.warehouse.statistics.batch import Tape
from services.warehouse.statistics.comparison import T5_COLUMNS, ExclusionColumn, exclusion_counts
from services.warehouse.statistics.filters import Filters, as_of_ms
from services.warehouse.statistics.labels import LabelContext
from services.warehouse.statistics.model import SECTION_TITLES_NL, Cells, StatisticResult
from services.warehouse.statistics.parallel import connections
from services.warehouse.statistics.query import Sources, StatisticQuery
from services.warehouse.statistics.registry import STATISTICS, by_section
from services.warehouse.statistics.report_cache import REPORTS, Served
from services.warehouse.statistics.responses import (
    ComparedRow,
    ExclusionComparison,
    ExclusionRow,
    ReportSection,
    YearComparison,
    YearReport,
)
from services.warehouse.statistics.shaping import LEVEL_NL, previous_school_year, scope_nl, shape
from services.warehouse.statistics.snapshot import snapshot
from services.warehouse.statistics.suppression import suppress_total


@dataclass(frozen=True)
class Audience:
    """Who asks: the desk sees everything; policy gets cells below `threshold` suppressed."""

    name: str = "desk"
    threshold: int = 5


@dataclass(frozen=True)
class Question:
    """What is asked and by whom: the reader's `scope` narrows every source the statistics read (the API sets it from
    the caller's principal; the default, everything, is the desk's and the tools')."""

    filters: Filters = field(default_factory=Filters)
    as_of: date | None = None
    audience: Audience = field(default_factory=Audience)
    scope: DataScope = EVERYTHING


def school_years(from_year: str, to_year: str) -> list[str]:
    first, last = int(from_year[:4]), int(to_year[:4])
    return [f"{y}-{y + 1}" for y in range(first, last + 1)]


def label_context(client: ClickHouseClient, database: str, as_of: date | None) -> LabelContext:
    """Provider and module names from the provider facts (as known on `as_of`)."""
    rows = client.query(folds.provider_names_sql(database), parameters={"as_of_ms": as_of_ms(as_of)}).result_rows
    ctx = LabelContext()
    for provider, module, name, _kind in rows:
        if module == "":
            ctx.providers[provider] = name
        else:
            ctx.modules[(provider, module)] = name
    return ctx


def statistic(client: ClickHouseClient, database: str, code: str, school_year: str, question: Question,
              sources: Sources | None = None, labels: LabelContext | None = None) -> StatisticResult:  # fmt: skip
    """One statistic for one school year."""
    cells = _cells(client, database, code, school_year, question, sources)
    return _shape(code, cells, school_year, question, labels or label_context(client, database, question.as_of))


def _cells(client: ClickHouseClient, database: str, code: str, school_year: str, question: Question,
           sources: Sources | None, tape: Tape | None = None) -> Cells:  # fmt: skip
    definition = STATISTICS[code]
    years = [previous_school_year(school_year), school_year] if definition.previous_year else [school_year]
    return definition.compute(StatisticQuery(client, database, years, question.filters, definition.level,
                                             question.as_of, sources, tape, question.scope))  # fmt: skip


def _shape(code: str, cells: Cells, school_year: str, question: Question, labels: LabelContext) -> StatisticResult:
    return shape(STATISTICS[code], cells, school_year, filters=question.filters, as_of=question.as_of,
                 audience=question.audience.name, threshold=question.audience.threshold, labels=labels,
                 scope=question.scope)  # fmt: skip


@contextmanager
def _sources(clients: list[ClickHouseClient], database: str, years: list[str], as_of: date | None,
             school_year: str) -> Iterator[Sources]:  # fmt: skip
    """The current-state facts; for an as-of report, one snapshot of the folds of the years it needs."""
    if as_of is None:
        yield Sources.current(database)
        return
    with snapshot(clients, database, years, as_of, [school_year]) as sources:
        yield sources


class _CyclicGcPause:
    """Pauses Python's cyclic garbage collector while reports are shaped. A large report builds ~100k short-lived
    objects (rows, labels, cells) that form no cycles, so reference counting frees them; meanwhile the allocations
    keep triggering collections that walk every live object (pydantic's included): measured, a quarter of a
    10-million-event report's time. Counted across threads: the collector resumes (if it ran before) when the last
    report ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._was_enabled:
                    gc.enable()


_cyclic_gc_paused = _CyclicGcPause()


def report(client: ClickHouseClient, database: str, school_year: str, question: Question) -> YearReport:
    """Every statistic of a year, from the current-state facts (or, as-of a day, from one snapshot of the folds of the
    years the report needs). The statistics' GROUP BYs over one population are merged into one query (`batch.py`:
    69 queries become 43); the queries run side by side on sibling connections of the embedded engine. A report
    asked again while the store has not changed at all is the one kept from before (`report_cache.py`)."""
    return report_served(client, database, school_year, question).report


def kept_report(database: str, school_year: str, question: Question, max_stale_s: float) -> Served | None:
    """The year's report kept from a computation begun at most `max_stale_s` ago, whether or not the store changed
    since; no ClickHouse query (report_cache.py)."""
    return REPORTS.kept(database, (school_year, question), max_stale_s)


def report_served(client: ClickHouseClient, database: str, school_year: str, question: Question) -> Served:
    """`report`, with its age (seconds since its computation began: more than 0 when kept from before)."""
    started = time.perf_counter()

    def compute() -> YearReport:
        with _cyclic_gc_paused():
            return _report(client, database, school_year, question)

    served = REPORTS.serve(client, database, (school_year, question), compute)
    elapsed = round(1000 * (time.perf_counter() - started), 1)
    return dataclasses.replace(served, report=served.report.model_copy(update={"elapsed_ms": elapsed}))


def _report(client: ClickHouseClient, database: str, school_year: str, question: Question) -> YearReport:
    started = time.perf_counter()
    labels = label_context(client, database, question.as_of)
    years = [previous_school_year(school_year), school_year]
    codes = [d.code for group in by_section().values() for d in group]
    results: dict[str, StatisticResult] = {}
    with connections(client) as clients, _sources(clients, database, years, question.as_of, school_year) as sources:
        # First pass: what every statistic asks; then the merged queries run side by side while the second pass
        # shapes each statistic from its answers as soon as they are in (batch.py).
        tapes = {code: Tape() for code in codes}
        for code in codes:
            _cells(client, database, code, school_year, question, sources, tapes[code])
        with batch.running(clients, batch.plan(tapes.values())) as wait:
            for code in codes:
                wait(tapes[code])
                cells = _cells(client, database, code, school_year, question, sources, tapes[code].replay())
                results[code] = _shape(code, cells, school_year, question, labels)
    sections = [
        ReportSection(section=section, title_nl=SECTION_TITLES_NL[section],
                      statistics=[results[d.code] for d in group])
        for section, group in by_section().items()
    ]  # fmt: skip
    return YearReport(school_year=school_year, as_of=question.as_of, audience=question.audience.name,
                      filters=question.filters.given(), sections=sections,
                      elapsed_ms=round(1000 * (time.perf_counter() - started), 1))  # fmt: skip


def compare(client: ClickHouseClient, database: str, code: str, from_year: str, to_year: str,
            question: Question) -> YearComparison:  # fmt: skip
    """One statistic for every school year of a range, computed in one pass over the range."""
    definition = STATISTICS[code]
    years = school_years(from_year, to_year)
    span = [previous_school_year(years[0]), *years] if definition.previous_year else years
    q = StatisticQuery(client, database, span, question.filters, definition.level, question.as_of,
                       scope=question.scope)
    cells = definition.compute(q)
    labels = label_context(client, database, question.as_of)
    results = [shape(definition, cells, year, filters=question.filters, as_of=question.as_of,
                     audience=question.audience.name, threshold=question.audience.threshold, labels=labels,
                     scope=question.scope)
               for year in years]  # fmt: skip
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for result in results:
        for row in result.rows:
            extra = row.model_extra or {}
            key = tuple(extra.get(d) for d in definition.dimensions)
            entry = table.setdefault(key, {**extra, "values": dict.fromkeys(years, 0)})
            entry["values"][result.school_year] = row.value
    return YearComparison(statistic=code, title_nl=definition.title_nl, years=years,
                          dimensions=list(definition.dimensions), table=[ComparedRow(**v) for v in table.values()],
                          totals={r.school_year: r.total for r in results}, results=results)  # fmt: skip


def comparison_with_exclusions(client: ClickHouseClient, database: str, from_year: str, to_year: str, level: str,
                               columns: tuple[ExclusionColumn, ...] | None, question: Question,
                               ) -> ExclusionComparison:  # fmt: skip
    """Referrals per year after each column's exclusions (default: T5's five columns)."""
    chosen = columns or T5_COLUMNS
    years = school_years(from_year, to_year)
    q = StatisticQuery(client, database, years, question.filters, level, question.as_of, scope=question.scope)
    counts = exclusion_counts(q, chosen)
    hidden = 0
    rows = []
    for col in chosen:
        values: dict[str, float | None] = {}
        for year in years:
            small = question.audience.name == "policy" and suppress_total(
                counts[col.code][year], question.audience.threshold
            )
            hidden += small
            values[year] = None if small else counts[col.code][year]
        rows.append(ExclusionRow(column=col.code, label_nl=col.label_nl, values=values))
    level_nl = LEVEL_NL[(level,)]
    return ExclusionComparison(level=level, years=years, filters=question.filters.given(), as_of=question.as_of,
                               population=f"individuele aanmeldingen {level_nl}, {question.filters.describe_nl()}"
                               f"{scope_nl(question.scope)}",
                               audience=question.audience.name, columns=list(chosen), rows=rows,
                               suppressed_cells=hidden)  # fmt: skip
