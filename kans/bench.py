"""`kans bench`: ingest throughput (HTTP batch, one client and then HTTP_CLIENTS clients at once, vs a raw
kafka-python producer, same payloads, same run; the ingest process runs alone meanwhile, as the raw producer does)
and freshness (ingest 202 -> visible in the provider-load view and in
ClickHouse). Runs its own isolated platform (topic prefix, ports, chDB folder) on the local broker; the figures are
printed and saved as JSON."""

from __future__ import annotations

import json
import platform as host
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from queue import Empty, Queue
from typing import Any

import httpx
from kafka import KafkaProducer

from core.auth import development_headers
from core.kafka_security import client_config
from core.progress import progress
from core.pupil_vault import PupilVault
from core.settings import Settings, get_settings
from core.topics import TopicSpec, ensure_topics
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, isolated_settings
from schemas.registry import SUBMISSION_LIST_ADAPTER, seal
from services.ingest.publisher import PRODUCER_SETTINGS

BATCH = 1000
HTTP_CLIENTS = 2  # source systems posting at once in the second throughput measure (one per core here)
API_KEY_HEADERS = {"X-API-Key": "kans-dev-demo"}  # the development key of source system `demo` (dev-api-keys.yaml)


def _referral(n: int) -> dict[str, Any]:
    rid = f"R-B-{n:07d}"
    return {"event_type": "ReferralSubmitted", "schema_version": 2, "occurred_at": "2025-10-06T09:30:00+02:00",
            "source_system": "demo", "source_ref": f"bench:{rid}", "actor": "clb:clb-bench",
            "payload": {"referral_id": rid, "pupil_id": f"bench-pupil-{n}", "channel": "lars",
                        "referrer_id": "clb-bench", "offer_type": "regular", "level": "secondary", "gender": "girl",
                        "birth_year": 2010, "birth_month": 1 + n % 12}}  # fmt: skip


def _trajectory(kind: str, n: int, **extra: Any) -> dict[str, Any]:
    rid, tid = f"R-F-{n:06d}", f"T-F-{n:06d}"
    return {"event_type": kind, "occurred_at": "2025-10-06T09:30:00+02:00", "source_system": "demo",
            "source_ref": f"bench:{kind}:{tid}", "actor": "desk:bench",
            "payload": {"referral_id": rid, "trajectory_id": tid, **extra}}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def measure_http(client: httpx.Client, submissions: list[dict[str, Any]]) -> float:
    with progress("bench: HTTP batches to the ingest", len(submissions)) as posted:
        started = time.perf_counter()
        for i in range(0, len(submissions), BATCH):
            response = client.post("/v1/events/batch", json=submissions[i : i + BATCH])
            response.raise_for_status()
            posted.advance(len(submissions[i : i + BATCH]))
        return len(submissions) / (time.perf_counter() - started)


def measure_http_clients(base_url: str, submissions: list[dict[str, Any]], clients: int) -> float:
    """`clients` source systems posting at once, each one batch at a time, the bodies encoded beforehand (as the raw
    reference's records are): what the ingest process accepts when its stages can overlap (one request's validation
    while another's batch is sealed or published), not what one client's loop can send."""
    queue: Queue[tuple[int, bytes]] = Queue()
    for i in range(0, len(submissions), BATCH):
        queue.put((len(submissions[i : i + BATCH]), json.dumps(submissions[i : i + BATCH]).encode()))
    headers = {**API_KEY_HEADERS, "Content-Type": "application/json"}

    def client_loop(done: Callable[[int], None]) -> None:
        with httpx.Client(base_url=base_url, timeout=120, headers=headers) as client:
            while True:
                try:
                    n, body = queue.get_nowait()
                except Empty:
                    return
                response = client.post("/v1/events/batch", content=body)
                response.raise_for_status()
                if response.json()["created"] != n:
                    raise RuntimeError(f"the ingest created {response.json()['created']} of {n} new events")
                done(n)

    with progress(f"bench: HTTP batches to the ingest, {clients} clients at once", len(submissions)) as posted:
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for future in [pool.submit(client_loop, posted.advance) for _ in range(clients)]:
                future.result()
        return len(submissions) / (time.perf_counter() - started)


def measure_raw(settings: Settings, topic: str, submissions: list[dict[str, Any]]) -> float:
    """The reference: the sealed events the ingest would publish, sent by kafka-python with the same settings
    (`PRODUCER_SETTINGS`: idempotent, acks=all, lz4, the same batching)."""
    now, secret = datetime.now(UTC), get_settings().pupil_key_secret.get_secret_value().encode()
    vault = PupilVault(None)  # the ingest's vault work (one write per batch of new pupils) is not in this reference
    sealed = [seal(s, now, secret, vault) for s in SUBMISSION_LIST_ADAPTER.validate_python(submissions)]
    records = [(e.stream_id.encode(), e.model_dump_json().encode()) for e in sealed]
    producer = KafkaProducer(**client_config(settings), **PRODUCER_SETTINGS)  # the ingest's own producer settings
    try:
        started = time.perf_counter()
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush()
        return len(records) / (time.perf_counter() - started)
    finally:
        producer.close()


