"""End-to-end tier: the services run as their own processes (as `kans up` runs them) and are used over HTTP.

The `platform` fixture lives in tests/conftest.py so the privacy scan (collected last) can reach it too.
"""

from __future__ import annotations

import pytest

from tests.platform import Platform

__all__ = ["Platform"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
