"""A whole report's queries, merged: the GROUP BYs that count the same population become one query.

A report asks ~70 GROUP BYs, most of them over a handful of populations (a year's referrals of one level, their
trajectories, their groups ...). Each one costs the engine a plan, a read of the current-state table with FINAL and
an aggregation; merged into one GROUP BY GROUPING SETS per population, the plan and the read are paid once.

How: a report computes every statistic twice. The first pass records the questions each one asks on its `Tape` (they
get no rows); `plan()` merges the questions of all tapes into `Job`s; once a statistic's jobs have run, the second
pass replays its tape and every question gets exactly the rows its own SQL would have returned (`Grouping.sql`). A
statistic's compute never picks a query by an earlier answer (it only combines answers), and the replay checks it:
the same questions, in the same order.

What merges: groupings over the same source, ARRAY JOIN, WHERE and parameters. Counts, sums, least and most values
and means cost one small state per group, so they are computed for every grouping set of the merged query (each
grouping reads its own); an exact distinct count keeps every value of a group, so it only merges with groupings that
ask for the same ones. (A per-school distribution and its largest school, R05a, are one query.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from queue import Queue
from typing import Any

from services.warehouse.clickhouse import ClickHouseClient, Row, result_rows
from services.warehouse.statistics.query import QUERY_SETTINGS, Grouping, measure_columns

CHEAP = re.compile(r"^(round\()?(count|sum|min|max|avg)(If)?\(")  # one small aggregate state per group
MAX_EXPRESSIONS = 64  # grouping(...) of a merged query: one bit per expression, in a UInt64
Question = tuple[str, Any]  # ("grouped", Grouping) or ("rows", sql)


def _frozen(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


class Tape:
    """The questions one statistic asks, recorded in the first pass and answered in the second."""

    def __init__(self) -> None:
        self.asked: list[tuple[Question, dict[str, Any]]] = []
        self.answers: list[list[Row] | None] = []
        self._replaying = False
        self._next = 0

    def answer(self, question: Question, params: dict[str, Any]) -> list[Row]:
        if not self._replaying:
            self.asked.append((question, params))
            self.answers.append(None)
            return []
        at = self._next
        if at >= len(self.asked) or self.asked[at] != (question, params):
            raise RuntimeError(f"a statistic asked a different question on replay (question {at + 1}): {question}")
        self._next += 1
        found = self.answers[at]
        if found is None:
            raise RuntimeError(f"question {at + 1} replayed before the query answering it ran: {question}")
        return found

    def replay(self) -> Tape:
        self._replaying, self._next = True, 0
        return self


@dataclass
class Job:
    """One query of the plan and whom its rows answer: (tape, question number) per consumer, and how its rows are
    split among them."""

    sql: str
    params: dict[str, Any]
    consumers: list[tuple[Tape, int]] = field(default_factory=list)
    split: Callable[[list[Row]], list[list[Row]]] | None = None  # rows per consumer; None: all rows to each

    def run(self, client: ClickHouseClient) -> None:
        rows = result_rows(client.query(self.sql, parameters=self.params, settings=QUERY_SETTINGS))
        parts = self.split(rows) if self.split else [rows] * len(self.consumers)
        for (tape, at), part in zip(self.consumers, parts, strict=True):
            tape.answers[at] = part


def _cheap(measure: tuple[str, str | None]) -> bool:
    return all(expr is None or CHEAP.match(expr) for expr in measure)


def plan(tapes: Iterable[Tape]) -> list[Job]:
    """The jobs that answer every recorded question, in the order the questions were first asked."""
    order: list[Job | tuple[Any, ...]] = []  # a raw query's job, or the key of a merged one
    merged: dict[tuple[Any, ...], list[tuple[Tape, int, Grouping]]] = {}
    bound: dict[tuple[Any, ...], dict[str, Any]] = {}
    expressions: dict[tuple[Any, ...], set[str]] = {}
    for tape in tapes:
        for at, ((kind, what), params) in enumerate(tape.asked):
            if kind == "rows":
                order.append(Job(what, params, [(tape, at)]))
                continue
            expensive = frozenset(m for m in what.measures if not _cheap(m))
            key: tuple[Any, ...] = (what.source, what.array_join, what.where, _frozen(params), expensive, 0)
            # grouping() gives a 64-bit mask: a population whose groupings group by more expressions takes two queries
            while key in merged and len(expressions[key] | set(what.dims)) > MAX_EXPRESSIONS:
                key = (*key[:-1], key[-1] + 1)
            if key not in merged:
                merged[key], bound[key], expressions[key] = [], params, set()
                order.append(key)
            merged[key].append((tape, at, what))
            expressions[key] |= set(what.dims)
    return [item if isinstance(item, Job) else _merged(merged[item], bound[item]) for item in order]


def _merged(asked: list[tuple[Tape, int, Grouping]], params: dict[str, Any]) -> Job:
    consumers = [(tape, at) for tape, at, _ in asked]
    groupings = [g for _, _, g in asked]
    if len(groupings) == 1:
        return Job(groupings[0].sql(), params, consumers)
    sql, split = merge(groupings)
    return Job(sql, params, consumers, split)


def merge(groupings: Sequence[Grouping]) -> tuple[str, Callable[[list[Row]], list[list[Row]]]]:
    """One GROUP BY GROUPING SETS for groupings of one population (same source, ARRAY JOIN, WHERE), and how to split
    its rows into the rows each grouping's own SQL returns. A row's set is told by `grouping(g0, g1, ...)`: bit set
    for every expression the set does not group by (the first expression is the highest bit)."""
    first = groupings[0]
    exprs = list(dict.fromkeys(e for g in groupings for e in g.dims))
    measures = list(dict.fromkeys(m for g in groupings for m in g.measures))
    k = len(exprs)
    full = (1 << k) - 1
    dims_at = [tuple(exprs.index(e) for e in g.dims) for g in groupings]
    values_at = [tuple(1 + k + 2 * measures.index(m) for m in g.measures) for g in groupings]
    sets = list(dict.fromkeys(tuple(sorted(set(at))) for at in dims_at if at))
    wants_total = any(g.totals or not g.dims for g in groupings)
    group_by = [f"(school_year, {', '.join(f'g{i}' for i in s)})" for s in sets] + (["(school_year)"] * wants_total)
    select = "".join(f"{e} AS g{i}, " for i, e in enumerate(exprs))
    values = measure_columns(measures)
    mask = f"grouping({', '.join(f'g{i}' for i in range(k))})" if k else "0"
    sql = (f"SELECT school_year, {select}{values}, {mask} AS grouping_mask {first.from_clause()} "
           f"GROUP BY GROUPING SETS ({', '.join(group_by)})")  # fmt: skip

    # Per set mask: the groupings it answers; per grouping: its dims' and measures' columns.
    by_mask: dict[int, list[int]] = {}
    totals: list[int] = []
    for j, (g, at) in enumerate(zip(groupings, dims_at, strict=True)):
        if at:
            by_mask.setdefault(full & ~sum(1 << (k - 1 - i) for i in at), []).append(j)
        if g.totals or not g.dims:
            totals.append(j)

    # What a grouping's rows take of a merged row: its dims' and measures' columns (the measures alone for its total
    # row, the dims as nulls).
    measures_of = [[c for at in values for c in (at, at + 1)] for values in values_at]
    group_row = [itemgetter(*[1 + i for i in at], *columns) for at, columns in zip(dims_at, measures_of, strict=True)]
    total_row = [itemgetter(*columns) for columns in measures_of]  # at least two columns: always a tuple
    no_codes = [(None,) * len(at) for at in dims_at]

    def split(rows: list[Row]) -> list[list[Row]]:
        out: list[list[Row]] = [[] for _ in groupings]
        for row in rows:
            found = row[-1] if k else full
            year = row[0]
            if found == full:
                for j in totals:
                    if groupings[j].dims:
                        out[j].append((year, *no_codes[j], *total_row[j](row), 1))
                    else:
                        out[j].append((year, *total_row[j](row), 0))
                continue
            for j in by_mask.get(found, ()):
                out[j].append((year, *group_row[j](row), 0))
        return out

    return sql, split


@contextmanager
def running(clients: Sequence[ClickHouseClient], jobs: Sequence[Job]) -> Iterator[Callable[[Tape], None]]:
    """Run the jobs side by side, one per free connection; yields a `wait(tape)` that returns once every job
    answering `tape` has run (raising what a job raised), so the caller replays statistics while others still run."""
    free: Queue[ClickHouseClient] = Queue()
    for client in clients:
        free.put(client)

    def on_free_client(job: Job) -> None:
        client = free.get()
        try:
            job.run(client)
        finally:
            free.put(client)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        futures: dict[Tape, list[Future[None]]] = {}
        try:
            for job in jobs:
                future = pool.submit(on_free_client, job)
                for tape, _ in job.consumers:
                    futures.setdefault(tape, []).append(future)

            def wait(tape: Tape) -> None:
                for future in futures.get(tape, ()):
                    future.result()

            yield wait
        finally:
            for fs in futures.values():
                for future in fs:
                    future.cancel()
