"""Shared fixtures: the real local broker, isolated settings (a uuid topic prefix per session/test)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.settings import Settings
from core.topics import ensure_topics
from kans.kafka_local import LocalKafka
from kans.processes import isolated_settings
from tests.factories import capacity
from tests.platform import Platform

T = TypeVar("T")
# Topics that existed before this session (a developer's broker keeps earlier runs' topics); None: no broker yet.
TOPICS_BEFORE_SESSION: set[str] | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global TOPICS_BEFORE_SESSION
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=Settings().kafka_bootstrap, bootstrap_timeout_ms=2000)
        try:
            TOPICS_BEFORE_SESSION = set(admin.list_topics())
        finally:
            admin.close()
    except KafkaError:
        TOPICS_BEFORE_SESSION = None


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


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chDB engine for the session (chDB allows one data directory per process); tests use own databases."""
    from services.warehouse.clickhouse import get_client

    data = tmp_path_factory.mktemp("chdb")
    client = get_client(Settings(data_dir=Path(data)))
    yield client
    client.close()


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str) -> Settings:
    """Settings with a fresh topic prefix whose topics exist."""
    s = isolated_settings(tmp_path, kafka_bootstrap, publish_timeout_s=10.0)
    ensure_topics(s)
    return s


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    settings = isolated_settings(tmp_path_factory.mktemp("platform"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("logs"))
    try:
        platform.start_all()
        # Warm-up: the first event through a fresh worker pays for partition assignment and recovery.
        platform.post(capacity("warm-up", "individual", 1))
        wait_for(lambda: platform.load("warm-up"), timeout_s=60, what="the warm-up event in the projections")
        yield platform
    finally:
        platform.close()
