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
from typing import Any

from services.warehouse.statistics import folds
from services.warehouse.statistics.filters import Filters, as_of_ms, filter_conditions
from services.warehouse.statistics.model import Cell, Cells

# A current-state table's rows and their tombstones share a partition (0007_current_state.sql): FINAL merges
# partition by partition. Its skip indexes serve the writer's lookups by id, never a statistic: not weighing them
# saves a report's 69 queries ~0.1 s of planning.
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


class StatisticQuery:
    """One statistic's question: years, filters, as-of, the section's level; runs SQL on the warehouse."""

    def __init__(self, client: Any, database: str, years: Iterable[str], filters: Filters, level: str | None,
                 as_of: date | None, sources: Sources | None = None) -> None:  # fmt: skip
        self.client = client
        self.database = database
        self.years = sorted(set(years))
        self.filters = filters
        self.level = level
        self.as_of = as_of
        self.base = sources or Sources.for_question(database, as_of)
        where, params = filter_conditions(filters, level, provider_column=None, database=database)
        self.params: dict[str, Any] = {"years": self.years, "as_of_ms": as_of_ms(as_of), **params}
        self._referral_where = where
        self._own_provider_where, _ = filter_conditions(filters, level, provider_column="provider_id",
                                                        database=database)  # fmt: skip

    def _filtered(self, relation: str, where: list[str], extra: Iterable[str] = ()) -> str:
        # The years again: a report's snapshot holds the year before too.
        conditions = ["school_year IN {years:Array(String)}", *where, *extra]
        return f"(SELECT * FROM {relation} WHERE {' AND '.join(conditions)})"

    def referrals(self, *extra: str) -> str:
        """Folded referrals of the years, filtered: a FROM-able relation (referral_id, school_year, profile ...)."""
        return self._filtered(self.base.referrals, self._referral_where, extra)

    def trajectories(self, *extra: str) -> str:
        """Dispatched trajectories of the years' referrals (provider filter on the trajectory's own provider)."""
        return self._filtered(self.base.trajectories, self._own_provider_where, extra)

    def round_tables(self, *extra: str) -> str:
        return self._filtered(self.base.round_tables, self._referral_where, extra)

    def groups(self, *extra: str) -> str:
        """Requested groups with their group trajectory (provider filter on the group trajectory's provider)."""
        return self._filtered(self.base.groups, self._own_provider_where, extra)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self.client.query(sql, parameters={**self.params, **(params or {})}, settings=QUERY_SETTINGS)
        return list(result.result_rows)

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
        aliases = [f"d{i}" for i in range(len(dims))]
        if array_join:
            measures = {code: per_unit(expr) for code, expr in measures.items()}
        # Counts and sums of disjoint cells add up to the population's value: plain GROUP BY, total summed here.
        additive = bool(aliases) and not array_join and not bases and all(ADDITIVE.match(e) for e in measures.values())
        select = "".join(f"{expr} AS {alias}, " for expr, alias in zip(dims.values(), aliases, strict=True))
        values = ", ".join(f"{expr} AS v{i}, {(bases or {}).get(code) or 'NULL'} AS b{i}"
                           for i, (code, expr) in enumerate(measures.items()))  # fmt: skip
        grouped = f"GROUPING SETS ((school_year, {', '.join(aliases)}), (school_year))" if aliases else "school_year"
        if additive:
            grouped = f"school_year, {', '.join(aliases)}"
        flag = f"grouping({aliases[0]})" if aliases and not additive else "0"
        sql = (
            f"SELECT school_year, {select}{values}, {flag} AS is_total "
            f"FROM {source}"
            + (f" ARRAY JOIN {array_join}" if array_join else "")
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" GROUP BY {grouped}"
        )
        codes = list(measures)
        named = codes != [""]
        n = len(aliases)
        total_at = 1 + n + 2 * (codes.index(total) if total else 0)
        # Per measure: what it adds to the key (its code, as the `measure` dimension), its value and base columns.
        columns = [((code,) if named else (), 1 + n + 2 * i, 2 + n + 2 * i) for i, code in enumerate(codes)]
        out = Cells(dimensions=(*dims, "measure") if named else tuple(dims))
        for row in self.rows(sql, params):
            year, is_total = row[0], row[-1]
            if is_total or not aliases:
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
                base = row[base_at]
                out.cells.append(Cell(year, key + measure, number(row[value_at]), None if base is None else int(base)))
        return out

    def summary(self, cells: Cells, source: str, measures: Mapping[str, str]) -> Cells:
        """Add whole-population figures per year (e.g. pupils with at least one trajectory) to `cells`."""
        select = ", ".join(f"{expr} AS m{i}" for i, expr in enumerate(measures.values()))
        return self.add_summary(cells, f"SELECT school_year, {select} FROM {source} GROUP BY school_year",
                                list(measures))  # fmt: skip

    def add_summary(self, cells: Cells, sql: str, codes: list[str]) -> Cells:
        """Run `sql` (school_year, one column per code) and append the figures to `cells.summary`; a year without
        rows gets zeros."""
        found = {year: values for year, *values in self.rows(sql)}
        for year in self.years:
            values = found.get(year, [0] * len(codes))
            cells.summary.setdefault(year, []).extend((code, number(v)) for code, v in zip(codes, values, strict=True))
        return cells


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
