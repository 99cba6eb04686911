"""The migration runner on embedded ClickHouse: a store that holds events before the fact logs and the current state
exist gets them filled (views backfilled with their own SELECT, current state refolded), exactly as a store that
received the same events after migrating; the referral profile's tables have a column for every field of the model."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, create_model

from schemas.referral_profile import ReferralProfile
from services.warehouse import state
from services.warehouse.clickhouse import MIGRATIONS, migrate, migration_files
from services.warehouse.profile_columns import NOT_STORED, PROFILE_COLUMNS, PROFILE_FIELDS, column_mismatches
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


PROFILE_TABLES = ("referral_log", "referral_state")  # the fact log (0002) and the current state (0007)


def _columns(client: Any, database: str, table: str) -> dict[str, str]:
    rows = client.query("SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                        parameters={"db": database, "t": table}).result_rows  # fmt: skip
    return dict(rows)


@pytest.fixture(scope="module")
def migrated(clickhouse: Any) -> str:
    """A fresh database with every migration applied."""
    database = f"columns_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, database)
    return database


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_the_profile_tables_have_a_column_of_the_models_type_for_every_stored_field(
    clickhouse: Any, migrated: str, table: str
) -> None:
    columns = _columns(clickhouse, migrated, table)
    assert {name: columns.get(name) for name in PROFILE_FIELDS} == PROFILE_COLUMNS
    assert not NOT_STORED & set(columns)


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_a_field_added_to_the_model_without_a_migration_is_reported(clickhouse: Any, migrated: str,
                                                                    table: str) -> None:  # fmt: skip
    extended = create_model("ExtendedProfile", __base__=ReferralProfile,
                            mentor_count=(int | None, Field(None, ge=0, le=9)))  # fmt: skip
    found = column_mismatches(_columns(clickhouse, migrated, table), extended)
    assert found == ["no column mentor_count Nullable(UInt8)"]
