"""Current-state facts (`referral_state`, `trajectory_state`, `round_table_state`, `group_state`; migration 0007):
the fact logs folded once and kept current, so that statistics without an as-of date do not fold the logs again.

`store()` is how events enter the warehouse (the writer, the tests, the demo): it inserts them into `events` (the
materialized views fill the fact logs) and then `refresh()`es what they touched: a referral's own events refold it
with its trajectories and round tables (they carry its profile), a trajectory or round-table event only those rows
of its referral, a group event its group referral. A refresh inserts the rows of those entities folded anew, then
tombstones one version lower over the rows they had that the fold no longer gave (read with FINAL, still older than
the new rows): what is no longer folded is deleted (see the migration). It is idempotent: refreshing an
entity twice, or storing an event twice, gives the same state.

Reads run beside the writer, without a lock (a ClickHouse server's readers always did): each insert is one part
(a few hundred rows), so a reader sees a table before or after it. New rows first, tombstones second: an entity
never vanishes from a read in between (one that should vanish is still there, as a moment before). The tables
refresh one after the other, so a read that joins two of them may see one a batch ahead of the other. The events
of a batch are in `events` before its facts are refreshed: the API reads a referral's event history only between
batches (services/api/warehouse.py), so an event it shows there is counted by the statistics too.

`rebuild()` refolds everything (after the migration, or when a fold's definition changed). One writer per
warehouse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.registry import EVENT_TYPES
from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics import folds
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.statistics.query import QUERY_SETTINGS

REFERRAL_TABLES = ("referral_state", "trajectory_state", "round_table_state")  # keyed by referral_id
TABLES = (*REFERRAL_TABLES, "group_state")  # group_state is keyed by group_referral_id
NOW = as_of_ms(None)
SETTINGS = {**QUERY_SETTINGS, "use_skip_indexes": 1, "allow_suspicious_low_cardinality_types": 1}  # ids: bloom filters
COMPUTED = {"row_id", "version", "is_deleted"}  # row_id is the key's hash (DEFAULT), the others are set here


def _feeds(event_type: str) -> str | None:
    """Which current-state table an event type changes (the fact log it feeds), or None (provider facts)."""
    if event_type.startswith(("Referral", "Advice")):
        return "referral_state"
    if event_type.startswith("Trajectory"):
        return "trajectory_state"
    if event_type.startswith("RoundTable"):
        return "round_table_state"
    if event_type.startswith("Group"):
        return "group_state"
    return None


FEEDS = {name: _feeds(name) for name in EVENT_TYPES}


@dataclass
class Touched:
    """The entities a batch of events changes, per current-state table: referral ids for the three referral tables
    (a referral's own events also change its trajectories' and round tables' rows: they carry its profile), group
    referral ids for the groups."""

    ids: dict[str, set[str]] = field(default_factory=lambda: {table: set() for table in TABLES})

    def add(self, event_type: str, stream_id: str) -> None:
        table = FEEDS.get(event_type)
        if table is not None:
            self.ids[table].add(stream_id)

    def __bool__(self) -> bool:
        return any(self.ids.values())


def touched(rows: Iterable[Sequence[Any]], event_type_at: int = 1, stream_id_at: int = 9) -> Touched:
    """What `events` rows (writer.COLUMNS order) touch: every event's stream id is its referral (or group
    referral) id."""
    found = Touched()
    for row in rows:
        found.add(row[event_type_at], row[stream_id_at])
    return found


class _Versions:
    """Row versions: nanoseconds since the epoch, strictly increasing within the process (two per refresh)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next_pair(self) -> int:
        with self._lock:
            self._last = max(self._last + 2, time.time_ns())
            return self._last


VERSIONS = _Versions()
_columns_cache: dict[tuple[str, str], list[str]] = {}


def columns(client: ClickHouseClient, database: str, table: str) -> list[str]:
    """The columns a fold fills in `table` (its columns but the computed ones), in table order."""
    key = (database, table)
    if key not in _columns_cache:
        rows = client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String} ORDER BY position",
            parameters={"db": database, "table": table},
        ).result_rows
        if not rows:
            raise RuntimeError(f"{database}.{table} does not exist: run the ClickHouse migrations")
        _columns_cache[key] = [name for (name,) in rows if name not in COMPUTED]
    return _columns_cache[key]


def _insert(client: ClickHouseClient, database: str, table: str, select: str, version: int, deleted: int,
            params: dict[str, Any]) -> None:  # fmt: skip
    cols = ", ".join(columns(client, database, table))
    client.command(
        f"INSERT INTO {database}.{table} ({cols}, version, is_deleted) "
        f"SELECT {cols}, {version}, {deleted} FROM ({select})",
        parameters=params,
        settings=SETTINGS,
    )


