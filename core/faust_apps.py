"""The settings every KANS faust worker shares, and how one is run as a process (`kans serve <worker>`)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import faust

from core.faust_consumer import use_eager_delivery
from core.faust_store import register as register_store
from core.kafka_security import faust_credentials
from core.logs import configure_logging
from core.settings import Settings


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
    sys.argv = [f"kans-{name}", "worker", "--loglevel", level, "--web-port", str(port), "--web-bind", host]
    app.main()
