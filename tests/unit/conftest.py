"""Unit tier: pure rules, no broker, no ClickHouse engine, no service processes.

A unit test that asks for one of the fixtures giving those fails before the fixture starts anything; such a test
belongs in tests/integration or tests/e2e.
"""

from __future__ import annotations

import pytest

from tests.conftest import INFRASTRUCTURE_FIXTURES


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if wanted := sorted(INFRASTRUCTURE_FIXTURES & set(getattr(item, "fixturenames", ()))):
        pytest.fail(f"a unit test may not use {', '.join(wanted)}: move it to tests/integration or tests/e2e",
                    pytrace=False)  # fmt: skip