def measure_freshness(ingest: httpx.Client, api: httpx.Client, n: int) -> dict[str, list[float]]:
    provider = {"provider_id": "bench-provider", "module_id": "individual", "offer_type": "regular"}
    for i in range(0, n, BATCH):
        ingest.post("/v1/events/batch", json=[_trajectory("TrajectoryDispatched", k, **provider)
                                              for k in range(i, min(n, i + BATCH))]).raise_for_status()  # fmt: skip

    def load() -> dict[str, Any]:
        rows = api.get("/v1/live/provider-load", params={"provider_id": "bench-provider"}).json()["rows"]
        return rows[0] if rows else {"active": 0, "waiting": 0}

    # Both the projections worker and the API's writer start after the throughput measures: wait until they caught up
    # with the log (the dispatches above are its last events) before timing single events.
    deadline = time.monotonic() + 300
    while load()["waiting"] < n:
        if time.monotonic() > deadline:
            raise RuntimeError("dispatches did not reach the provider-load view")
        time.sleep(0.1)
    while not _in_clickhouse(api, n - 1, "TrajectoryDispatched"):
        if time.monotonic() > deadline:
            raise RuntimeError("dispatches did not reach ClickHouse")
        time.sleep(0.1)
    to_load: list[float] = []
    to_clickhouse: list[float] = []
    with progress("bench: freshness, one event at a time", n) as measured:
        for k in range(n):
            _fresh_one(ingest, api, k, load, to_load, to_clickhouse)
            measured.advance(1)
    return {"provider_load": to_load, "clickhouse": to_clickhouse}


def _fresh_one(ingest: httpx.Client, api: httpx.Client, k: int, load: Callable[[], dict[str, Any]],
               to_load: list[float], to_clickhouse: list[float]) -> None:  # fmt: skip
    response = ingest.post("/v1/events", json=_trajectory("TrajectoryStarted", k))
    accepted = time.perf_counter()
    response.raise_for_status()
    seen_load = seen_ch = None
    # The live view is asked alone until it shows the event (a ClickHouse question in the same loop, ~0.2 s, would
    # make the live view's figure the ClickHouse one), then ClickHouse, both timed from the same 202.
    while seen_load is None or seen_ch is None:
        if seen_load is None:
            if load()["active"] >= k + 1:
                seen_load = time.perf_counter() - accepted
        elif seen_ch is None and _in_clickhouse(api, k, "TrajectoryStarted"):
            seen_ch = time.perf_counter() - accepted
        if time.perf_counter() - accepted > 30:
            raise RuntimeError(f"event {k} not visible after 30 s")
        time.sleep(0.002)
    to_load.append(seen_load)
    to_clickhouse.append(seen_ch)


def _in_clickhouse(api: httpx.Client, k: int, event_type: str) -> bool:
    history = api.get(f"/v1/referrals/R-F-{k:06d}/events")
    return history.status_code == 200 and any(e["event_type"] == event_type for e in history.json()["events"])


DESK_HEADERS = {"X-API-Key": "kans-dev-desk"}  # the desk's development key: it decides on proposals
DISPATCH_PROVIDER = "bench-dispatch"


def _desk(kind: str, ref: str, payload: dict[str, Any], day: str = "2025-09-01") -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": f"{day}T08:00:00+02:00", "source_system": "demo",
            "source_ref": f"bench:{ref}", "actor": "desk:bench", "payload": payload}  # fmt: skip


