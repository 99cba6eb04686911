"""The kept reports (`report_cache.py`) on the embedded engine: asked again on an unchanged store, the kept report;
after any insert, merge or mutation, computed again; asked during a computation of the same report, its result."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

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


def _facts_database(client: Any) -> str:
    db = f"cache_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.facts (school_year String, n UInt32) ENGINE = MergeTree ORDER BY n")
    client.command(f"INSERT INTO {db}.facts VALUES ('2025-2026', 1)")
    return db


def test_an_ask_during_a_computation_waits_for_it_instead_of_computing_again(clickhouse: Any) -> None:
    client, cache, computed = clickhouse, ReportCache(), []
    db = _facts_database(client)
    began, release = threading.Event(), threading.Event()

    def compute() -> Any:
        computed.append(1)
        began.set()
        assert release.wait(30)
        return object()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get_or_compute, client, db, "2025-2026", compute)
        assert began.wait(30)
        client.command(f"INSERT INTO {db}.facts VALUES ('2025-2026', 2)")  # events come in meanwhile
        second = pool.submit(cache.get_or_compute, client, db, "2025-2026", compute)
        time.sleep(0.3)
        assert not second.done()  # waiting for the computation under way, not computing its own
        release.set()
        assert second.result(30) is first.result(30)
    assert len(computed) == 1
    # The kept report was computed on the store before the insert: the next ask computes again.
    assert cache.get_or_compute(client, db, "2025-2026", lambda: "again") == "again"
    # Another key is not held up by a computation of this one.
    assert cache.get_or_compute(client, db, "2024-2025", lambda: "other") == "other"
    client.command(f"DROP DATABASE {db} SYNC")


def test_a_failed_computation_fails_its_waiters_and_the_next_ask_computes_again(clickhouse: Any) -> None:
    client, cache = clickhouse, ReportCache()
    db = _facts_database(client)
    began, release = threading.Event(), threading.Event()

    def broken() -> Any:
        began.set()
        assert release.wait(30)
        raise RuntimeError("the engine went away")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get_or_compute, client, db, "2025-2026", broken)
        assert began.wait(30)
        second = pool.submit(cache.get_or_compute, client, db, "2025-2026", lambda: "not this one")
        time.sleep(0.3)
        release.set()
        for asked in (first, second):
            with pytest.raises(RuntimeError, match="the engine went away"):
                asked.result(30)
    assert cache.get_or_compute(client, db, "2025-2026", lambda: "computed") == "computed"
    client.command(f"DROP DATABASE {db} SYNC")
