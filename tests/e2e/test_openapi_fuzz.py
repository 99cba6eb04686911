"""Schemathesis over the three OpenAPI documents (ingest, API, live process), against the services running as
processes: no server error, and every status code, content type and body as the document describes it.

Each API is fuzzed by `st run` (schemathesis' own command, in a child process) with a fixed seed and a bounded number
of examples; its JSON report gives the totals (operations, test cases, failures by kind) this test asserts on and
prints. All four phases run: the operations' examples, coverage (boundaries, missing and wrong-typed parameters,
wrong content types), fuzzing, stateful.

The fuzzer runs on a platform of its own (own topic prefix, database and data folder on the suite's broker): the
events it manages to submit never reach the shared e2e platform, so no other test's figures move. The privacy scan
(after_suite) still reads its topics, like every topic of the session's broker.

Run alone, with the totals printed: `.venv/bin/pytest -q -s tests/e2e/test_openapi_fuzz.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core.topics import ensure_topics
from kans.processes import SERVICES, isolated_settings
from tests.conftest import wait_for
from tests.factories import capacity
from tests.platform import Platform

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Test cases per operation in the fuzzing phase (the examples and coverage phases add theirs: about 8,600 for the
# ingest, whose event union has many fields, and 1,500 for the API). Both APIs at once in about 1.5 minutes on 2 cores.
MAX_EXAMPLES = 10
SEED = 20261204  # reproducible; change it to explore
# One worker: with two threads, hypothesis' lambda descriptions (ast.parse) failed on CPython 3.11 with
# "SystemError: AST constructor recursion depth mismatch", a tool error that stopped the coverage phase.
WORKERS = 1
AUTH_HEADERS = {"x-api-key", "authorization"}


def auth_headers(platform: Platform, service: str) -> dict[str, str]:
    """The one place that says how the fuzzer authenticates: as the platform's own clients do (for the ingest the
    development key that may speak for every source system; for the API whatever its client sends)."""
    client = {"ingest": platform.ingest, "api": platform.api, "live": platform.api}[service]
    return {name: value for name, value in client.headers.items() if name.lower() in AUTH_HEADERS}


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    """A platform of the fuzzer's own, warmed up like the shared one (partition assignment, table recovery).

    Warmed up because not_a_server_error counts every 5xx, documented or not: a live view asked while the projections
    worker still restores its tables answers 503 with Retry-After, as documented and as it should."""
    settings = isolated_settings(tmp_path_factory.mktemp("fuzz"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("fuzz-logs"))
    try:
        # with the dispatch routes' worker (proposals, waiting lists, decisions) and its Kafka way in
        platform.start(*SERVICES, "inbound", "dispatch", "live")
        platform.post(capacity("warm-up", "individual", 1))
        wait_for(lambda: platform.load("warm-up"), timeout_s=120, what="the warm-up event in the projections")
        yield platform
    finally:
        platform.close()


# The live views' SSE stream never ends: a fuzzer's request would wait for its whole body (the access matrix and
# test_dashboard_dispatch test it).
EXCLUDED = {"ingest": (), "api": ("/v1/live/stream",), "live": ("/v1/live/stream",)}


def run_schemathesis(base_url: str, headers: dict[str, str], workdir: Path,
                     excluded: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:  # fmt: skip
    """`st run` on the service's /openapi.json: its JSON report (totals, failures by kind) and what it printed."""
    report = workdir / "report.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", str(WORKERS),
        "--request-timeout", "60", "--report", "json", "--report-json-path", str(report),
        *[arg for path in excluded for arg in ("--exclude-path", path)],
        *[arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")],
    ]  # fmt: skip
    # cwd: schemathesis keeps its replay store (`.schemathesis/`) in the working directory, not in the checkout
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=workdir)
    assert report.is_file(), done.stdout[-5000:] + done.stderr[-5000:]
    return json.loads(report.read_text(encoding="utf-8")), done.stdout


def totals(service: str, result: dict[str, Any]) -> str:
    operations, cases = result["operations"], result["test_cases"]
    failures = {f["title"]: f["count"] for f in result["failures"]}
    return (f"schemathesis {service}: {operations['tested']}/{operations['total']} operations, "
            f"{cases['generated']} test cases, {cases['with_failures']} with failures {failures or ''}, "
            f"{len(result['errors'])} errors, {result['running_time']:.0f} s")  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed(fuzz_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], str]]:
    """The services fuzzed at once (an `st run` process each: each waits on its service half the time, so side by side
    they take about the longest one's time, not the sum): each one's report and output."""
    bases = {"ingest": fuzz_platform.settings.ingest_base_url, "api": fuzz_platform.settings.api_base_url,
             "live": fuzz_platform.settings.live_base_url}
    with ThreadPoolExecutor(len(bases)) as pool:
        runs = {service: pool.submit(run_schemathesis, base, auth_headers(fuzz_platform, service),
                                     tmp_path_factory.mktemp(f"fuzz-{service}"), EXCLUDED[service])
                for service, base in bases.items()}  # fmt: skip
        return {service: run.result() for service, run in runs.items()}


@pytest.mark.parametrize("service", ["ingest", "api", "live"])
def test_the_openapi_document_holds_under_fuzzing(service: str, fuzzed: dict[str, tuple[dict[str, Any], str]]) -> None:
    result, printed = fuzzed[service]
    print(totals(service, result))
    findings = printed[printed.find("FAILURES"):][:20000]  # schemathesis' own account: the request to replay
    excluded = len(EXCLUDED[service])  # counted in the total, never tested
    assert result["operations"]["tested"] == result["operations"]["total"] - excluded > 0, findings
    assert result["test_cases"]["generated"] >= MAX_EXAMPLES * result["operations"]["tested"], findings
    assert result["failures"] == [], findings
    assert result["errors"] == [], printed[-5000:]