def _mine(database: str) -> str:
    """The refreshed referrals' rows in `referral_state`, for the folds that join them."""
    return f"SELECT * FROM {database}.referral_state FINAL WHERE referral_id IN {{referral_ids:Array(String)}}"


def _fold(database: str, table: str, scope: folds.Scope, referrals: str) -> str:
    """The fold that fills `table` (`referrals`: the referral rows the others join)."""
    if table == "referral_state":
        return folds.referrals_fold(database, scope)
    if table == "trajectory_state":
        return folds.trajectories_fold(database, referrals, scope)
    if table == "round_table_state":
        return folds.round_tables_fold(database, referrals, scope)
    return folds.groups_fold(database, scope)


def refresh(client: ClickHouseClient, database: str, touched: Touched) -> None:
    """Refold what a batch touched: a referral's own events refold it with its trajectories and round tables, a
    trajectory (round table) event only the trajectories (round tables) of its referral, a group event its group
    referral. Tables in order: the referral rows first, the others join them."""
    if not touched:
        return
    version = VERSIONS.next_pair()
    referrals = touched.ids["referral_state"]
    for table in TABLES:
        ids = touched.ids[table] | (referrals if table in REFERRAL_TABLES else set())
        if not ids:
            continue
        key = "referral_ids" if table in REFERRAL_TABLES else "group_referral_ids"
        column = "referral_id" if table in REFERRAL_TABLES else "group_referral_id"
        params = {key: sorted(ids), "as_of_ms": NOW, "years": []}
        select = _fold(database, table, folds.IDS_SCOPE, _mine(database))
        _insert(client, database, table, select, version + 1, 0, params)
        # What the fold gave anew now has version + 1: an older row left is one no longer folded (or moved to
        # another key: a referral amended to another level)
        _tombstones(client, database, table, f"{column} IN {{{key}:Array(String)}} AND version <= {version}", version,
                    params)  # fmt: skip


def _tombstones(client: ClickHouseClient, database: str, table: str, where: str, version: int,
                params: dict[str, Any]) -> None:  # fmt: skip
    _insert(client, database, table, f"SELECT * FROM {database}.{table} FINAL WHERE {where}", version, 1, params)


# Fact-log columns that migrations after 0008 added and the folds read. A rebuild asked by an earlier migration (0008,
# on a store that held events before it) on logs without them is left to the later migration that adds them and
# refolds (0011 for withdraw_kind, 0013 for source_system, 0018 for household_key): the folds of this code cannot read
# those logs yet.
LATER_LOG_COLUMNS = {"referral_log": ("withdraw_kind", "source_system", "household_key"),
                     "group_request_log": ("source_system",)}  # fmt: skip


def _logs_lack_later_columns(client: ClickHouseClient, database: str) -> bool:
    for table, needed in LATER_LOG_COLUMNS.items():
        rows = client.query("SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String}",
                            parameters={"db": database, "table": table}).result_rows  # fmt: skip
        if set(needed) - {name for (name,) in rows}:
            return True
    return False


def rebuild(client: ClickHouseClient, database: str) -> int:
    """Refold every school year from the fact logs into empty state tables; returns the referrals folded (0 when the
    logs still lack columns a later migration adds: that migration refolds)."""
    if _logs_lack_later_columns(client, database):
        return 0
    for table in TABLES:
        _columns_cache.pop((database, table), None)  # a migration may just have added columns
        client.command(f"TRUNCATE TABLE IF EXISTS {database}.{table}")
    years = sorted(
        {y for (y,) in client.query(f"SELECT DISTINCT school_year FROM {database}.referral_log").result_rows}
        | {y for (y,) in client.query(f"SELECT DISTINCT school_year FROM {database}.group_request_log").result_rows}
    )
    version = VERSIONS.next_pair()
    for year in years:  # one year at a time: bounded memory
        params = {"years": [year], "as_of_ms": NOW}
        mine = f"SELECT * FROM {database}.referral_state FINAL WHERE school_year IN {{years:Array(String)}}"
        for table in TABLES:
            _insert(client, database, table, _fold(database, table, folds.YEARS_SCOPE, mine), version, 0, params)
    return int(client.query(f"SELECT count() FROM {database}.referral_state FINAL").result_rows[0][0])


def store(client: ClickHouseClient, database: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
    """Insert `events` rows and bring the current-state facts of what they touch up to date."""
    if not rows:
        return
    client.insert(f"{database}.events", rows, column_names=list(column_names))
    names = list(column_names)
    refresh(client, database, touched(rows, names.index("event_type"), names.index("stream_id")))