def measure_decisions(ingest: httpx.Client, desk: httpx.Client, api: httpx.Client, dispatch_url: str,
                      n: int) -> dict[str, list[float]]:  # fmt: skip
    """Decision latency: the desk's decision on a proposal posted -> its TrajectoryDispatched counted in the
    provider-load view (the ingest, the log, the projections worker, the API), one decision at a time."""
    module = {"provider_id": DISPATCH_PROVIDER, "module_id": "individual", "valid_from": "2025-09-01"}
    ingest.post("/v1/events/batch", json=[
        _desk("ModuleOffered", "module", {**module, "kind": "individual", "name": "Module", "levels": ["secondary"]}),
        _desk("ProviderCapacitySet", "capacity", {**module, "capacity": n + 10})]).raise_for_status()  # fmt: skip
    _until(lambda: any(m["provider_id"] == DISPATCH_PROVIDER and m["capacity"] == n + 10
                       for m in httpx.get(f"{dispatch_url}/catalogue", timeout=10).json()["modules"]),
           "the bench module in the dispatch worker's catalogue")  # fmt: skip
    referrals = [{**_referral(n + k), "source_ref": f"bench:decision-referral:{k}"} for k in range(n)]
    for referral in referrals:
        referral["payload"] = {**referral["payload"], "referral_id": f"R-D-{referral['payload']['referral_id'][4:]}"}
    tables = [_desk("RoundTableHeld", f"round-table:{k}", {"referral_id": r["payload"]["referral_id"],
                    "round_table_id": f"RT-D-{k}", "outcomes": ["trajectories_to_start"], "trajectories_to_start": 1},
                    "2025-10-07") for k, r in enumerate(referrals)]  # fmt: skip
    ingest.post("/v1/events/batch", json=referrals).raise_for_status()
    ingest.post("/v1/events/batch", json=tables).raise_for_status()

    def proposals() -> list[dict[str, Any]]:
        found = httpx.get(f"{dispatch_url}/proposals", timeout=30).json()["proposals"]
        return [p for p in found if p["provider_id"] == DISPATCH_PROVIDER]

    open_now = _until(lambda: found if len(found := proposals()) >= n else None, "a proposal for every referral")

    def waiting() -> int:
        rows = api.get("/v1/live/provider-load", params={"provider_id": DISPATCH_PROVIDER}).json()["rows"]
        return int(rows[0]["waiting"]) if rows else 0

    latencies = []
    for k, proposal in enumerate(open_now):
        started = time.perf_counter()
        desk.post(f"/v1/dispatch/trajectories/{proposal['trajectory_id']}/decision",
                  json={"proposal_id": proposal["proposal_id"], "decision": "confirm"}).raise_for_status()  # fmt: skip
        while waiting() < k + 1:
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"decision {k} not in the provider-load view after 30 s")
            time.sleep(0.002)
        latencies.append(time.perf_counter() - started)
    return {"decision_to_provider_load": latencies}


def _until(probe: Any, what: str, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return found


def run_bench(events: int, freshness_events: int, decisions: int = 200) -> dict[str, Any]:
    base = get_settings()
    kafka = LocalKafka(base)
    kafka.start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / stamp
    # The tools act as admin; each service process as its own principal (ServiceProcesses).
    settings = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING",
                                 **security_of(kafka.client_settings()))
    ensure_topics(settings)
    raw_topic = f"{settings.topic_prefix}bench.raw-producer"
    ensure_topics(settings, [TopicSpec(raw_topic, settings.event_partitions)])
    submissions = [_referral(n) for n in range(events)]
    with ServiceProcesses(settings, workdir / "logs") as services:
        # The ingest alone, as the raw producer runs alone: what one ingest process accepts, not what is left of two
        # cores while the projections worker and the API's writer fold the same events beside it (started below).
        services.start("ingest")
        with (
            httpx.Client(base_url=settings.ingest_base_url, timeout=120, headers=API_KEY_HEADERS) as ingest,
            httpx.Client(base_url=settings.api_base_url, timeout=30, headers=development_headers(settings)) as api,
        ):
            print(f"throughput: {events} ReferralSubmitted events, HTTP batches of {BATCH} vs raw producer")
            http_eps = measure_http(ingest, submissions)
            more = [_referral(n) for n in range(events, 2 * events)]  # new events: none refused as a duplicate
            http_clients_eps = measure_http_clients(settings.ingest_base_url, more, HTTP_CLIENTS)
            raw_eps = measure_raw(settings, raw_topic, submissions)
            services.start("projections")
            services.start("api")
            print(f"freshness: {freshness_events} TrajectoryStarted events, one at a time")
            fresh = measure_freshness(ingest, api, freshness_events)
            print(f"decisions: {decisions} proposals confirmed by the desk, one at a time")
            # Started only now, so the throughput and freshness figures above are those of the ingest path alone.
            services.start("inbound")
            services.start("dispatch")
            with httpx.Client(base_url=settings.ingest_base_url, timeout=30, headers=DESK_HEADERS) as desk:
                dispatch_url = f"http://{settings.dispatch_host}:{settings.dispatch_port}"
                fresh |= measure_decisions(ingest, desk, api, dispatch_url, decisions)
    result = {
        "when": stamp,
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "throughput": {"events": events, "batch": BATCH, "http_batch_events_per_s": round(http_eps),
                       "raw_producer_events_per_s": round(raw_eps), "http_to_raw_ratio": round(http_eps / raw_eps, 3),
                       "http_clients": HTTP_CLIENTS, "http_clients_events_per_s": round(http_clients_eps),
                       "http_clients_to_raw_ratio": round(http_clients_eps / raw_eps, 3)},
        "freshness_ms": {
            name: {"n": len(v), "median": round(1000 * statistics.median(v), 1), "p99": round(1000 * pct(v, 99), 1),
                   "max": round(1000 * max(v), 1)}
            for name, v in fresh.items()
        },
    }  # fmt: skip
    out = REPO_ROOT / "bench-results" / f"backbone-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved to {out.relative_to(REPO_ROOT)}")
    return result
