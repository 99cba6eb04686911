"""The migration runner on embedded ClickHouse: a store that holds events before the fact logs and the current state
exist gets them filled (views backfilled with their own SELECT, current state refolded), exactly as a store that
received the same events after migrating."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.warehouse import state
from services.warehouse.clickhouse import MIGRATIONS, migrate, migration_files
from services.warehouse.writer import COLUMNS, event_row
from tests.stats_history import history, load

LOGS = ("referral_log", "trajectory_log", "round_table_log", "group_request_log", "group_trajectory_log",
        "provider_log")  # fmt: skip


def _counts(client: Any, database: str, tables: tuple[str, ...], final: str = "") -> dict[str, int]:
    return {t: int(client.query(f"SELECT count() FROM {database}.{t} {final}").result_rows[0][0]) for t in tables}


def test_an_older_store_gets_its_fact_logs_and_current_state_from_the_events_it_holds(
    clickhouse: Any, tmp_path: Path
) -> None:
    only_events = tmp_path / "migrations"
    only_events.mkdir()
    first = migration_files(MIGRATIONS)[0][1]
    shutil.copy(first, only_events / first.name)
    older = f"older_{uuid.uuid4().hex[:8]}"
    assert migrate(clickhouse, older, only_events) == [1]
    rows = [event_row(value, 0, offset) for offset, value in enumerate(history())]
    clickhouse.insert(f"{older}.events", rows, column_names=COLUMNS)

    applied = migrate(clickhouse, older)
    assert applied == [version for version, _ in migration_files(MIGRATIONS)][1:]

    fresh = f"fresh_{uuid.uuid4().hex[:8]}"
    load(clickhouse, fresh, history())
    backfilled = _counts(clickhouse, older, LOGS)
    assert backfilled == _counts(clickhouse, fresh, LOGS)
    assert backfilled["referral_log"] > 0 and backfilled["provider_log"] > 0
    assert _counts(clickhouse, older, state.TABLES, "FINAL") == _counts(clickhouse, fresh, state.TABLES, "FINAL")
    assert migrate(clickhouse, older) == []


def test_two_migrations_with_one_version_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0001_b.py").write_text("def apply(client, database): pass")
    with pytest.raises(ValueError, match="share a version"):
        migration_files(tmp_path)
