"""Run the services as their own processes with isolated settings (used by the e2e tests and the benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from core.kafka_acls import SERVICE_PRINCIPALS
from core.settings import Settings
from kans.kafka_credentials import principal_env
from kans.paths import REPO_ROOT

SERVICES = ("ingest", "projections", "api")  # what start_all starts; "inbound" is started on its own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNTHROTTLED = "1000000/minute"  # tests and benchmarks: one token asks far more than a person (KANS_RATE_LIMIT)


def isolated_settings(data_dir: Path, bootstrap: str, **overrides: Any) -> Settings:
    """Settings of a platform that shares nothing with another: topic prefix, database, ports, data folder."""
    api_port = overrides.pop("api_port", None) or free_port()
    return Settings(
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        data_dir=data_dir,
        clickhouse_database=f"test_{uuid.uuid4().hex[:10]}",
        ingest_port=free_port(),
        api_port=api_port,
        live_port=free_port(),
        live_cors_origins=f"http://127.0.0.1:{api_port}",  # the API's dashboard may read the live process
        projections_port=free_port(),
        inbound_port=free_port(),
        dispatch_port=free_port(),
        **{"rate_limit": UNTHROTTLED, **overrides},
    )


def settings_env(settings: Settings, principal: str | None = None) -> dict[str, str]:
    """The environment that makes a child process resolve exactly these settings, connecting to Kafka as
    `principal` (its password from `settings.kafka_credentials_file`) or, by default, as these settings do."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("KANS_")},
        "KANS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KANS_TOPIC_PREFIX": settings.topic_prefix,
        "KANS_DATA_DIR": str(settings.data_dir),
        "KANS_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "KANS_INGEST_PORT": str(settings.ingest_port),
        "KANS_API_PORT": str(settings.api_port),
        "KANS_LIVE_PORT": str(settings.live_port),
        "KANS_LIVE_PUBLIC_URL": settings.live_public_url,
        "KANS_LIVE_CORS_ORIGINS": settings.live_cors_origins,
        "KANS_PROJECTIONS_PORT": str(settings.projections_port),
        "KANS_PROJECTIONS_URLS": settings.projections_urls,
        "KANS_PROJECTIONS_APP_ID": settings.projections_app_id,
        "KANS_INBOUND_PORT": str(settings.inbound_port),
        "KANS_DISPATCH_PORT": str(settings.dispatch_port),
        "KANS_RATE_LIMIT": settings.rate_limit,
        "KANS_API_SHED_BEHIND_MS": str(settings.api_shed_behind_ms),
        "KANS_LIVE_VIEW_MAX_AGE_MS": str(settings.live_view_max_age_ms),
        "KANS_FAUST_REBALANCE_EXIT_S": str(settings.faust_rebalance_exit_s),
        "KANS_FAUST_SESSION_TIMEOUT_S": str(settings.faust_session_timeout_s),
        "KANS_API_KEYS_FILE": str(settings.api_keys_file),
        "KANS_AUTH_ISSUER": settings.auth_issuer,
        "KANS_AUTH_AUDIENCE": settings.auth_audience,
        "KANS_AUTH_JWKS_URL": settings.auth_jwks_url,
        "KANS_AUTH_DEV_SIGNING_KEY": str(settings.dev_signing_key_path),
        "KANS_LOG_LEVEL": settings.log_level,
        **principal_env(settings, principal),
    }


class ServiceProcesses:
    """Start, stop and restart the service processes (ingest, projections, api, inbound); wait for readiness.
    `more_projections`: further projections workers by name (`projections-2`, ...) and web port; each runs
    `kans serve projections` on its port, in the same group as the first (list them all in settings.projections_urls
    for the API)."""

    def __init__(self, settings: Settings, logs: Path, more_projections: dict[str, int] | None = None) -> None:
        self.settings = settings
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = settings_env(settings)
        self.more_projections = dict(more_projections or {})

    def ready_url(self, name: str) -> str:
        if name in self.more_projections:
            return f"http://{self.settings.projections_host}:{self.more_projections[name]}/ready"
        base = {"ingest": self.settings.ingest_base_url, "api": self.settings.api_base_url,
                "live": self.settings.live_base_url,
                "projections": self.settings.projections_base_url,
                "inbound": self.settings.inbound_base_url,
                "dispatch": f"http://{self.settings.dispatch_host}:{self.settings.dispatch_port}"}[name]  # fmt: skip
        return f"{base}/ready"

    def launch(self, name: str) -> None:
        """Start `name`'s process and return at once (`wait_ready` waits for it)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        service = "projections" if name in self.more_projections else name
        env = {**self.env, **principal_env(self.settings, SERVICE_PRINCIPALS[service])}  # each its own principal
        if name in self.more_projections:
            env["KANS_PROJECTIONS_PORT"] = str(self.more_projections[name])
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "kans.cli", "serve", service], cwd=REPO_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, names: tuple[str, ...], timeout_s: float = 90.0) -> None:
        """Wait until every one of `names` answers 200 on /ready; fail as soon as one of them exits."""
        waiting = list(names)
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with {self.procs[name].returncode}: see {self.logs / name}.log")
                try:
                    if httpx.get(self.ready_url(name), timeout=2).status_code == 200:
                        waiting.remove(name)
                except httpx.HTTPError:
                    pass
            if waiting:
                time.sleep(0.2)
        if waiting:
            logs = ", ".join(f"{self.logs / name}.log" for name in waiting)
            raise RuntimeError(f"{', '.join(waiting)} not ready after {timeout_s:.0f}s: see {logs}")

    def start(self, *names: str, timeout_s: float = 90.0) -> None:
        """Start `names` side by side and wait until each is ready (a service's readiness depends on no other's
        start order: each waits for the broker and its own dependencies, and says so on /ready)."""
        for name in names:
            self.launch(name)
        self.wait_ready(names, timeout_s)

    def start_all(self) -> None:
        self.start(*SERVICES)

    def stop(self, *names: str) -> None:
        """SIGTERM to each of `names` at once, then wait for each (SIGKILL after 30 s)."""
        procs = [self.procs.pop(name) for name in names]
        running = [proc for proc in procs if proc.poll() is None]
        for proc in running:
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def stop_all(self) -> None:
        self.stop(*self.procs)

    def __enter__(self) -> ServiceProcesses:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop_all()
