"""The three-broker drill, small: a cluster of its own (own folder, own ports), the services on it, kill -9 of two
brokers under load and a restart; nothing acknowledged may be lost or doubled, and with one broker left every
write is refused with 503. Marked `cluster`; not in `make test` (outside its testpaths): `make test-cluster` runs
the full drill, `pytest tests/cluster` this one (about 3 minutes on two cores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kans.cluster import LocalCluster
from kans.cluster_drill import DrillPlan, run_drill

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(data_dir=tmp_path / "cluster", broker_port=29302, controller_port=29402)
    if cluster.live_brokers() is not None:
        pytest.fail(f"a cluster this test did not start answers at {cluster.bootstrap}")
    yield cluster
    cluster.stop()


def test_two_brokers_killed_under_load_lose_nothing_and_one_broker_refuses(cluster: LocalCluster) -> None:
    plan = DrillPlan(three_brokers_s=5, two_brokers_s=12, one_broker_s=12, after_restart_s=10, rate=100)
    result = run_drill(plan, cluster, save=False)
    f, by_phase = result["figures"], result["answers_by_phase"]

    assert result["cluster"]["killed"][0] != result["cluster"]["killed"][1]
    assert f["acknowledged"] > 200, f
    assert f["lost"] == 0, f
    assert f["duplicated_clickhouse"] == 0, f
    assert f["clickhouse_distinct_event_ids"] == f["stored_clickhouse"], f
    # Every event in the log reached ClickHouse and the projection, refused attempts that landed later included.
    assert f["agreed"] and f["stored_clickhouse"] == f["in_kafka_log"] == f["projection_waiting"], f
    # One broker left: refused, never accepted, never a 500.
    assert f["refused_503_one_broker"] >= 1, by_phase
    assert f["accepted_202_one_broker"] == 0, by_phase
    assert set(by_phase["one broker"]) == {"503"}, by_phase
    assert f["unexpected_answers"] == 0, result["unexpected"]
    # Writes came back after the restart.
    assert result["seconds"]["restart_to_first_202"] is not None, result["seconds"]
    assert result["ok"]
