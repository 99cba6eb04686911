"""`kans cluster drill`: the platform on a three-broker cluster (replication 3, `min.insync.replicas=2`) under a
steady load through the ingest's HTTP API; kill -9 one broker, then a second, restart both; then count end to end.

The load is `TrajectoryDispatched` events (each its own trajectory, spread over referrals and providers) posted in
batches by clients that behave like a source system: a refused batch (503) is retried, the same batch, until it is
accepted. Every event id in a 202 is recorded as acknowledged. At the end (load stopped, replicas in sync) the
drill waits until the three places agree: the Kafka log (distinct event ids), ClickHouse (each referral's history
through the API, read `FINAL`) and the provider-load projection (waiting trajectories). It fails when an
acknowledged event is missing from ClickHouse, an event is stored twice, or a request sent while only one broker
was up got a 202.
"""

from __future__ import annotations

import json
import logging
import platform as host
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition

from core.auth import development_headers
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import ensure_topics, events_topic
from kans.cluster import LocalCluster
from kans.kafka_credentials import security_of
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, isolated_settings

log = logging.getLogger(__name__)
API_KEY = {"X-API-Key": "kans-dev-all"}  # the development key that speaks for every source system


@dataclass(frozen=True)
class DrillPlan:
    """Phase lengths (seconds of load in each), load shape and patience."""

    three_brokers_s: float = 15.0
    two_brokers_s: float = 20.0
    one_broker_s: float = 20.0
    after_restart_s: float = 20.0
    rate: float = 200.0  # events per second, all clients together
    batch: int = 20
    clients: int = 2
    referrals: int = 100
    providers: int = 400
    publish_timeout_s: float = 5.0  # how long the ingest waits for acks before its 503
    retry_pause_s: float = 0.5  # a client's pause after a refusal, before sending the same batch again
    agree_timeout_s: float = 240.0


@dataclass
class Attempt:
    sent: float
    answered: float
    status: int  # HTTP status; 0 when the request itself failed (connection, timeout)
    events: int


@dataclass
class Timeline:
    start: float = 0.0
    kill_1: float = 0.0
    kill_2: float = 0.0
    restart: float = 0.0
    all_live: float = 0.0
    load_stopped: float = 0.0
    in_sync: float = 0.0
    agreed: float = 0.0
    killed: list[int] = field(default_factory=list)
    echo: Callable[[str], None] = log.info

    def say(self, message: str) -> None:
        self.echo(f"[{time.monotonic() - self.start:6.1f}s] {message}")

    def phase(self, moment: float) -> str:
        marks = [("three brokers", self.start), ("two brokers", self.kill_1), ("one broker", self.kill_2),
                 ("restarting", self.restart), ("three brokers again", self.all_live)]  # fmt: skip
        return [name for name, at in marks if at and moment >= at][-1]


def dispatch(n: int, plan: DrillPlan) -> dict[str, Any]:
    tid = f"T-CL-{n:07d}"
    payload = {"referral_id": referral_id(n % plan.referrals), "trajectory_id": tid,
               "provider_id": f"P-CL-{n % plan.providers:04d}", "module_id": "individual", "offer_type": "regular"}
    return {"event_type": "TrajectoryDispatched", "occurred_at": "2025-10-08T09:00:00+02:00",
            "source_system": "desk", "source_ref": f"cluster-drill:{tid}", "actor": "desk:drill",
            "payload": payload}  # fmt: skip


def referral_id(r: int) -> str:
    return f"R-CL-{r:04d}"


