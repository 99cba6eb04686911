"""Whole reports kept by store version: a report asked again while nothing in the warehouse changed is answered
from memory, not computed again (a whole report of a 10-million-event store costs ~1 s of two cores).

The version is exact: every active data part of every table of the database, named with its table's UUID. Any
insert (a writer batch, a refresh of the current-state facts), merge, mutation (an erasure) or dropped table adds or
renames a part, so any new event, for any year, makes every kept report stale; a merge alone does too (harmless: the
next report is computed). Reading the parts costs a few milliseconds.

One computation per report at a time: a report asked while the same one is being computed waits for that computation
and gets its result (computed on the store as it was when it began: at most one computation older than the ask, as if
asked a moment earlier), instead of starting another. The API reads on a few clients side by side
(services/api/warehouse.py): a waiting ask holds one of them idle meanwhile.

A caller that accepts a report up to `max_stale_s` old (HTTP `Cache-Control: max-stale=N`, RFC 9111) gets the kept
one while it is that young, even when the store changed since (`kept`, which does not even ask the store): while
events stream in, every write makes the kept report stale, and each ask would compute the year again (~1 s of two
cores idle, several seconds under load). The API then refreshes it in the background (services/api/routes/
statistics.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property

from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics.responses import YearReport

KEPT = 4  # reports kept (a 10-million-event report holds ~40k rows in memory): the ones asked last
VERSION_SQL = """
    SELECT t.uuid, p.table, p.name
    FROM system.parts AS p INNER JOIN system.tables AS t ON t.database = p.database AND t.name = p.table
    WHERE p.database = {db:String} AND p.active
    ORDER BY p.table, p.name"""


def store_version(client: ClickHouseClient, database: str) -> tuple[tuple[str, str, str], ...]:
    """Every active part of the database's tables: changes with any write."""
    rows = client.query(VERSION_SQL, parameters={"db": database}).result_rows
    return tuple((str(uuid), table, name) for uuid, table, name in rows)


class Kept:
    """A kept report: the store version and the moment (monotonic) its computation began, and its JSON body,
    rendered the first time it is asked for (a year's report is thousands of rows: validating and serialising it
    again for every ask from memory cost more than the rest of such an answer)."""

    def __init__(self, version: tuple[tuple[str, str, str], ...], began: float, report: YearReport) -> None:
        self.version, self.began, self.report = version, began, report

    @cached_property
    def json(self) -> bytes:
        return self.report.model_dump_json().encode()


@dataclass(frozen=True)
class Served:
    """A report and how old it is: 0 when computed for this ask (or for the ask whose computation it waited for),
    else seconds since its computation began; `kept`: the cache's entry, when it is one."""

    report: YearReport
    age_s: float = 0.0
    kept: Kept | None = None

    def json(self) -> bytes:
        """The report's JSON body (rendered once per kept report)."""
        return self.kept.json if self.kept is not None else self.report.model_dump_json().encode()


class _Flight:
    """One computation of a report that other asks wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: YearReport | None = None
        self.error: BaseException | None = None

    def result(self) -> YearReport:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


class ReportCache:
    """The last `KEPT` reports, each with the store version it was computed on, and the computations under way."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._reports: OrderedDict[Hashable, Kept] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}

    def get_or_compute(self, client: ClickHouseClient, database: str, key: Hashable,
                       compute: Callable[[], YearReport]) -> YearReport:  # fmt: skip
        """The kept report of `key` if the store has not changed since it was computed, the result of the computation
        of `key` under way if there is one, else `compute()`'s (kept). The version is read before computing: a write
        during the computation makes the next ask compute again. A computation that fails fails its waiters too."""
        return self.serve(client, database, key, compute).report

    def serve(self, client: ClickHouseClient, database: str, key: Hashable,
              compute: Callable[[], YearReport]) -> Served:  # fmt: skip
        """As `get_or_compute`, with the report's age."""
        version = store_version(client, database)
        full_key = (database, key)
        with self._lock:
            found = self._reports.get(full_key)
            if found is not None and found.version == version:
                self._reports.move_to_end(full_key)
                return Served(found.report, time.monotonic() - found.began, found)
            flight = self._flights.get(full_key)
            computing = flight is None
            if flight is None:
                flight = self._flights[full_key] = _Flight()
        if not computing:
            return Served(flight.result())
        began = time.monotonic()
        try:
            flight.report = report = compute()
        except BaseException as err:
            flight.error = err
            raise
        else:
            with self._lock:
                self._reports[full_key] = kept = Kept(version, began, report)
                self._reports.move_to_end(full_key)
                while len(self._reports) > self._kept:
                    self._reports.popitem(last=False)
            return Served(report, 0.0, kept)  # computed for this ask: as fresh as the store (an Age of 0)
        finally:
            with self._lock:
                del self._flights[full_key]
            flight.done.set()

    def kept(self, database: str, key: Hashable, max_stale_s: float) -> Served | None:
        """The kept report of `key` if its computation began at most `max_stale_s` ago, without asking the store
        whether it changed since; None otherwise."""
        with self._lock:
            found = self._reports.get((database, key))
            if found is None or (age := time.monotonic() - found.began) > max_stale_s:
                return None
            self._reports.move_to_end((database, key))
            return Served(found.report, age, found)

    def clear(self) -> None:
        with self._lock:
            self._reports.clear()


REPORTS = ReportCache()
