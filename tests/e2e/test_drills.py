"""Fault drills with the services as processes, under load through the ingest: kill -9 the projections worker, then
the API with its ClickHouse writer, then the broker itself, restart each; nothing acknowledged is lost or doubled,
and poison records produced straight to the log meanwhile are dead-lettered, not fatal. The inbound worker fed poison
dead-letters it, publishes what follows, and stops on SIGTERM.

The platform here is the drills' own (its own topics and database): a killed process must not disturb other tests.
The broker drill runs on a broker of its own (the suite's broker is shared by every test of the session).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from core.dead_letters import BadRecord, header_values, read_event
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import dead_letter_topic, ensure_topics, event_dead_letter_topic, events_topic, inbound_topic
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.processes import free_port, isolated_settings
from schemas.envelope import event_id_for
from services.projections.agents import TRACK
from tests.conftest import wait_for
from tests.drill_load import Load, kill_9
from tests.event_log import (
    KINDS,
    RAW_HEADER,
    dead_letters,
    poison,
    produce_raw,
    recompute_provider_load,
    without_partitions,
)
from tests.factories import capacity, referral
from tests.kafka_helpers import read_topic
from tests.platform import Platform

DAY = date(2025, 11, 1)
PROVIDERS = ("drill-a", "drill-b", "drill-c")


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    settings = isolated_settings(tmp_path_factory.mktemp("drills"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("drill-logs"))
    try:
        platform.start_all()
        platform.post(*(capacity(p, "individual", 50) for p in PROVIDERS))
        yield platform
    finally:
        platform.close()


class Supervised:
    """What the compose file's `restart: unless-stopped` does: a service that stopped is started again."""

    def __init__(self, platform: Platform, name: str) -> None:
        self.platform, self.name, self.restarts = platform, name, 0

    def alive(self) -> bool:
        if self.platform.procs[self.name].poll() is not None:
            self.platform.procs.pop(self.name)
            self.restarts += 1
            self.platform.start(self.name)
        return True


def worker_caught_up(platform: Platform) -> bool:
    body = httpx.get(f"{platform.settings.projections_base_url}/ready", timeout=10).json()
    return body["ready"] and all(lag is not None and lag["lag_events"] == 0 for lag in body["lag"].values())


def worker_state(platform: Platform) -> str:
    """What a failed wait shows: the worker's readiness page and the end of its log."""
    try:
        ready = httpx.get(f"{platform.settings.projections_base_url}/ready", timeout=10).text
    except httpx.HTTPError as err:
        ready = f"no answer ({err!r})"
    log = (platform.logs / "projections.log").read_text(errors="replace").splitlines()
    return f"/ready: {ready}\nlog (last 60 lines):\n" + "\n".join(log[-60:])


def test_projections_worker_killed_under_load_ends_equal_to_a_recomputation(drills: Platform) -> None:
    settings = drills.settings
    with Load(drills, "KP") as load:
        wait_for(lambda: load.events >= 300, what="load under way")
        bad = produce_raw(settings.kafka_bootstrap, events_topic(settings),
                          [poison(kind, i) for i, kind in enumerate(KINDS)])  # fmt: skip
        kill_9(drills, "projections")
        wait_for(lambda: load.events >= 600, what="load while the worker is dead")
        restarted = time.monotonic()
        drills.start("projections")
        ready = time.monotonic()
        after = load.events
        wait_for(lambda: load.events >= after + 300, what="load after the restart")
    supervised = Supervised(drills, "projections")
    try:
        recovered = wait_for(lambda: supervised.alive() and worker_caught_up(drills) and time.monotonic(),
                             timeout_s=240, what="caught up")  # fmt: skip
    except AssertionError as err:
        raise AssertionError(f"{err}\n{worker_state(drills)}") from None

    rewinds = httpx.get(f"{settings.projections_base_url}/ready", timeout=10).json()["rewinds"]
    values = [record.value for record in read_topic(settings.kafka_bootstrap, events_topic(settings), timeout_s=30)]
    view = httpx.get(f"{settings.projections_base_url}/provider-load", params={"date": DAY.isoformat()}, timeout=10)
    body = view.json()
    assert (body["lag_events"], view.headers["X-Consumer-Lag"]) == (0, "0")
    assert without_partitions(body["rows"]) == recompute_provider_load(values, DAY)
    assert all(row["active"] > 20 and row["waiting"] > 5 for row in body["rows"])
    letters = dead_letters(settings.kafka_bootstrap, event_dead_letter_topic(settings), TRACK)
    # At least once: a dead letter sent before the kill may be sent again after it; its origin says it is the same.
    origins = {(int(d["original-partition"]), int(d["original-offset"])): d["error-type"] for d in letters}
    assert origins == {(p.partition, p.offset): kind for p, kind in zip(bad, KINDS, strict=True)}
    print(f"projections drill: {load.events} events acknowledged ({load.refused} refused), {len(values)} records "
          f"in the log, view equal to the recomputation, {len(letters)} dead letters for {len(bad)} poison "
          f"records; ready {ready - restarted:.1f} s, caught up {recovered - restarted:.1f} s after the restart began "
          f"({supervised.restarts} more restarts after it stopped; rewinds to skipped offsets: {rewinds})")


