"""`kans bench-projections`: how fast the projections workers fold the event log, against what one ingest process
accepts, in one run on its own isolated topics (issue 13).

1. the log: synthetic school years (the generator of `kans demo generate`); the first `--http-events` go through one
   ingest process (`POST /v1/events/batch`, batches of 1,000: the rate one ingest process accepts), the rest are
   sealed the same way and produced straight to the log (kafka-python, lz4), to have a log worth replaying;
2. one fresh worker (a new application id: its own group, tables and changelogs) folds the whole log;
3. two fresh workers fold it again, splitting the partitions;
0. first, on topics of its own, the same events through one ingest process while two projections workers follow
   (as `make up` runs them): how far behind they are when the burst ends, and how long until they have no lag (the
   issue's headline: 467 s after a 60 s burst, when a worker took 230 events/s);
4. `kans projections rebuild` folds it in bulk into another fresh application id (two processes), then one worker
   starts on it: timed until that worker is ready with no lag, and its provider-load view compared with the one the
   folding worker made (they must be equal).

Each fold is timed from the workers' start to every one of them answering /ready with no lag, and also from the
moment every worker held its partitions (its /ready page lists lag per topic) to that end: the folding alone,
without the process start and the group's first rebalance. The result is printed and saved in bench-results/.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform as host
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaProducer

from core.kafka_security import client_config
from core.progress import progress
from core.pupil_vault import PupilVault
from core.settings import Settings, get_settings
from core.topics import ensure_topics, events_topic
from kans.bench_live import _delete_topics, _log_size
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, free_port, isolated_settings, settings_env
from kans.profile_summary import summarize_file
from kans.synthetic.generator import generate
from kans.synthetic.output import post_to_ingest
from kans.synthetic.params import GeneratorParams
from schemas.registry import SUBMISSION_LIST_ADAPTER, seal
from services.projections.rebuild import rebuild

YEARS = ("2024-2025", "2025-2026")


def _lag(url: str) -> int | None:
    """The worker's lag over every topic it reads (None: not up, or not holding its partitions yet)."""
    try:
        body = httpx.get(f"{url}/ready", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    lags = body.get("lag") or {}
    if not lags or any(not lag or lag.get("lag_events") is None for lag in lags.values()):
        return None
    return sum(int(lag["lag_events"]) for lag in lags.values())


def fold(settings: Settings, workers: int, events: int, logs: Path, timeout_s: float = 1800,
         profile: Path | None = None, reuse_app_id: bool = False) -> dict[str, Any]:  # fmt: skip
    """`workers` fresh projections workers fold the whole log; their topics are deleted afterwards. `profile`: the
    (one) worker runs under py-spy, which writes its samples there (raw format) when the fold is done.
    `reuse_app_id`: the workers start on `settings.projections_app_id` as it is (a rebuilt one), not a new one."""
    app_id = settings.projections_app_id if reuse_app_id else f"kans-fold-{uuid.uuid4().hex[:6]}"
    ensure_topics(Settings(**{**settings.model_dump(), "projections_app_id": app_id}))  # its load-changes topic
    env = {**settings_env(settings), "KANS_PROJECTIONS_APP_ID": app_id}  # as the tools' principal (admin)
    ports = [free_port() for _ in range(workers)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    procs = []
    began = time.perf_counter()
    command = [sys.executable, "-m", "kans.cli", "serve", "projections"]
    if profile is not None:
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "100",
                   "--output", str(profile), "--", *command]  # fmt: skip
    for port in ports:
        log = open(logs / f"fold-{workers}-{port}.log", "ab")  # noqa: SIM115 - owned by the child process
        procs.append(subprocess.Popen(command, cwd=REPO_ROOT,
                                      env={**env, "KANS_PROJECTIONS_PORT": str(port)}, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    holding: float | None = None
    try:
        with progress(f"bench: {workers} worker(s) fold the log", events) as shown:
            while True:
                if time.perf_counter() - began > timeout_s:
                    raise RuntimeError(f"{workers} worker(s) did not fold {events} events in {timeout_s:.0f} s")
                if any(proc.poll() is not None for proc in procs):
                    raise RuntimeError(f"a worker exited: see {logs}")
                lags = [_lag(url) for url in urls]
                if all(lag is not None for lag in lags):
                    holding = holding or time.perf_counter()
                    left = sum(lag or 0 for lag in lags)
                    shown.advance(max(0, events - left - shown.done))
                    if left == 0:
                        break
                time.sleep(0.1)
        done = time.perf_counter()
        rows = _provider_load(urls)
    finally:
        for proc in procs:
            # py-spy writes its samples when interrupted (SIGINT stops the worker too); SIGTERM for anything left.
            os.killpg(proc.pid, signal.SIGINT if profile is not None else signal.SIGTERM)
            proc.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        _delete_topics(settings, f"{settings.topic_prefix}{app_id}-")
    assert holding is not None
    total, folding = done - began, done - holding
    return {"workers": workers, "events": events, "seconds_from_start": round(total, 1),
            "seconds_folding": round(folding, 1), "events_per_s_from_start": round(events / total),
            "events_per_s_folding": round(events / max(folding, 1e-3)), "rows": rows}  # fmt: skip


def _provider_load(urls: list[str]) -> list[dict[str, Any]]:
    """The workers' provider-load rows (today's view), without the partition each is tagged with, by provider and
    module."""
    rows = [row for url in urls for row in httpx.get(f"{url}/provider-load", timeout=30).json()["rows"]]
    return sorted(({k: v for k, v in row.items() if k != "partition"} for row in rows),
                  key=lambda row: (row["provider_id"], row["module_id"]))  # fmt: skip


def follow_burst(base: Settings, submissions: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """`submissions` through one ingest process (one client, batches of 1,000) while two projections workers follow,
    on topics of their own; their lag when the burst ends and how long until it is 0."""
    settings = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING",
                                 **security_of(base))  # fmt: skip
    second = free_port()
    urls = [f"http://127.0.0.1:{settings.projections_port}", f"http://127.0.0.1:{second}"]
    settings = Settings(**{**settings.model_dump(), "projections_urls": ",".join(urls)})
    ensure_topics(settings)
    try:
        with ServiceProcesses(settings, workdir / "logs", more_projections={"projections-2": second}) as services:
            services.start("ingest", "projections", "projections-2")
            what = "bench: a burst through one ingest process, two workers following"
            with progress(what, len(submissions)) as shown:
                began = time.perf_counter()
                post_to_ingest(submissions, settings.ingest_base_url, on_batch=shown.advance)
                ended = time.perf_counter()
            at_end = [_lag(url) for url in urls]
            while any(lag != 0 for lag in (_lag(url) for url in urls)):
                if time.perf_counter() - ended > 1800:
                    raise RuntimeError("the workers did not catch up within 1,800 s of the burst's end")
                time.sleep(0.1)
            caught_up = time.perf_counter()
    finally:
        _delete_topics(settings, settings.topic_prefix)
    return {"events": len(submissions), "seconds": round(ended - began, 1),
            "accepted_per_s": round(len(submissions) / (ended - began)), "workers": 2,
            "lag_events_when_it_ended": at_end, "seconds_until_no_lag_after_it_ended": round(caught_up - ended, 1)}


def bulk_rebuild(settings: Settings, events: int, logs: Path, processes: int = 2) -> dict[str, Any]:
    """`kans projections rebuild` into a fresh application id, then one worker on it until ready with no lag."""
    rebuilt = Settings(**{**settings.model_dump(), "projections_app_id": f"kans-rebuild-{uuid.uuid4().hex[:6]}"})
    began = time.perf_counter()
    try:
        result = rebuild(rebuilt, processes, echo=lambda line: None)
        written = time.perf_counter()
        worker = fold(rebuilt, 1, events, logs, reuse_app_id=True)
        done = time.perf_counter()
    finally:
        _delete_topics(settings, f"{rebuilt.topic_prefix}{rebuilt.projections_app_id}-")
    return {"processes": processes, "events": events, "seconds_rebuild": round(written - began, 1),
            "events_per_s_rebuild": round(events / max(written - began, 1e-3)),
            "seconds_until_a_worker_on_it_is_ready": round(done - began, 1),
            "events_per_s_until_a_worker_on_it_is_ready": round(events / max(done - began, 1e-3)),
            "shares": [{k: v for k, v in share.items() if k != "partitions"} for share in result["shares"]],
            "rows": worker["rows"]}  # fmt: skip


def produce_sealed(settings: Settings, submissions: list[dict[str, Any]]) -> float:
    """The submissions sealed as the ingest seals them, produced straight to the log; events/s of the sending."""
    now, secret = datetime.now(UTC), get_settings().pupil_key_secret.get_secret_value().encode()
    vault = PupilVault(None)  # no pupil register here: the projections never read it
    producer = KafkaProducer(**client_config(settings), acks="all", enable_idempotence=True, linger_ms=5,
                             compression_type="lz4", batch_size=256 * 1024)  # fmt: skip
    topic, sent = events_topic(settings), 0
    try:
        with progress("bench: the rest of the log, produced directly", len(submissions)) as shown:
            started = time.perf_counter()
            for i in range(0, len(submissions), 2000):
                for submission in SUBMISSION_LIST_ADAPTER.validate_python(submissions[i : i + 2000]):
                    event = seal(submission, now, secret, vault)
                    producer.send(topic, key=event.stream_id.encode(), value=event.model_dump_json().encode())
                    sent += 1
                shown.advance(len(submissions[i : i + 2000]))
            producer.flush()
            return sent / max(time.perf_counter() - started, 1e-3)
    finally:
        producer.close()


def run_bench_projections(scale: float, http_events: int, echo: Callable[[str], None] = print,
                          profile: bool = False) -> dict[str, Any]:  # fmt: skip
    base = get_settings()
    kafka = LocalKafka(base)
    kafka.start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / f"projections-{stamp}"
    settings = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING",
                                 **security_of(kafka.client_settings()))  # fmt: skip
    ensure_topics(settings)
    result: dict[str, Any] = {"when": stamp, "machine": f"{host.node()} {host.machine()} {os.cpu_count()} cores "
                              f"python {host.python_version()}", "years": list(YEARS), "scale": scale}  # fmt: skip
    submissions = list(generate(GeneratorParams(years=YEARS, scale=scale)))
    head, rest = submissions[:http_events], submissions[http_events:]
    echo(f"the log: {len(submissions):,} synthetic events, {len(head):,} of them through one ingest process")
    echo(f"{len(head):,} events through one ingest process while two workers follow (topics of their own)")
    result["burst_two_workers_following"] = follow_burst(settings, head, workdir / "burst")
    try:
        with ServiceProcesses(settings, workdir / "logs") as services:
            services.start("ingest")
            with progress("bench: HTTP batches to one ingest process", len(head)) as shown:
                started = time.perf_counter()
                post_to_ingest(head, settings.ingest_base_url, on_batch=shown.advance)
                ingest_rate = len(head) / (time.perf_counter() - started)
        raw_rate = produce_sealed(settings, rest) if rest else None
        events = _log_size(settings)
        result["ingest_http_events_per_s"] = round(ingest_rate)
        result["produced_directly_events_per_s"] = None if raw_rate is None else round(raw_rate)
        result["events_in_log"] = events
        echo(f"one ingest process accepted {ingest_rate:,.0f} events/s; {events:,} events in the log")
        for workers in (1, 2):
            echo(f"{workers} fresh worker(s) fold every projection from the log")
            result[f"fold_{workers}_worker{'s' if workers > 1 else ''}"] = fold(settings, workers, events,
                                                                                 workdir / "logs")  # fmt: skip
        if profile:
            echo("one more fresh worker folds the log under py-spy: where its time goes")
            samples = REPO_ROOT / "bench-results" / f"projections-{stamp}-profile.txt"
            samples.parent.mkdir(exist_ok=True)
            profiled = fold(settings, 1, events, workdir / "logs", profile=samples)
            result["profile_1_worker"] = {**summarize_file(samples), "samples": str(samples.relative_to(REPO_ROOT)),
                                          "events_per_s_folding_under_py_spy": profiled["events_per_s_folding"]}
        echo("the log rebuilt in bulk (kans projections rebuild, two processes), then one worker on it")
        result["bulk_rebuild"] = bulk_rebuild(settings, events, workdir / "logs")
        result["bulk_rebuild"]["view_equal_to_the_folding_worker"] = (
            result["bulk_rebuild"].pop("rows") == result["fold_1_worker"]["rows"])
        for key in ("fold_1_worker", "fold_2_workers"):
            result[key].pop("rows")
        one = result["fold_1_worker"]["events_per_s_folding"]
        result["one_worker_vs_one_ingest"] = round(one / ingest_rate, 2)
    finally:
        _delete_topics(settings, settings.topic_prefix)
    out = REPO_ROOT / "bench-results" / f"projections-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    echo(json.dumps(result, indent=2))
    echo(f"saved to {out.relative_to(REPO_ROOT)}")
    return result
