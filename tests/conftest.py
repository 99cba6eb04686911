"""Shared fixtures: the real local broker, isolated settings (a uuid topic prefix per session/test)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kans.kafka_local import LocalKafka
from kans.processes import isolated_settings
from kans.settings import Settings
from kans.topics import ensure_topics

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.05, what: str = "") -> T:
    """Poll `probe` until it returns a truthy value; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as err:  # noqa: BLE001 - keep polling; report the last failure
            last = err
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or probe}: last={last!r}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real local broker; started here if `kans test` did not start it already (start is idempotent)."""
    settings = Settings()
    LocalKafka(settings).start()
    return settings.kafka_bootstrap


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str) -> Settings:
    """Settings with a fresh topic prefix whose topics exist."""
    s = isolated_settings(tmp_path, kafka_bootstrap, publish_timeout_s=10.0)
    ensure_topics(s)
    return s
