"""`kans projections rebuild` (services/projections/rebuild.py) folds the event log in bulk into a fresh application
id. A worker started with that id must then hold exactly what workers folding the log would: the provider-load
view and every trajectory equal to the recomputation from the events, without reading the log again (it starts at
the committed offsets), and it folds what comes next on top. Bad records are dead-lettered once, by the rebuild; an
application id in use is refused, with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient

from core.settings import Settings
from core.topics import (
    ensure_topics,
    event_dead_letter_topic,
    events_topic,
    projections_changelog_topic,
    projections_group,
)
from kans.processes import isolated_settings
from services.projections.rebuild import CONSUMER, RebuildRefused, load_change_partition, rebuild
from tests.conftest import wait_for
from tests.e2e.test_metrics import scrape, value
from tests.event_log import (
    KINDS,
    dead_letters,
    labelled,
    poison,
    produce_raw,
    recompute_provider_load,
    recompute_trajectories,
    valid_events,
    without_partitions,
)
from tests.kafka_helpers import connection, read_topic
from tests.platform import Platform

DAY = date(2025, 11, 1)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Settings:
    base = isolated_settings(tmp_path_factory.mktemp("rebuild"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(base)
    return base


@pytest.fixture(scope="module")
def rebuilt(settings: Settings) -> Settings:
    return Settings(**{**settings.model_dump(), "projections_app_id": "kans-projections-rebuilt"})


@pytest.fixture(scope="module")
def worker(rebuilt: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = Platform(rebuilt, tmp_path_factory.mktemp("rebuild-logs"))
    try:
        yield platform
    finally:
        platform.close()


def page(platform: Platform, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{platform.settings.projections_base_url}{path}", params=params, timeout=10)


def caught_up(platform: Platform) -> dict[str, Any] | None:
    try:
        response = page(platform, "/ready")
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    lags = body.get("lag") or {}
    ok = response.status_code == 200 and lags and all(lag and lag["lag_events"] == 0 for lag in lags.values())
    return body if ok else None


def load_rows(platform: Platform) -> list[dict[str, Any]]:
    response = page(platform, "/provider-load", date=DAY.isoformat())
    return without_partitions(response.json()["rows"]) if response.status_code == 200 else []


def test_the_load_changes_go_where_the_workers_faust_producer_sends_them() -> None:
    """aiokafka's partitioner (faust's producer) and the rebuild's agree, and spread rows over the partitions."""
    from kafka.partitioner.default import murmur2

    rows = [f"provider-{n}|module-{n % 3}" for n in range(200)]
    assert all(load_change_partition(row, 6) == (murmur2(row.encode()) & 0x7FFFFFFF) % 6 for row in rows)
    assert {load_change_partition(row, 6) for row in rows} == set(range(6))


def test_a_rebuild_leaves_what_workers_folding_the_log_would(settings: Settings, rebuilt: Settings,
                                                             worker: Platform) -> None:  # fmt: skip
    bad = [(poison(kind, 9000 + n), kind) for n, kind in enumerate(KINDS)]
    records = [record for record, _ in labelled(valid_events("RB", 90), bad)]
    produce_raw(settings.kafka_bootstrap, events_topic(settings), records)

    result = rebuild(rebuilt, processes=2)
    assert (result["records"], result["events"], result["dead_letters"]) == (len(records), len(records) - len(bad),
                                                                             len(bad))  # fmt: skip
    assert result["processes"] == 2 and result["trajectories"] == 90
    letters = dead_letters(settings.kafka_bootstrap, event_dead_letter_topic(settings), consumer=CONSUMER)
    assert sorted(letter["error-type"] for letter in letters) == sorted(KINDS)

    # The group starts where the log ended when the rebuild began.
    admin = KafkaAdminClient(**connection(settings.kafka_bootstrap))
    try:
        committed = admin.list_group_offsets(projections_group(rebuilt))[projections_group(rebuilt)]
    finally:
        admin.close()
    log = read_topic(settings.kafka_bootstrap, events_topic(settings), timeout_s=30)
    ends = {p: max(r.offset for r in log if r.partition == p) + 1 for p in {r.partition for r in log}}
    assert {tp.partition: meta.offset for tp, meta in committed.items()
            if tp.topic == events_topic(settings)} == ends  # fmt: skip

    # The same application id again: refused, nothing written.
    with pytest.raises(RebuildRefused, match="committed offsets"):
        rebuild(rebuilt, processes=1)

    worker.start("projections")
    wait_for(lambda: caught_up(worker), timeout_s=120, what="the worker on the rebuilt id caught up")
    values = [record.value for record in log]
    expected = recompute_provider_load(values, DAY)
    assert expected and all(row["active"] and row["waiting"] for row in expected)
    wait_for(lambda: load_rows(worker) == expected, timeout_s=60, what="the rebuilt view equal to the recomputation")
    # It restored the state rather than folding the log: it received nothing from the event log.
    samples = scrape(f"{worker.settings.projections_base_url}/metrics")
    received = value(samples, "kans_projections_messages_received_per_topic_total", topic=events_topic(settings))
    assert not received, received
    trajectories = recompute_trajectories(values)
    for tid in sorted(trajectories)[::9]:
        answer = page(worker, f"/trajectories/{tid}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == trajectories[tid].status
        assert answer.json()["events_applied"] == len(trajectories[tid].applied)

    # What comes next is folded on top.
    more = valid_events("RB2", 30)
    produce_raw(settings.kafka_bootstrap, events_topic(settings), more)
    everything = values + [value for _, value in more]
    expected_now = recompute_provider_load(everything, DAY)
    assert expected_now != expected
    wait_for(lambda: load_rows(worker) == expected_now, timeout_s=60, what="the new events folded on top")
    samples = scrape(f"{worker.settings.projections_base_url}/metrics")
    received = value(samples, "kans_projections_messages_received_per_topic_total", topic=events_topic(settings))
    assert received is not None and len(more) <= received < len(values), received  # the new ones, not the log again


def test_a_rebuild_into_an_id_whose_topics_hold_records_is_refused(settings: Settings, tmp_path: Path) -> None:
    """An id whose internal topics hold records (a worker ran with it and its offsets were deleted, say)."""
    used = Settings(**{**settings.model_dump(), "projections_app_id": "kans-projections-used"})
    ensure_topics(used)
    changelog = projections_changelog_topic(used, "trajectories")
    produce_raw(settings.kafka_bootstrap, changelog, [(b"T-1", b"{}")])
    with pytest.raises(RebuildRefused, match="holds records"):
        rebuild(used, processes=1)
    admin = KafkaAdminClient(**connection(settings.kafka_bootstrap))
    try:
        assert not admin.list_group_offsets(projections_group(used)).get(projections_group(used))  # nothing committed
    finally:
        admin.close()
