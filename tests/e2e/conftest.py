"""End-to-end tier: the services run as their own processes (as `kans up` runs them) and are used over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kans.processes import ServiceProcesses, isolated_settings
from kans.settings import Settings
from kans.topics import ensure_topics
from tests.conftest import wait_for
from tests.factories import capacity


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


class Platform(ServiceProcesses):
    """The service processes plus HTTP clients for the ingest and the API."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        super().__init__(settings, logs)
        self.ingest = httpx.Client(base_url=settings.ingest_base_url, timeout=30)
        self.api = httpx.Client(base_url=settings.api_base_url, timeout=30)

    def post(self, *submissions: dict[str, Any]) -> dict[str, Any]:
        response = self.ingest.post("/v1/events/batch", json=list(submissions))
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def load(self, provider: str, module: str = "individual") -> dict[str, Any] | None:
        rows = self.api.get("/v1/live/provider-load", params={"provider_id": provider}).json()["rows"]
        return next((r for r in rows if r["module_id"] == module), None)

    def close(self) -> None:
        self.stop_all()
        self.ingest.close()
        self.api.close()


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
