"""Integration tier: the suite's own Kafka broker, real embedded ClickHouse (chDB) in this process.

Every test of this folder is marked `integration` (`kans test integration` selects the folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