class Load:
    """Clients posting numbered batches at a steady rate; a refused batch is sent again until it is accepted."""

    def __init__(self, settings: Settings, plan: DrillPlan) -> None:
        self.settings, self.plan = settings, plan
        self.acknowledged: set[str] = set()
        self.attempts: list[Attempt] = []
        self.unexpected: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"drill-client-{i}", daemon=True)
                         for i in range(plan.clients)]  # fmt: skip

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 120.0) -> None:
        """Stop taking new batches; a batch in flight is finished (retried until accepted) within the timeout."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)

    def _take(self) -> int:
        with self._lock:
            first, self._next = self._next, self._next + self.plan.batch
            return first

    def _run(self) -> None:
        interval = self.plan.batch * self.plan.clients / self.plan.rate
        with httpx.Client(base_url=self.settings.ingest_base_url, timeout=60, headers=API_KEY) as client:
            due = time.monotonic()
            while not self._stop.is_set():
                due = max(due + interval, time.monotonic() - interval)
                first = self._take()
                self._deliver(client, [dispatch(n, self.plan) for n in range(first, first + self.plan.batch)])
                time.sleep(max(0.0, due - time.monotonic()))

    def _deliver(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                response = client.post("/v1/events/batch", json=batch)
                status = response.status_code
            except httpx.HTTPError as err:
                status, response = 0, None
                self.unexpected.append(f"request failed: {err!r}")
            with self._lock:
                self.attempts.append(Attempt(sent, time.monotonic(), status, len(batch)))
                if status == 202 and response is not None:
                    self.acknowledged.update(r["event_id"] for r in response.json()["results"])
                    return
                if status not in (0, 503):
                    self.unexpected.append(f"{status}: {response.text[:300] if response is not None else ''}")
            time.sleep(self.plan.retry_pause_s)
        self.unexpected.append("a batch was still refused after 300 s")


# -- the three places that must agree ------------------------------------------------------------------------------
def kafka_log_ids(settings: Settings) -> Counter[str]:
    """Event id -> copies in the events topic, read from the beginning to the current end."""
    consumer = KafkaConsumer(**client_config(settings), enable_auto_commit=False,
                             client_id="kans-cluster-drill", consumer_timeout_ms=2000)  # fmt: skip
    try:
        topic = events_topic(settings)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        copies: Counter[str] = Counter()
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=1000).values():
                copies.update(json.loads(r.value)["event_id"] for r in records if r.value)
        return copies
    finally:
        consumer.close()


def warehouse_ids(api: httpx.Client, plan: DrillPlan) -> Counter[str]:
    """Event id -> rows in ClickHouse as the API serves them (each referral's history, read FINAL)."""
    copies: Counter[str] = Counter()
    for r in range(plan.referrals):
        response = api.get(f"/v1/referrals/{referral_id(r)}/events")
        if response.status_code == 404:
            continue
        response.raise_for_status()
        copies.update(e["event_id"] for e in response.json()["events"])
    return copies


def clickhouse_rows(settings: Settings) -> tuple[int, int]:
    """(rows, distinct event ids) of the events table without FINAL: copies a background merge has not yet
    collapsed show here, never in an answer (queries read FINAL). Opens the chDB folder: the API must be stopped."""
    from services.warehouse.clickhouse import get_client, result_rows

    client = get_client(settings)
    try:
        sql = f"SELECT count(), uniqExact(event_id) FROM {settings.clickhouse_database}.events"
        (rows, distinct), *_ = result_rows(client.query(sql))
        return int(rows), int(distinct)
    finally:
        client.close()


def projected_waiting(api: httpx.Client) -> int:
    """Waiting trajectories over every provider in the provider-load view (one per stored dispatch)."""
    response = api.get("/v1/live/provider-load")
    response.raise_for_status()
    return sum(row["waiting"] for row in response.json()["rows"] if row["provider_id"].startswith("P-CL-"))


# -- the drill -----------------------------------------------------------------------------------------------------
def wait_in_sync(cluster: LocalCluster, timeout_s: float = 180.0) -> None:
    """Until every partition of every topic (the internal ones too) has all its replicas in sync again."""
    deadline = time.monotonic() + timeout_s
    while cluster.under_replicated() != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"partitions still under-replicated after {timeout_s:.0f}s")
        time.sleep(0.5)


def leaders(cluster: LocalCluster, topic: str) -> Counter[int]:
    """Partitions led per broker (the first victim is the broker leading most of the events topic)."""
    admin = cluster._admin()
    try:
        return Counter(p["leader_id"] for t in admin.describe_topics([topic]) for p in t["partitions"])
    finally:
        admin.close()