def test_api_with_its_writer_killed_under_load_stores_each_acknowledged_event_once(drills: Platform) -> None:
    with Load(drills, "KA") as load:
        wait_for(lambda: load.events >= 300, what="load under way")
        kill_9(drills, "api")
        wait_for(lambda: load.events >= 600, what="load while the API is dead")
        restarted = time.monotonic()
        drills.start("api")
        ready = time.monotonic()
        after = load.events
        wait_for(lambda: load.events >= after + 300, what="load after the restart")

    def writer_caught_up() -> bool:
        writer = drills.api.get("/ready").json()["writer"]
        return bool(writer["running"] and writer.get("lag_events") == 0)

    recovered = wait_for(lambda: writer_caught_up() and time.monotonic(), timeout_s=90, what="writer caught up")
    stored_twice, missing, foreign = 0, 0, 0
    for rid, acknowledged in load.acknowledged.items():
        events = drills.api.get(f"/v1/referrals/{rid}/events").json()["events"]
        ids = [e["event_id"] for e in events]
        stored_twice += len(ids) - len(set(ids))
        missing += len(acknowledged - set(ids))
        foreign += len(set(ids) - acknowledged)
    assert (missing, stored_twice, foreign) == (0, 0, 0)
    writer = drills.api.get("/ready").json()["writer"]
    assert (writer["running"], writer["crashed"]) == (True, None)
    print(f"API drill: {load.events} events acknowledged ({load.refused} refused) for {len(load.acknowledged)} "
          f"referrals, each stored once in ClickHouse; API ready {ready - restarted:.1f} s and writer caught up "
          f"{recovered - restarted:.1f} s after the restart began")  # fmt: skip


def event_ids(records: list[Any]) -> list[str]:
    """The event ids of the records that are events (the drills put poison on the log too)."""
    ids = []
    for record in records:
        try:
            ids.append(str(read_event(record.value).event_id))
        except BadRecord:
            continue
    return ids


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - read at once
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def inbound_poison(n: int) -> list[tuple[bytes | None, str]]:
    """Every kind of message the inbound worker once choked on, each with the reason its dead letter must give."""
    return [
        (None, "no_value"),
        (b"\xff\xfe\x81 not UTF-8", "not_utf8"),
        (b"<not json>", "invalid_json"),
        (b"[" * 30_000 + b"]" * 30_000, "invalid_json"),  # nested too deep for a decoder
        (json.dumps({**referral(f"R-INP-{n}-HUGE"), "pad": "x" * 900_000}).encode(), "oversized"),
        (json.dumps({**referral(f"R-INP-{n}-SY"), "school_year": "1999"}).encode(), "invalid_submission"),
        # A string of 60 KB: scanning it for personal data took ~20 s of the worker's only thread before.
        (json.dumps({**referral(f"R-INP-{n}-LONG"), "note": "x" * 60_000}).encode(), "invalid_submission"),
    ]


