"""The broker health probe: ready means a metadata request succeeds, not that the port is open."""

from __future__ import annotations

import asyncio
import time

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from core.kafka_security import client_config, security_config
from core.settings import Settings

# How long a readiness page waits for the broker: it must answer well within an orchestrator's probe timeout.
READY_TIMEOUT_S = 2.0


def wait_for_metadata(settings: Settings, timeout_s: float) -> Exception | None:
    """Poll until the cluster answers a metadata request; None when it did, else the last error seen."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        try:
            admin = KafkaAdminClient(**client_config(settings), request_timeout_ms=3000, client_id="kans-ready",
                                     bootstrap_timeout_ms=3000)  # the default waits 30 s for a broker that is down
            try:
                admin.describe_cluster()
                return None
            finally:
                admin.close()
        except (KafkaError, OSError) as err:
            last = err
        if time.monotonic() + 0.5 >= deadline:
            return last
        time.sleep(0.5)


def broker_reachable(settings: Settings, timeout_s: float = 3.0) -> bool:
    return wait_for_metadata(settings, timeout_s) is None


async def broker_problem(settings: Settings, timeout_s: float = READY_TIMEOUT_S) -> str | None:
    """None when the cluster answered a metadata request within `timeout_s`; otherwise what went wrong.

    For readiness pages: asynchronous and bounded, so the page answers whether the broker does or not, and nothing
    is left behind (kafka-python's admin client, `wait_for_metadata`, blocks and leaves its I/O thread running
    after every failed bootstrap)."""
    bootstrap = settings.kafka_bootstrap
    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id="kans-ready", **security_config(settings),
                            request_timeout_ms=max(1, int(timeout_s * 1000)))  # fmt: skip
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return None
    except TimeoutError:
        return f"no metadata from {bootstrap} within {timeout_s:g} s"
    except (AIOKafkaError, OSError) as err:
        return f"unreachable at {bootstrap} ({err.__class__.__name__})"
    finally:
        await client.close()
