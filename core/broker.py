"""The broker health probe: ready means a metadata request succeeds, not that the port is open."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.errors import KafkaError


def wait_for_metadata(bootstrap: str, timeout_s: float) -> Exception | None:
    """Poll until the cluster answers a metadata request; None when it did, else the last error seen."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, client_id="kans-ready")
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


def broker_reachable(bootstrap: str, timeout_s: float = 3.0) -> bool:
    return wait_for_metadata(bootstrap, timeout_s) is None
