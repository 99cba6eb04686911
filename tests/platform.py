"""The services as processes plus HTTP clients: what the e2e tests and the privacy scan drive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from core.auth import development_headers
from core.settings import Settings
from kans.processes import ServiceProcesses

DEV_KEY = "kans-dev-all"


class Platform(ServiceProcesses):
    """The service processes plus HTTP clients for the ingest and the API."""

    def __init__(self, settings: Settings, logs: Path, more_projections: dict[str, int] | None = None) -> None:
        super().__init__(settings, logs, more_projections)
        # The development key that may speak for every source system (core/dev-api-keys.yaml).
        self.ingest = httpx.Client(base_url=settings.ingest_base_url, timeout=30, headers={"X-API-Key": DEV_KEY})
        # A desk token of the platform's development key (a test of another role sends its own Authorization).
        self.api = httpx.Client(base_url=settings.api_base_url, timeout=30, headers=development_headers(settings))

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
