"""End-to-end tier: the services run as their own processes (as `kans up` runs them) and are used over HTTP.

Every test of this folder is marked `e2e` (`kans test e2e` selects the folder). The privacy scan
(test_no_personal_data.py) is marked `after_suite` too: it reads what every test of its session wrote
(`kans test all` runs unit+integration and e2e as two sessions, each with its own scan: kans/cli.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.platform import Platform

__all__ = ["Platform"]
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
