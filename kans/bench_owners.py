"""The ingest's ownership index: how long it takes to read the event log at start. Loads the demo (`kans demo load`)
through an isolated ingest process, checks that every event was accepted with the demo key, restarts the ingest and
times it to ready; then seals a larger synthetic history straight into another isolated event log and times the
index over it in this process. Runs on the local broker (started if needed); figures printed and saved as JSON.

    python -m kans.bench_owners [--scale 10] [--years 2017-2018..2026-2027]
"""

from __future__ import annotations

import argparse
import json
import platform as host
import time
from datetime import UTC, date, datetime
from typing import Any

import httpx
from kafka import KafkaProducer

from core.kafka_security import client_config
from core.pupil_vault import PupilVault
from core.settings import Settings, get_settings
from core.topics import ensure_topics, events_topic
from kans.demo import load_demo
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, isolated_settings
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.ingest.owner_index import OwnerIndex


def time_index(settings: Settings, timeout_s: float = 3600) -> dict[str, Any]:
    """Build an ownership index over `settings`' event log in this process; its load figures."""
    index = OwnerIndex(settings)
    started = time.perf_counter()
    index.start()
    try:
        if not index.ready.wait(timeout_s):
            raise RuntimeError(f"the ownership index was not loaded within {timeout_s} s")
        seconds = time.perf_counter() - started
        stats = index.stats
        return {"records": stats.records, "parsed": stats.parsed, "owners": stats.owners, "seconds": round(seconds, 3),
                "records_per_s": round(stats.records / seconds)}  # fmt: skip
    finally:
        index.stop()


def demo_through_the_ingest(base: Settings, workdir: Any) -> dict[str, Any]:
    """`kans demo load` into an isolated ingest, then the ingest restarted: time to ready, owners it knows."""
    settings = isolated_settings(workdir / "demo", base.kafka_bootstrap, log_level="WARNING", **security_of(base))
    ensure_topics(settings)
    with ServiceProcesses(settings, workdir / "logs") as services:
        services.start("ingest")
        loaded = load_demo(settings.ingest_base_url, date.today())
        services.stop("ingest")
        started = time.perf_counter()
        services.start("ingest")
        to_ready = time.perf_counter() - started
        ready = httpx.get(f"{settings.ingest_base_url}/ready", timeout=10).json()
    return {"demo_load": loaded, "all_accepted": loaded["created"] + loaded["duplicates"] == loaded["events"],
            "restart_to_ready_s": round(to_ready, 2), "owners_known_after_restart": ready["owners_known"],
            "index": time_index(settings)}  # fmt: skip


def history_straight_into_the_log(base: Settings, workdir: Any, scale: float, years: str) -> dict[str, Any]:
    """A synthetic history sealed and produced to an isolated event log (no ingest), then the index over it."""
    settings = isolated_settings(workdir / "history", base.kafka_bootstrap, log_level="WARNING", **security_of(base))
    ensure_topics(settings)
    now, secret = datetime.now(UTC), base.pupil_key_secret.get_secret_value().encode()
    vault = PupilVault(workdir / "history" / "vault" / "pupils.sqlite")
    producer = KafkaProducer(**client_config(settings), acks="all", enable_idempotence=True,
                             compression_type="lz4", linger_ms=20, batch_size=512 * 1024)  # fmt: skip
    count = 0
    try:
        for submission in generate(GeneratorParams(years=year_range(years), seed=42, scale=scale)):
            event = seal(SUBMISSION_ADAPTER.validate_python(submission), now, secret, vault)
            producer.send(events_topic(settings), key=event.stream_id.encode(), value=event.model_dump_json().encode(),
                          headers=[("event_type", event.event_type.encode())])  # fmt: skip
            count += 1
        producer.flush()
    finally:
        producer.close()
    return {"scale": scale, "years": years, "events": count, "index": time_index(settings)}


def run(scale: float, years: str) -> dict[str, Any]:
    kafka = LocalKafka(get_settings())
    kafka.start()
    base = kafka.client_settings()  # the tools act as admin on the secured broker; each service as its own principal
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / f"owners-{stamp}"
    result = {
        "when": stamp,
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "demo": demo_through_the_ingest(base, workdir),
        "history": history_straight_into_the_log(base, workdir, scale, years),
    }
    out = REPO_ROOT / "bench-results" / f"owners-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))  # noqa: T201 - the command's output
    print(f"saved to {out.relative_to(REPO_ROOT)}")  # noqa: T201
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0, help="desks of Brussels' size side by side")
    parser.add_argument("--years", default="2017-2018..2026-2027", help="school years of the synthetic history")
    args = parser.parse_args()
    run(args.scale, args.years)


if __name__ == "__main__":
    main()
