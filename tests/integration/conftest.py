"""Integration tier: the suite's own Kafka broker, real embedded ClickHouse (chDB) in this process.

Every test of this folder is marked `integration` (`kans test integration` selects the folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from kans.processes import ServiceProcesses

HERE = Path(__file__).parent


@pytest.fixture
def dispatch_worker(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcesses]:
    """The dispatch worker and the ingest's Kafka way in (its events reach the log through it), as processes."""
    with ServiceProcesses(settings, tmp_path / "logs") as services:
        services.start("inbound", "dispatch")
        yield services


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
