"""What a statistic's `compute` gets: the folded, filtered sources as SQL relations, and helpers that run a
GROUP BY with bound parameters and return Cells (with the per-year population total from the same query).

Sources are the folds of `folds.py`: for what is known now, the current-state facts the writer keeps folded
(`services/warehouse/state.py`); for an as-of question, folded inline, or from a snapshot of the folds made once for
a whole report (`snapshot.py`). The statistics' SQL is the same either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from core.auth import EVERYTHING, DataScope
from services.warehouse.clickhouse import ClickHouseClient, Row, result_rows
from services.warehouse.statistics import folds
from services.warehouse.statistics.filters import Filters, as_of_ms, filter_conditions
from services.warehouse.statistics.model import Cell, Cells

if TYPE_CHECKING:
    from services.warehouse.statistics.batch import Tape

# A current-state table's rows and their tombstones share a partition (0007_current_state.sql): FINAL merges
# partition by partition. Its skip indexes serve the writer's lookups by id, never a statistic: not weighing them
# saved a report's 69 queries ~0.1 s of planning (before they were merged, batch.py).
QUERY_SETTINGS = {"max_execution_time": 30, "join_use_nulls": 0, "do_not_merge_across_partitions_select_final": 1,
                  "use_skip_indexes": 0}  # fmt: skip
ADDITIVE = re.compile(r"^(count|countIf|sum|sumIf)\(")


def per_unit(expr: str) -> str:
    """Under an ARRAY JOIN a unit (one folded row) has several rows: count its distinct `row_id` instead."""
    return expr.replace("countIf(", "uniqExactIf(row_id, ").replace("count()", "uniqExact(row_id)")


@dataclass(frozen=True)
class Sources:
    """The folded relations (before filters), each FROM-able: a table (`db.t FINAL`) or a subquery in parentheses."""

    referrals: str
    trajectories: str
    round_tables: str
    groups: str

    @classmethod
    def inline(cls, db: str) -> Sources:
        """The fact logs folded in the query itself: any as-of date (`{as_of_ms}`) and years (`{years}`)."""
        referrals = folds.referrals_fold(db)
        return cls(
            referrals=f"({referrals})",
            trajectories=f"({folds.trajectories_fold(db, referrals)})",
            round_tables=f"({folds.round_tables_fold(db, referrals)})",
            groups=f"({folds.groups_fold(db)})",
        )

    @classmethod
    def current(cls, db: str) -> Sources:
        """The current-state facts the writer keeps folded (`state.py`): the same rows as `inline` without an as-of
        date, already folded."""
        return cls(
            referrals=f"{db}.referral_state FINAL",
            trajectories=f"{db}.trajectory_state FINAL",
            round_tables=f"{db}.round_table_state FINAL",
            groups=f"{db}.group_state FINAL",
        )

    @classmethod
    def for_question(cls, db: str, as_of: date | None) -> Sources:
        """What is known now comes from the current-state facts; what was known on a past day, from the logs."""
        return cls.inline(db) if as_of is not None else cls.current(db)

    def scoped(self, db: str, scope: DataScope) -> tuple[Sources, dict[str, Any]]:
        """These relations narrowed to the rows a reader may see (`core.auth.DataScope`), and the parameters the
        conditions bind. A CLB's scope keeps its own referrals (the referrer as amended) and what follows from them
        (their trajectories and round tables; its group referrals); a provider's the trajectories and groups
        dispatched to it and the referrals they belong to. Every statistic and ad hoc question reads its sources
        through here, so no caller can widen them."""
        if scope.unrestricted:
            return self, {}
        params: dict[str, Any] = {}
        own_referrals, own_trajectories, own_groups = [], [], []
        if scope.referrers is not None:
            params["scope_referrers"] = sorted(scope.referrers)
            own_referrals.append("referrer_id IN {scope_referrers:Array(String)}")
            own_groups.append(f"group_referral_id IN (SELECT group_referral_id FROM {db}.group_request_log "
                              "WHERE referrer_id IN {scope_referrers:Array(String)})")  # fmt: skip
        if scope.providers is not None:
            params["scope_providers"] = sorted(scope.providers)
            own_trajectories.append("provider_id IN {scope_providers:Array(String)}")
            own_referrals.append(f"referral_id IN (SELECT referral_id FROM {self.trajectories} "
                                 "WHERE provider_id IN {scope_providers:Array(String)})")  # fmt: skip
            own_groups.append("provider_id IN {scope_providers:Array(String)}")
        referrals = _where(self.referrals, own_referrals)
        of_own_referrals = f"referral_id IN (SELECT referral_id FROM {referrals})"
        return Sources(
            referrals=referrals,
            trajectories=_where(self.trajectories, [*own_trajectories, of_own_referrals]),
            round_tables=_where(self.round_tables, [of_own_referrals]),
            groups=_where(self.groups, own_groups),
        ), params


def _where(relation: str, conditions: list[str]) -> str:
    return f"(SELECT * FROM {relation} WHERE {' AND '.join(conditions)})" if conditions else relation


class StatisticQuery:
    """One statistic's question: years, filters, as-of, the section's level; runs SQL on the warehouse."""

    def __init__(self, client: ClickHouseClient, database: str, years: Iterable[str], filters: Filters,
                 level: str | None, as_of: date | None, sources: Sources | None = None,
                 tape: Tape | None = None, scope: DataScope = EVERYTHING) -> None:  # fmt: skip
        self.client = client
        self.tape = tape
        self.database = database
        self.years = sorted(set(years))
        self.filters = filters
        self.level = level
        self.as_of = as_of
        self.scope = scope
        self.base, scope_params = (sources or Sources.for_question(database, as_of)).scoped(database, scope)
        where, params = filter_conditions(filters, level, provider_column=None, database=database)
        self.params: dict[str, Any] = {"years": self.years, "as_of_ms": as_of_ms(as_of), **params, **scope_params}
        self._referral_where = where
        self._own_provider_where, _ = filter_conditions(filters, level, provider_column="provider_id",
                                                        database=database)  # fmt: skip
        # The population's levels alone (bound as the level filter is): a condition any source keyed by referral (it
        # carries the referral's level) can take to scan less.
        self.level_where, _ = filter_conditions(Filters(level=filters.level), level, provider_column=None,
                                                database=database)  # fmt: skip

    def _filtered(self, relation: str, where: list[str], extra: Iterable[str] = ()) -> str:
        # The years again: a report's snapshot holds the year before too.
        conditions = ["school_year IN {years:Array(String)}", *where, *extra]
        return f"(SELECT * FROM {relation} WHERE {' AND '.join(conditions)})"

    def referrals(self, *extra: str) -> str:
        """Folded referrals of the years, filtered: a FROM-able relation (referral_id, school_year, profile ...)."""
        return self._filtered(self.base.referrals, self._referral_where, extra)

    def trajectories(self, *extra: str) -> str:
        """Dispatched trajectories of the years' referrals (provider filter on the trajectory's own provider); a
        trajectory not started before any dispatch is no offered trajectory (`folds.trajectories_fold`)."""
        return self._filtered(self.base.trajectories, self._own_provider_where, ("dispatched", *extra))

    def round_tables(self, *extra: str) -> str:
        return self._filtered(self.base.round_tables, self._referral_where, extra)

    def groups(self, *extra: str) -> str:
        """Requested groups with their group trajectory (provider filter on the group trajectory's provider)."""
        return self._filtered(self.base.groups, self._own_provider_where, extra)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows of `sql`, run with the question's parameters (and `params`); in a report, answered from its tape."""
        bound = {**self.params, **(params or {})}
        if self.tape is not None:
            return self.tape.answer(("rows", sql), bound)
        return result_rows(self.client.query(sql, parameters=bound, settings=QUERY_SETTINGS))

    def grouped(self, grouping: Grouping, params: Mapping[str, Any] | None = None) -> list[Row]:
        """The rows of `grouping` (see `Grouping.sql`); in a report, answered from its tape, where a GROUP BY that
        groups the same population as others is merged with them (`batch.py`)."""
        if self.tape is not None:
            return self.tape.answer(("grouped", grouping), {**self.params, **(params or {})})
        return self.rows(grouping.sql(), params)

    def count(self, source: str, dims: Mapping[str, str], value: str, *, array_join: str | None = None,
              where: Iterable[str] = (), base: str | None = None, params: Mapping[str, Any] | None = None,
              ) -> Cells:  # fmt: skip
        """`value` per school year and dimension codes (`dims`: name -> SQL expression giving a code), with
        the value over the whole population per year as the total (GROUPING SETS, same scan)."""
        return self.measures(source, dims, {"": value}, array_join=array_join, where=where,
                             bases={"": base} if base else None, params=params)  # fmt: skip

    def measures(self, source: str, dims: Mapping[str, str], measures: Mapping[str, str], *,
                 array_join: str | None = None, where: Iterable[str] = (), total: str | None = None,
                 bases: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                 ) -> Cells:  # fmt: skip
        """Several measures in one scan; unless there is a single unnamed measure, the measure code becomes the last
        dimension (`measure`). `total` names the measure whose whole-population value is the total (default the
        first); `bases` gives, for a non-count measure (a mean), the count of units behind it."""
        if array_join:
            measures = {code: per_unit(expr) for code, expr in measures.items()}
        # Counts and sums of disjoint cells add up to the population's value: no total row, total summed here.
        additive = bool(dims) and not array_join and not bases and all(ADDITIVE.match(e) for e in measures.values())
        grouping = Grouping(source=source, dims=tuple(dims.values()),
                            measures=tuple((expr, (bases or {}).get(code)) for code, expr in measures.items()),
                            array_join=array_join, where=tuple(where), totals=not additive)  # fmt: skip
        codes = list(measures)
        named = codes != [""]
        n = len(dims)
        total_at = 1 + n + 2 * (codes.index(total) if total else 0)
        # Per measure: what it adds to the key (its code, as the `measure` dimension), its value and base columns.
        columns = [((code,) if named else (), 1 + n + 2 * i, 2 + n + 2 * i) for i, code in enumerate(codes)]
        out = Cells(dimensions=(*dims, "measure") if named else tuple(dims))
        append, new_cell = out.cells.append, tuple.__new__  # a Cell made as its own __new__ does, without the call
        for row in self.grouped(grouping, params):
            year, is_total = row[0], row[-1]
            if is_total or not n:
                out.totals[year] = number(row[total_at]) or 0
            elif additive:
                out.totals[year] = out.totals.get(year, 0) + (number(row[total_at]) or 0)
            if is_total:
                continue
            codes_of_row = row[1 : 1 + n]
            # Codes as strings (a month or an age comes as a number), null kept; `map` when there is no null (fast).
            key = (tuple(map(str, codes_of_row)) if None not in codes_of_row
                   else tuple(None if c is None else str(c) for c in codes_of_row))  # fmt: skip
            for measure, value_at, base_at in columns:
                value, base = row[value_at], row[base_at]
                append(new_cell(Cell, (year, key + measure, value if type(value) is int else number(value),
                                       None if base is None else int(base))))  # fmt: skip
        return out

    def summary(self, cells: Cells, source: str, measures: Mapping[str, str]) -> Cells:
        """Add whole-population figures per year (e.g. pupils with at least one trajectory) to `cells`."""
        grouping = Grouping(source=source, dims=(), measures=tuple((expr, None) for expr in measures.values()))
        found = {row[0]: [row[1 + 2 * i] for i in range(len(measures))] for row in self.grouped(grouping)}
        return self._fill_summary(cells, found, list(measures))

    def add_summary(self, cells: Cells, sql: str, codes: list[str]) -> Cells:
        """Run `sql` (school_year, one column per code) and append the figures to `cells.summary`; a year without
        rows gets zeros."""
        return self._fill_summary(cells, {year: values for year, *values in self.rows(sql)}, codes)

    def _fill_summary(self, cells: Cells, found: Mapping[str, list[Any]], codes: list[str]) -> Cells:
        for year in self.years:
            values = found.get(year, [0] * len(codes))
            cells.summary.setdefault(year, []).extend((code, number(v)) for code, v in zip(codes, values, strict=True))
        return cells


@dataclass(frozen=True)
class Grouping:
    """One GROUP BY a statistic asks: its `measures` ((value, base) SQL pairs; base None for a count) per school year
    and per combination of `dims` (SQL expressions), over `source`; with the whole-population row per year when
    `totals` (not needed for additive measures: the caller sums the cells)."""

    source: str
    dims: tuple[str, ...]
    measures: tuple[tuple[str, str | None], ...]
    array_join: str | None = None
    where: tuple[str, ...] = ()
    totals: bool = True

    def from_clause(self) -> str:
        return (f"FROM {self.source}" + (f" ARRAY JOIN {self.array_join}" if self.array_join else "")
                + (f" WHERE {' AND '.join(self.where)}" if self.where else ""))  # fmt: skip

    def sql(self) -> str:
        """The GROUP BY on its own. Rows: (school_year, dim codes ..., value, base per measure ..., is_total); a
        total row has is_total 1 (its dim codes are not meaningful); without dims every row is a year's total."""
        aliases = [f"d{i}" for i in range(len(self.dims))]
        select = "".join(f"{expr} AS {alias}, " for expr, alias in zip(self.dims, aliases, strict=True))
        values = measure_columns(self.measures)
        if not aliases:
            grouped, flag = "school_year", "0"
        elif self.totals:
            grouped, flag = f"GROUPING SETS ((school_year, {', '.join(aliases)}), (school_year))", "grouping(d0)"
        else:
            grouped, flag = f"school_year, {', '.join(aliases)}", "0"
        return f"SELECT school_year, {select}{values}, {flag} AS is_total {self.from_clause()} GROUP BY {grouped}"


def measure_columns(measures: Iterable[tuple[str, str | None]]) -> str:
    """The SELECT columns of (value, base) measures: `v0, b0, v1, b1 ...` (base NULL for a count)."""
    return ", ".join(f"{v} AS v{i}, {b or 'NULL'} AS b{i}" for i, (v, b) in enumerate(measures))


def number(value: Any) -> float | None:
    """A ClickHouse number as int when whole (counts), else rounded to 2 decimals; null (a mean of nothing) as None."""
    if type(value) is int:  # most values are counts: already whole (and exact, without a float in between)
        return value
    if value is None:
        return None
    found = float(value)
    if math.isnan(found) or math.isinf(found):
        return None
    return int(found) if found.is_integer() else round(found, 2)