def run_drill(plan: DrillPlan, cluster: LocalCluster | None = None, save: bool = True,
              echo: Callable[[str], None] = log.info) -> dict[str, Any]:  # fmt: skip
    """Start the cluster (if not running) and an isolated platform on it, run the drill, save the figures."""
    cluster = cluster or LocalCluster()
    echo(f"cluster: starting {cluster.size} nodes at {cluster.bootstrap} (data in {cluster.data_dir})")
    cluster.start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = cluster.data_dir / "runs" / stamp
    settings = isolated_settings(workdir, cluster.bootstrap, log_level="WARNING", replication_factor=cluster.size,
                                 min_insync_replicas=cluster.min_insync_replicas,
                                 publish_timeout_s=plan.publish_timeout_s,
                                 **security_of(cluster.settings()))  # the drill's nodes are not secured  # fmt: skip
    ensure_topics(settings)
    with ServiceProcesses(settings, workdir / "logs") as services, httpx.Client(
        base_url=settings.api_base_url, timeout=30, headers=development_headers(settings)
    ) as api:
        services.env.update(KANS_REPLICATION_FACTOR=str(settings.replication_factor),
                            KANS_MIN_INSYNC_REPLICAS=str(settings.min_insync_replicas),
                            KANS_PUBLISH_TIMEOUT_S=str(settings.publish_timeout_s))  # fmt: skip
        echo(f"services: starting ingest, projections, api (logs in {workdir / 'logs'})")
        services.start_all()
        result = _drill(plan, cluster, settings, api, echo)
        result["logs"] = str(workdir / "logs")
    if settings.embedded_clickhouse:  # the API (the store's only user) has stopped: count the rows unmerged
        rows, distinct = clickhouse_rows(settings)
        result["figures"].update(clickhouse_rows_without_final=rows, clickhouse_distinct_event_ids=distinct)
    if save:
        out = REPO_ROOT / "bench-results" / f"cluster-{stamp}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        result["saved"] = str(out.relative_to(REPO_ROOT))
    return result


def _drill(plan: DrillPlan, cluster: LocalCluster, settings: Settings, api: httpx.Client,
           echo: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    load, timeline = Load(settings, plan), Timeline(echo=echo)
    timeline.start = time.monotonic()
    load.start()
    timeline.say(f"load: {plan.rate:.0f} events/s in batches of {plan.batch}, {plan.clients} clients")
    time.sleep(plan.three_brokers_s)
    first = leaders(cluster, events_topic(settings)).most_common(1)[0][0]
    second = next(n for n in sorted(cluster.nodes) if n != first)
    timeline.killed = [first, second]
    cluster.kill(first)
    timeline.kill_1 = time.monotonic()
    timeline.say(f"kill -9 broker {first} (led most partitions of the events topic)")
    time.sleep(plan.two_brokers_s)
    cluster.kill(second)
    timeline.kill_2 = time.monotonic()
    timeline.say(f"kill -9 broker {second}: one broker left, writes must be refused")
    time.sleep(plan.one_broker_s)
    timeline.restart = time.monotonic()
    cluster.restart(first, second)
    timeline.say(f"restart brokers {first} and {second}")
    cluster.wait_alive(set(cluster.nodes))
    timeline.all_live = time.monotonic()
    timeline.say("three brokers live again")
    wait_in_sync(cluster)
    timeline.in_sync = time.monotonic()
    timeline.say("every partition of every topic has its three replicas in sync again")
    time.sleep(max(0.0, timeline.restart + plan.after_restart_s - time.monotonic()))
    load.stop()
    timeline.load_stopped = time.monotonic()
    timeline.say(f"load stopped: {len(load.acknowledged)} events acknowledged")
    log_copies, stored, waiting = _wait_agreement(plan, settings, api, load, timeline)
    return _figures(plan, cluster, load, timeline, log_copies, stored, waiting)


def _wait_agreement(plan: DrillPlan, settings: Settings, api: httpx.Client, load: Load,
                    timeline: Timeline) -> tuple[Counter[str], Counter[str], int]:  # fmt: skip
    """Until ClickHouse holds every event of the log (and every acknowledged one) and the projection counts them."""
    deadline = time.monotonic() + plan.agree_timeout_s
    log_copies = kafka_log_ids(settings)
    while True:
        stored, waiting = warehouse_ids(api, plan), projected_waiting(api)
        if set(stored) == set(log_copies) and waiting == len(log_copies) and load.acknowledged <= set(stored):
            timeline.agreed = time.monotonic()
            timeline.say("Kafka log, ClickHouse and the provider-load view agree")
            return log_copies, stored, waiting
        if time.monotonic() > deadline:
            timeline.say(f"NOT agreeing after {plan.agree_timeout_s:.0f}s: log {len(log_copies)}, ClickHouse "
                           f"{len(stored)}, projection {waiting}")  # fmt: skip
            return log_copies, stored, waiting
        time.sleep(1.0)


def _figures(plan: DrillPlan, cluster: LocalCluster, load: Load, timeline: Timeline, log_copies: Counter[str],
             stored: Counter[str], waiting: int) -> dict[str, Any]:  # fmt: skip
    t = timeline
    by_phase: dict[str, Counter[str]] = {}
    for a in load.attempts:
        by_phase.setdefault(t.phase(a.answered), Counter())[str(a.status or "failed")] += 1
    # A 202 for a request sent after the second kill and answered before the restart: a write one broker kept.
    one_broker_202 = [a for a in load.attempts if a.status == 202 and a.sent >= t.kill_2 and a.answered <= t.restart]
    refused_one = [a for a in load.attempts if a.status == 503 and a.sent >= t.kill_2 and a.answered <= t.restart]
    first_202_after_kill = min((a.answered for a in load.attempts if a.status == 202 and a.sent >= t.kill_1), default=0)
    first_202_after_restart = min((a.answered for a in load.attempts if a.status == 202 and a.answered > t.restart),
                                  default=0)  # fmt: skip
    acknowledged = load.acknowledged
    figures = {
        "acknowledged": len(acknowledged),
        "stored_clickhouse": len(stored),
        "lost": len(acknowledged - set(stored)),
        "duplicated_clickhouse": sum(1 for c in stored.values() if c > 1),
        "in_kafka_log": len(log_copies),
        "kafka_log_records": sum(log_copies.values()),
        "kafka_log_extra_copies": sum(log_copies.values()) - len(log_copies),
        "stored_not_acknowledged": len(set(stored) - acknowledged),
        "projection_waiting": waiting,
        "events_per_s_three_brokers": round(plan.batch * by_phase.get("three brokers", Counter())["202"]
                                            / plan.three_brokers_s, 1),
        "requests": len(load.attempts),
        "refused_503_one_broker": len(refused_one),
        "accepted_202_one_broker": len(one_broker_202),
        "unexpected_answers": len(load.unexpected),
        "agreed": bool(t.agreed),
    }
    seconds = {
        "failover_first_kill_to_202": _since(first_202_after_kill, t.kill_1),
        "restart_to_three_live": _since(t.all_live, t.restart),
        "restart_to_first_202": _since(first_202_after_restart, t.restart),
        "restart_to_in_sync": _since(t.in_sync, t.restart),
        "restart_to_views_agree": _since(t.agreed, t.restart),
        "load_stop_to_views_agree": _since(t.agreed, t.load_stopped),
    }
    ok = (figures["lost"] == 0 and figures["duplicated_clickhouse"] == 0 and not one_broker_202
          and refused_one and not load.unexpected and t.agreed)  # fmt: skip
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "cluster": {"nodes": cluster.size, "replication_factor": cluster.size,
                    "min_insync_replicas": cluster.min_insync_replicas, "killed": t.killed},
        "plan": asdict(plan),
        "figures": figures,
        "seconds": seconds,
        "answers_by_phase": {phase: dict(c) for phase, c in by_phase.items()},
        "unexpected": load.unexpected[:20],
        "ok": bool(ok),
    }  # fmt: skip


