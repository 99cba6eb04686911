"""Current-state facts (`referral_state`, `trajectory_state`, `round_table_state`, `group_state`; migration 0007):
the fact logs folded once and kept current, so that statistics without an as-of date do not fold the logs again.

`store()` is how events enter the warehouse (the writer, the tests, the demo): it inserts them into `events` (the
materialized views fill the fact logs) and then `refresh()`es every referral and group referral they touched. A
refresh writes tombstones over the rows those entities had, then their rows folded anew one version higher; read
with FINAL, the new rows replace the tombstones and what is no longer folded stays deleted (see the migration).
It is idempotent: refreshing an entity twice, or storing an event twice, gives the same state.

`rebuild()` refolds everything (after the migration, or when a fold's definition changed). The caller serialises
writes: one writer per warehouse, holding the client lock while it stores a batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from schemas.registry import EVENT_TYPES
from services.warehouse.statistics import folds
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.statistics.query import QUERY_SETTINGS

REFERRAL_TABLES = ("referral_state", "trajectory_state", "round_table_state")  # keyed by referral_id
GROUP_TABLES = ("group_state",)  # keyed by group_referral_id
TABLES = (*REFERRAL_TABLES, *GROUP_TABLES)
NOW = as_of_ms(None)
SETTINGS = {**QUERY_SETTINGS, "allow_suspicious_low_cardinality_types": 1}
COMPUTED = {"row_id", "version", "is_deleted"}  # row_id is the key's hash (DEFAULT), the others are set here

# Which id an event's stream_id is, per event type: referral events refold a referral, group events a group referral.
_STREAM_FIELD = {name: cls.model_fields["payload"].annotation.stream_field for name, cls in EVENT_TYPES.items()}  # type: ignore[union-attr]


def touched(rows: Iterable[Sequence[Any]], event_type_at: int = 1, stream_id_at: int = 9) -> tuple[set[str], set[str]]:
    """(referral ids, group referral ids) that `events` rows (writer.COLUMNS order) touch."""
    referrals: set[str] = set()
    groups: set[str] = set()
    for row in rows:
        field = _STREAM_FIELD.get(row[event_type_at])
        if field == "referral_id":
            referrals.add(row[stream_id_at])
        elif field == "group_referral_id":
            groups.add(row[stream_id_at])
    return referrals, groups


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


def columns(client: Any, database: str, table: str) -> list[str]:
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


def _insert(client: Any, database: str, table: str, select: str, version: int, deleted: int,
            params: dict[str, Any]) -> None:  # fmt: skip
    cols = ", ".join(columns(client, database, table))
    client.command(
        f"INSERT INTO {database}.{table} ({cols}, version, is_deleted) "
        f"SELECT {cols}, {version}, {deleted} FROM ({select})",
        parameters=params,
        settings=SETTINGS,
    )


def _refold(client: Any, database: str, scope: folds.Scope, params: dict[str, Any], version: int,
            referrals: str) -> None:  # fmt: skip
    """Insert the folds of `scope` at `version`; `referrals` reads the referral rows just written."""
    db = database
    _insert(client, db, "referral_state", folds.referrals_fold(db, scope), version, 0, params)
    _insert(client, db, "trajectory_state", folds.trajectories_fold(db, referrals, scope), version, 0, params)
    _insert(client, db, "round_table_state", folds.round_tables_fold(db, referrals, scope), version, 0, params)


def refresh(client: Any, database: str, referral_ids: Collection[str], group_referral_ids: Collection[str]) -> None:
    """Refold the given referrals (with their trajectories and round tables) and group referrals."""
    if not referral_ids and not group_referral_ids:
        return
    version = VERSIONS.next_pair()
    params = {"referral_ids": sorted(referral_ids), "group_referral_ids": sorted(group_referral_ids),
              "as_of_ms": NOW, "years": []}  # fmt: skip
    if referral_ids:
        for table in REFERRAL_TABLES:
            _tombstones(client, database, table, "referral_id IN {referral_ids:Array(String)}", version, params)
        mine = f"SELECT * FROM {database}.referral_state FINAL WHERE referral_id IN {{referral_ids:Array(String)}}"
        _refold(client, database, folds.IDS_SCOPE, params, version + 1, mine)
    if group_referral_ids:
        _tombstones(client, database, "group_state", "group_referral_id IN {group_referral_ids:Array(String)}",
                    version, params)  # fmt: skip
        _insert(client, database, "group_state", folds.groups_fold(database, folds.IDS_SCOPE), version + 1, 0, params)


def _tombstones(client: Any, database: str, table: str, where: str, version: int, params: dict[str, Any]) -> None:
    _insert(client, database, table, f"SELECT * FROM {database}.{table} FINAL WHERE {where}", version, 1, params)


def rebuild(client: Any, database: str) -> int:
    """Refold every school year from the fact logs into empty state tables; returns the referrals folded."""
    for table in TABLES:
        client.command(f"TRUNCATE TABLE IF EXISTS {database}.{table}")
    years = sorted(
        {y for (y,) in client.query(f"SELECT DISTINCT school_year FROM {database}.referral_log").result_rows}
        | {y for (y,) in client.query(f"SELECT DISTINCT school_year FROM {database}.group_request_log").result_rows}
    )
    version = VERSIONS.next_pair()
    for year in years:  # one year at a time: bounded memory
        params = {"years": [year], "as_of_ms": NOW}
        mine = f"SELECT * FROM {database}.referral_state FINAL WHERE school_year IN {{years:Array(String)}}"
        _refold(client, database, folds.YEARS_SCOPE, params, version, mine)
        _insert(client, database, "group_state", folds.groups_fold(database), version, 0, params)
    return int(client.query(f"SELECT count() FROM {database}.referral_state FINAL").result_rows[0][0])


def store(client: Any, database: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
    """Insert `events` rows and bring the current-state facts of what they touch up to date."""
    if not rows:
        return
    client.insert(f"{database}.events", rows, column_names=list(column_names))
    names = list(column_names)
    refresh(client, database, *touched(rows, names.index("event_type"), names.index("stream_id")))
