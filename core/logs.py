"""Structured (key=value) logging for every service; the Kafka clients' chatter kept at WARNING."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO", service: str = "kans") -> None:
    fmt = f"%(asctime)s level=%(levelname)s service={service} logger=%(name)s msg=%(message)s"
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr, force=True)
    for noisy in ("kafka", "aiokafka", "faust.transport", "mode", "clickhouse_connect", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Connection errors repeat on every reconnect attempt; the services report the outage once themselves.
    logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