def _since(moment: float, origin: float) -> float | None:
    return round(moment - origin, 2) if moment and origin else None


def summary(result: dict[str, Any]) -> str:
    f, s = result["figures"], result["seconds"]
    lines = [
        f"acknowledged {f['acknowledged']}, stored in ClickHouse {f['stored_clickhouse']}, lost {f['lost']}, "
        f"duplicated {f['duplicated_clickhouse']} (Kafka log: {f['kafka_log_records']} records, "
        f"{f['kafka_log_extra_copies']} extra copies collapsed by the consumers)",
        f"one broker left: {f['refused_503_one_broker']} requests refused with 503, "
        f"{f['accepted_202_one_broker']} accepted; unexpected answers {f['unexpected_answers']}",
        f"failover after the first kill: first 202 after {s['failover_first_kill_to_202']} s",
        f"recovery from the restart: three brokers live {s['restart_to_three_live']} s, first 202 "
        f"{s['restart_to_first_202']} s, replicas in sync {s['restart_to_in_sync']} s, views agree "
        f"{s['restart_to_views_agree']} s ({s['load_stop_to_views_agree']} s after the load stopped)",
        "answers by phase: " + "; ".join(f"{p}: {dict(c)}" for p, c in result["answers_by_phase"].items()),
        "OK: nothing lost, nothing doubled, no write kept by one broker" if result["ok"] else "FAILED",
    ]
    return "\n".join(lines)

