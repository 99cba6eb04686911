"""The settings every KANS faust worker shares, and how one is run as a process (`kans serve <worker>`)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

import faust

from core.faust_consumer import use_eager_delivery
from core.faust_store import register as register_store
from core.kafka_security import faust_credentials
from core.logs import configure_logging
from core.settings import Settings

log = logging.getLogger(__name__)

REBALANCE_EXIT_CODE = 75  # EX_TEMPFAIL: started again by the supervisor, as after any crash


class RebalanceClock:
    """How long an app has been in one rebalance (revoke, assign and changelog recovery: faust's `app.rebalancing`)
    without a break and without progress: a recovery that reads on (`progress`, the changelog offsets restored so
    far, moves) starts the count again, however long a large recovery takes. A pure rule: the caller passes the
    flag, the progress and the time."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.since: float | None = None
        self.progress: object = None

    def observe(self, rebalancing: bool, now: float, progress: object = None) -> float | None:
        """The seconds this rebalance has gone without progress when that is over the limit, else None."""
        if not rebalancing:
            self.since, self.progress = None, None
            return None
        if self.since is None or progress != self.progress:
            self.since, self.progress = now, progress
        lasted = now - self.since
        return lasted if self.limit_s > 0 and lasted > self.limit_s else None


def recovery_progress(app: faust.App) -> object:
    """The changelog offsets faust's recovery has restored so far, summed (it grows while a recovery reads); a new
    object when faust's dict changed under this thread's read, which counts as progress."""
    try:
        offsets = list(app.tables.recovery.active_offsets.values())  # type: ignore[attr-defined]
    except (RuntimeError, AttributeError):
        return object()
    # A partition whose recovery has not read anything yet may say None (seen at a worker's start: the sum raised
    # TypeError and the watchdog's thread died, leaving the worker unwatched).
    return sum(offset for offset in offsets if isinstance(offset, int))


def exit_when_stuck_in_a_rebalance(app: faust.App, limit_s: float, every_s: float = 1.0) -> threading.Thread | None:
    """faust 0.15 with aiokafka 0.14 can hang in a rebalance: the worker stays up, holds no partition, logs nothing
    and is never ready again (seen in the two-worker replay: "Heartbeat failed ... rebalancing", then silence). A
    supervisor restarts a process that exits, not one that hangs, so a worker past `limit_s` in one rebalance without
    progress (a changelog recovery that reads on is progress: `RebalanceClock`) exits
    (code 75) at once, without a graceful shutdown that could hang in the same place. Safe: offsets are committed
    only for what the agents processed (core/faust_order.py), so the next start goes on from there.

    A thread, not a faust timer: faust starts an app's timers only once its tables were first recovered, so a timer
    would not see a worker that hangs in its first rebalance. faust sets the flag from its consumer's thread."""
    if limit_s <= 0:
        return None
    clock = RebalanceClock(limit_s)

    def watch() -> None:
        while True:
            time.sleep(every_s)
            rebalancing = bool(app.rebalancing)
            progress = recovery_progress(app) if rebalancing else None
            if (lasted := clock.observe(rebalancing, time.monotonic(), progress)) is not None:
                log.critical("%s has been rebalancing for %.0f s without progress (over KANS_FAUST_REBALANCE_EXIT_S="
                             "%g): exiting with code %d, to be started again", app.conf.id, lasted, limit_s,
                             REBALANCE_EXIT_CODE)  # fmt: skip
                logging.shutdown()
                os._exit(REBALANCE_EXIT_CODE)

    thread = threading.Thread(target=watch, name="faust-rebalance-watchdog", daemon=True)
    thread.start()
    return thread


class Worker(faust.Worker):
    """faust's worker without its terminal spinner. To spin on every log message, the spinner sets the root logger
    to DEBUG whenever the level asked is WARNING or above: every debug call of faust and aiokafka (several per
    message) then built a log record that the handler dropped, ~5% of a projections worker's time."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


def new_faust_app(settings: Settings, app_id: str, datadir: str, host: str, port: int, **extra: Any) -> faust.App:
    """A faust app on the project's broker: in-memory tables rebuilt from their changelogs, one replica,
    offsets from the beginning for a new group, frequent commits, a web server for its readiness page, and a
    consumer that delivers each fetched message in place (core/faust_consumer.py)."""
    app = faust.App(
        f"{settings.topic_prefix}{app_id}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store=register_store(),  # faust's in-memory store, minus its drop after a recovery (core/faust_store.py)
        datadir=str(settings.data_dir / datadir),
        topic_partitions=settings.event_partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        producer_linger=0.002,
        # A batch of events becomes many changelog and internal records at once: sent compressed, in few requests.
        producer_compression_type="lz4",
        producer_max_batch_size=256 * 1024,
        web_bind=host,
        web_host=host,
        web_port=port,
        # A worker killed without leaving the group holds its partitions until the broker gives up on its heartbeats
        # (sent by the consumer's own thread every 3 s, not by the agents): 10 s by default instead of faust's 60.
        broker_session_timeout=settings.faust_session_timeout_s,
        Worker=Worker,
        **extra,
    )
    use_eager_delivery(app)  # each fetched message handed to the agents without a task per message
    return app


def run_worker(app: faust.App, name: str, settings: Settings, host: str, port: int) -> None:
    """Run `app` as a faust worker in this process (blocks until stopped)."""
    configure_logging(settings.log_level, name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates its data folder, not the parents
    level = {"warning": "warn", "critical": "crit"}.get(settings.log_level.lower(), settings.log_level.lower())
    exit_when_stuck_in_a_rebalance(app, settings.faust_rebalance_exit_s)
    sys.argv = [f"kans-{name}", "worker", "--loglevel", level, "--web-port", str(port), "--web-bind", host]
    app.main()