def test_inbound_worker_fed_poison_dead_letters_it_publishes_what_follows_and_stops_on_sigterm(
    drills: Platform,
) -> None:
    settings = drills.settings
    drills.start("inbound")
    proc = drills.procs["inbound"]
    key, poison_records = uuid.uuid4().hex.encode(), inbound_poison(1)
    valid = [referral(f"R-INP-OK-{i}") for i in range(5)]
    values = [value for value, _ in poison_records] + [json.dumps(s).encode() for s in valid]
    producer = KafkaProducer(**client_config(settings), acks="all", max_request_size=2 * 1024 * 1024)
    try:
        futures = [producer.send(inbound_topic(settings), key=key, value=value,
                                 headers=[("api-key", b"kans-dev-lars"), RAW_HEADER]) for value in values]  # fmt: skip
        offsets = [future.get(timeout=30).offset for future in futures]
    finally:
        producer.close()
    began = time.monotonic()
    wanted = {str(event_id_for("lars", s["source_ref"])) for s in valid}

    def published() -> dict[str, int] | None:
        ids = event_ids(read_topic(settings.kafka_bootstrap, events_topic(settings)))
        counts = {i: ids.count(i) for i in wanted}
        return counts if all(counts.values()) else None

    counts = wait_for(published, timeout_s=60, what="the valid messages after the poison published")
    took = time.monotonic() - began
    ready = httpx.get(drills.ready_url("inbound"), timeout=5)

    def letters() -> dict[int, str] | None:
        found = {int(h["original-offset"]): h["error-type"]
                 for h in (header_values(r.headers) for r in read_topic(settings.kafka_bootstrap,
                                                                        dead_letter_topic(settings)))}  # fmt: skip
        return found if len(found) >= len(poison_records) else None

    reasons = wait_for(letters, what="a dead letter for every poison message")
    assert counts == dict.fromkeys(wanted, 1)
    assert reasons == {offset: reason for offset, (_, reason) in zip(offsets, poison_records, strict=False)}
    assert (ready.status_code, ready.json()["problems"]) == (200, [])
    before = cpu_seconds(proc.pid)
    time.sleep(3)
    idle_cpu = cpu_seconds(proc.pid) - before
    assert idle_cpu < 0.9, f"the worker used {idle_cpu:.2f} s of CPU in 3 s with nothing to do"

    stopping = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    finally:
        drills.procs.pop("inbound")
    stopped = time.monotonic() - stopping
    print(f"inbound poison drill: {len(poison_records)} poison messages dead-lettered, {len(valid)} valid ones after "
          f"them published once each within {took:.1f} s; idle CPU {idle_cpu:.2f} s in 3 s; exited {stopped:.1f} s "
          f"after SIGTERM (code {proc.returncode})")


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker for the broker drill alone (its own data directory and ports): the drill kills it."""
    port = free_port()
    kafka = LocalKafka(Settings(data_dir=tmp_path_factory.mktemp("drill-broker"), kafka_bootstrap=f"127.0.0.1:{port}",
                                kafka_broker_port=port, kafka_controller_port=free_port()))  # fmt: skip
    assert kafka.start() != 0, f"a broker this test did not start answers at 127.0.0.1:{port}"
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture(scope="module")
def broker_drill(tmp_path_factory: pytest.TempPathFactory, own_broker: LocalKafka) -> Iterator[Platform]:
    bootstrap = own_broker.settings.kafka_bootstrap
    settings = isolated_settings(tmp_path_factory.mktemp("broker-drill"), bootstrap, log_level="WARNING",
                                 **security_of(own_broker.client_settings()))  # its own admin and credentials
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("broker-drill-logs"))
    try:
        platform.start_all()
        platform.post(*(capacity(p, "individual", 50) for p in PROVIDERS))
        yield platform
    finally:
        platform.close()


def kill_9_broker(kafka: LocalKafka) -> None:
    pid = kafka.pid()
    assert pid is not None, "the drill's broker is not running"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # started by this process: reap it


def readiness(url: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(url, timeout=10)
    return response.status_code, response.json()


def test_broker_killed_under_load_refuses_with_503_and_loses_or_doubles_nothing(
    broker_drill: Platform, own_broker: LocalKafka
) -> None:
    platform, settings = broker_drill, broker_drill.settings
    ingest_ready, api_ready = platform.ready_url("ingest"), platform.ready_url("api")
    with Load(platform, "KB") as load:
        wait_for(lambda: load.events >= 300, timeout_s=60, what="load under way")
        assert readiness(ingest_ready)[0] == 200
        killed = time.monotonic()
        kill_9_broker(own_broker)
        _, ingest_down = wait_for(lambda: (r := readiness(ingest_ready))[0] == 503 and r, timeout_s=30,
                                  what="the ingest not ready without its broker")  # fmt: skip
        unready_after = time.monotonic() - killed
        api_status, api_down = readiness(api_ready)
        refused = load.answers[503]
        wait_for(lambda: load.answers[503] > refused, timeout_s=60, what="a 503 while the broker is down")
        down_for = time.monotonic() - killed
        restarting = time.monotonic()
        own_broker.start()
        broker_back = time.monotonic() - restarting
        first = wait_for(lambda: min((t for t in load.accepted_at if t > restarting), default=None), timeout_s=120,
                         what="a 202 after the broker's restart")  # fmt: skip
        after = load.events
        wait_for(lambda: load.events >= after + 300, timeout_s=120, what="load after the restart")

    assert (ingest_down["ready"], ingest_down["kafka"]) == (False, False)
    assert ingest_down["problems"][0].startswith("kafka: "), ingest_down
    assert api_status == 503 and api_down["problems"][0].startswith("kafka: "), api_down
    assert set(load.answers) <= {202, 503}, f"answers other than 202 and 503: {load.answers}"
    wait_for(lambda: readiness(ingest_ready)[0] == 200, timeout_s=30, what="the ingest ready again")

    def writer_caught_up() -> bool:
        status, body = readiness(api_ready)
        return bool(status == 200 and body["writer"]["running"] and body["writer"]["lag_events"] == 0)

    # The projections worker stops rather than skip messages faust handed over out of order after the outage; the
    # compose file's restart policy starts it again, as `Supervised` does here.
    supervised = Supervised(platform, "projections")
    recovered = wait_for(
        lambda: supervised.alive() and writer_caught_up() and worker_caught_up(platform) and time.monotonic(),
        timeout_s=180, what="the writer and the projections caught up",
    )  # fmt: skip

    stored_twice, missing, foreign, stored = 0, 0, 0, 0
    for rid, acknowledged in load.acknowledged.items():
        ids = [e["event_id"] for e in platform.api.get(f"/v1/referrals/{rid}/events").json()["events"]]
        stored += len(set(ids))
        stored_twice += len(ids) - len(set(ids))
        missing += len(acknowledged - set(ids))
        foreign += len(set(ids) - acknowledged)
    records = read_topic(settings, events_topic(settings), timeout_s=30)
    copies = Counter(event_ids(records))
    view = httpx.get(f"{settings.projections_base_url}/provider-load", params={"date": DAY.isoformat()}, timeout=10)
    assert (missing, stored_twice, foreign) == (0, 0, 0)
    assert without_partitions(view.json()["rows"]) == recompute_provider_load([r.value for r in records], DAY)
    # The publisher reconnects within a second (reconnect_backoff_max_ms): with kafka-python's default of 30 s the
    # first 202 came 20-24 s after the broker answered again.
    assert first - restarting - broker_back < 10, f"first 202 {first - restarting - broker_back:.1f} s after the broker"
    print(f"broker drill: {load.events} events acknowledged (202) for {len(load.acknowledged)} referrals, {stored} "
          f"stored in ClickHouse, 0 missing, 0 twice; {sum(copies.values()) - len(copies)} extra copies in the log "
          f"(refused attempts that landed), provider-load view equal to the recomputation; answers "
          f"{dict(load.answers)}; "
          f"ingest /ready 503 {unready_after:.1f} s after the kill, broker down {down_for:.1f} s, its restart took "
          f"{broker_back:.1f} s, first 202 {first - restarting:.1f} s after the restart began "
          f"({first - restarting - broker_back:.1f} s after the broker answered); writer and projections caught up "
          f"{recovered - restarting:.1f} s after the restart began ({supervised.restarts} restarts of the projections "
          "worker after it stopped on skipped messages)")
