"""Shared fixtures: the suite's own broker (tests/suite_broker.py), isolated settings (a uuid topic prefix per
test or platform), one chDB engine, the platform as processes.

Only the integration and e2e tiers may use the fixtures that give Kafka, chDB or processes: tests/unit/conftest.py
fails a unit test that asks for one. Nothing here starts anything until a test asks for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.settings import Settings
from core.topics import ensure_topics
from kans.processes import isolated_settings
from tests import suite_broker
from tests.factories import capacity
from tests.platform import Platform

T = TypeVar("T")
# Fixtures that give a broker, an engine or processes: not for the unit tier.
INFRASTRUCTURE_FIXTURES = frozenset({"kafka_bootstrap", "clickhouse", "settings", "platform"})
_SESSION: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Claim the suite's broker slot and point every `Settings` of the session (and of its children) at it."""
    broker = suite_broker.claim()
    os.environ.update(broker.environment)
    _SESSION.update(broker=broker, traces_before=suite_broker.traces_of_tests())


def pytest_report_header() -> str:
    broker = _SESSION["broker"]
    return (f"suite broker: 127.0.0.1:{broker.broker_port}, data in {broker.data_dir} "
            "(started when a test needs it, removed at the end)")  # fmt: skip


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_suite` (the privacy scan) run after every other test of the session."""
    items.sort(key=lambda item: item.get_closest_marker("after_suite") is not None)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the suite's broker stopped: nothing of the tests may have landed in `make up`'s data directory."""
    written = suite_broker.traces_of_tests() - _SESSION.get("traces_before", set())
    if written:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the tests wrote into {suite_broker.DEFAULT_DATA_DIR}: {sorted(written)[:10]}"
        if reporter is not None:
            reporter.write_line(f"FAILED (separation): {message}", red=True)
        else:
            print(message)


def pytest_unconfigure(config: pytest.Config) -> None:
    if broker := _SESSION.pop("broker", None):
        broker.release()


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
def suite_broker_slot() -> suite_broker.SuiteBroker:
    """The slot this session claimed (data directory and ports); starts nothing."""
    return _SESSION["broker"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def kafka_bootstrap(suite_broker_slot: suite_broker.SuiteBroker) -> Iterator[str]:
    """The suite's own broker: started on first use, stopped at the end of the session."""
    kafka = suite_broker_slot.kafka()
    if kafka.start() == 0:
        pytest.fail(f"a broker this session did not start answers at {kafka.settings.kafka_bootstrap}")
    try:
        yield kafka.settings.kafka_bootstrap
    finally:
        kafka.stop()


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
