"""The workers' in-memory table store keeps what the worker still holds after a recovery round (core/faust_store)."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import TP

from core.faust_store import KeepingMemoryStore, register


def store_with(partitions: dict[bytes, int], assigned: set[int], tmp: Any) -> tuple[Any, KeepingMemoryStore]:
    app = faust.App("kans-store-test", store=register(), datadir=str(tmp))
    table = app.Table("rows", default=None)
    store = table.data
    assert isinstance(store, KeepingMemoryStore)
    for key, partition in partitions.items():
        store.data[key] = {"key": key.decode()}
        store._key_partition[key] = partition
    app.assignor.assigned_actives = lambda: {TP("events", p) for p in assigned}  # type: ignore[method-assign]
    return app, store


def test_a_recovery_round_that_restored_nothing_new_keeps_the_partitions_still_held(tmp_path: Any) -> None:
    # A rebalance handed back partitions 0-2 (nothing newly assigned: active_tps of the round is empty).
    _, store = store_with({b"a": 0, b"b": 1, b"c": 2}, assigned={0, 1, 2}, tmp=tmp_path)
    asyncio.run(store.on_recovery_completed(set(), set()))
    assert sorted(store.data) == [b"a", b"b", b"c"]


def test_keys_of_a_partition_another_worker_now_holds_go(tmp_path: Any) -> None:
    _, store = store_with({b"a": 0, b"b": 1, b"c": 2}, assigned={0}, tmp=tmp_path)
    asyncio.run(store.on_recovery_completed({TP("rows-changelog", 1)}, set()))
    assert sorted(store.data) == [b"a", b"b"]
    assert b"c" not in store._key_partition


def test_faust_s_own_store_would_have_emptied_the_table(tmp_path: Any) -> None:
    """Why the store exists: the same round with faust's memory store drops every key."""
    from faust.stores.memory import Store

    _, store = store_with({b"a": 0, b"b": 1}, assigned={0, 1}, tmp=tmp_path)
    asyncio.run(Store.on_recovery_completed(store, set(), set()))
    assert dict(store.data) == {}
