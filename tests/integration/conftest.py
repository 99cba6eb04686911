"""Integration tier: real Kafka broker, real embedded ClickHouse (chDB) in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kans.settings import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chDB engine for the session (chDB allows one data directory per process); tests use own databases."""
    from services.warehouse.clickhouse import get_client

    data = tmp_path_factory.mktemp("chdb")
    client = get_client(Settings(data_dir=Path(data)))
    yield client
    client.close()
