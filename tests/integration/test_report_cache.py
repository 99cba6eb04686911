"""The kept reports (`report_cache.py`) on the embedded engine: asked again on an unchanged store, the kept report;
after any insert, merge or mutation, computed again."""

from __future__ import annotations

import uuid
from typing import Any

from services.warehouse.statistics.report_cache import ReportCache, store_version


def test_a_kept_report_is_used_until_the_store_changes(clickhouse: Any) -> None:
    # The session's engine (chDB allows one data directory per process), in a database of this test's own.
    client = clickhouse
    db = f"cache_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.facts (school_year String, n UInt32, v UInt32 DEFAULT 0) ENGINE = MergeTree "
                   "PARTITION BY school_year ORDER BY n")  # fmt: skip
    client.command(f"INSERT INTO {db}.facts (school_year, n) VALUES ('2019-2020', 1)")
    cache, computed = ReportCache(), []

    def compute() -> Any:
        computed.append(1)
        return object()

    first = cache.get_or_compute(client, db, "2019-2020", compute)
    assert cache.get_or_compute(client, db, "2019-2020", compute) is first
    assert len(computed) == 1
    # Another year's fact changes the store: computed again (the version is the whole database's).
    client.command(f"INSERT INTO {db}.facts (school_year, n) VALUES ('2025-2026', 2)")
    second = cache.get_or_compute(client, db, "2019-2020", compute)
    assert second is not first and len(computed) == 2
    before = store_version(client, db)
    client.command(f"OPTIMIZE TABLE {db}.facts FINAL")
    client.command(f"ALTER TABLE {db}.facts UPDATE v = 3 WHERE n = 1 SETTINGS mutations_sync = 2")
    assert store_version(client, db) != before
    assert cache.get_or_compute(client, db, "2019-2020", compute) is not second
    assert len(computed) == 3
    # A table dropped and made again with the same part names is another table (its UUID).
    version = store_version(client, db)
    client.command(f"DROP TABLE {db}.facts SYNC")
    client.command(f"CREATE TABLE {db}.facts (school_year String, n UInt32, v UInt32 DEFAULT 0) ENGINE = MergeTree "
                   "PARTITION BY school_year ORDER BY n")  # fmt: skip
    client.command(f"INSERT INTO {db}.facts (school_year, n) VALUES ('2019-2020', 1)")
    assert store_version(client, db) != version
    client.command(f"DROP DATABASE {db} SYNC")
