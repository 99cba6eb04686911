"""The kept reports (`report_cache.py`) on the embedded engine: asked again on an unchanged store, the kept report;
after any insert, merge or mutation, computed again; asked during a computation of the same report, its result."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from core.auth import Role, development_headers
from core.settings import Settings
from services.api.bootstrap import Api
from services.api.main import create_app
from services.api.warehouse import Warehouse
from services.warehouse import state
from services.warehouse.clickhouse import migrate
from services.warehouse.statistics.report_cache import ReportCache, store_version
from services.warehouse.writer import COLUMNS, event_row
from tests.stats_history import history


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


def test_a_caller_that_accepts_staleness_gets_the_kept_report_within_it_and_a_new_one_after(clickhouse: Any) -> None:
    db = _facts_database(clickhouse)
    cache, computed = ReportCache(), []

    def compute() -> Any:
        computed.append(1)
        time.sleep(0.02)
        return object()

    first = cache.serve(clickhouse, db, "2025-2026", compute)
    assert len(computed) == 1 and first.age_s == 0  # computed for this ask, however long that took
    clickhouse.command(f"INSERT INTO {db}.facts VALUES ('2025-2026', 2)")  # the store changed
    # From memory alone (the store not asked): young enough, whatever the store holds.
    kept = cache.kept(db, "2025-2026", max_stale_s=60)
    assert kept is not None and kept.report is first.report and 0 <= kept.age_s < 60 and len(computed) == 1
    # A caller that accepts no staleness gets it computed again.
    fresh = cache.serve(clickhouse, db, "2025-2026", compute)
    assert fresh.report is not first.report and len(computed) == 2
    # Older than a caller accepts, or never computed: nothing from memory.
    time.sleep(0.05)
    assert cache.kept(db, "2025-2026", max_stale_s=0.01) is None and cache.kept(db, "2024-2025", 60) is None
    # Unchanged store: the kept report is fresh whatever its age.
    same = cache.serve(clickhouse, db, "2025-2026", compute)
    assert same.report is fresh.report and same.age_s >= 0.05 and len(computed) == 2
    clickhouse.command(f"DROP DATABASE {db} SYNC")


def test_the_year_report_route_answers_a_stale_ok_ask_from_the_kept_report_and_refreshes_it(
    clickhouse: Any, tmp_path: Any
) -> None:
    """`GET /v1/stats/{year}` with `Cache-Control: max-stale=60` after events were stored: the kept report with its
    Age, at once, and the report computed again in the background, so that a later ask gets the new figures; an ask
    without the header always gets them."""
    db = f"stale_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, db)
    rows = [event_row(value, 0, offset) for offset, value in enumerate(history())]
    cut = len(rows) * 2 // 3
    state.store(clickhouse, db, rows[:cut], COLUMNS)
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings)
    app.state.api = Api(settings, clickhouse, Warehouse(clickhouse, db), None, httpx.AsyncClient())
    desk = development_headers(settings, Role.desk)
    path = "/v1/stats/2019-2020"

    def figures(response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return {k: v for k, v in response.json().items() if k != "elapsed_ms"}

    async def asks() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            stale_ok = {**desk, "Cache-Control": "max-stale=60"}
            first = await api.get(path, headers=stale_ok)
            assert first.headers["Age"] == "0"
            before = figures(first)
            state.store(clickhouse, db, rows[cut:], COLUMNS)
            kept = await api.get(path, headers=stale_ok)
            assert figures(kept) == before and "Age" in kept.headers
            deadline = time.monotonic() + 30
            while (refreshed := figures(await api.get(path, headers=stale_ok))) == before:  # computed meanwhile
                assert time.monotonic() < deadline, "the kept report was never refreshed"
                await asyncio.sleep(0.1)
            assert refreshed == figures(await api.get(path, headers=desk))  # as an ask without max-stale: all events

    asyncio.run(asks())
