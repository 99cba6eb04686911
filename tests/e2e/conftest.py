"""End-to-end tier: the services run as their own processes (as `kans up` runs them) and are used over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kans.settings import REPO_ROOT, Settings
from kans.topics import ensure_topics
from tests.conftest import isolated_settings, wait_for
from tests.factories import capacity

SERVICES = ("ingest", "projections", "api")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


class Platform:
    """The three service processes with isolated topics, ports and chDB directory."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KANS_")},
            "KANS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "KANS_TOPIC_PREFIX": settings.topic_prefix,
            "KANS_DATA_DIR": str(settings.data_dir),
            "KANS_CLICKHOUSE_DATABASE": settings.clickhouse_database,
            "KANS_INGEST_PORT": str(settings.ingest_port),
            "KANS_API_PORT": str(settings.api_port),
            "KANS_PROJECTIONS_PORT": str(settings.projections_port),
            "KANS_LOG_LEVEL": "WARNING",
        }
        self.ingest = httpx.Client(base_url=settings.ingest_base_url, timeout=30)
        self.api = httpx.Client(base_url=settings.api_base_url, timeout=30)

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "kans.cli", "serve", name], cwd=REPO_ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        url = {
            "ingest": f"{self.settings.ingest_base_url}/ready",
            "api": f"{self.settings.api_base_url}/ready",
            "projections": f"{self.settings.projections_base_url}/ready",
        }[name]

        def ready() -> bool:
            assert self.procs[name].poll() is None, f"{name} exited: see {self.logs / (name + '.log')}"
            return httpx.get(url, timeout=2).status_code == 200

        wait_for(ready, timeout_s=90, interval_s=0.2, what=f"{name} ready")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def post(self, *submissions: dict[str, Any]) -> dict[str, Any]:
        response = self.ingest.post("/v1/events/batch", json=list(submissions))
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    def load(self, provider: str, module: str = "individual") -> dict[str, Any] | None:
        rows = self.api.get("/v1/live/provider-load", params={"provider_id": provider}).json()["rows"]
        return next((r for r in rows if r["module_id"] == module), None)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self.ingest.close()
        self.api.close()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    settings = isolated_settings(tmp_path_factory.mktemp("platform"), kafka_bootstrap)
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("logs"))
    try:
        for name in SERVICES:
            platform.start(name)
        # Warm-up: the first event through a fresh worker pays for partition assignment and recovery.
        platform.post(capacity("warm-up", "individual", 1))
        wait_for(lambda: platform.load("warm-up"), timeout_s=60, what="the warm-up event in the projections")
        yield platform
    finally:
        platform.close()
