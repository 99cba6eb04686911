"""After the rest of the suite (this folder is collected last): no personal data in any topic or table.

On a developer's long-lived broker only the topics created during this session are read (earlier sessions'
topics were checked by their own run); on CI's fresh broker that is every topic.

The inbound topics (`*kans.inbound.v1`) are excluded: they are the source systems' outbox, written by them
before any validation, with a short retention; the platform's own log starts after validation.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from kafka import KafkaAdminClient

from kans.paths import REPO_ROOT
from tests.e2e.conftest import Platform
from tests.kafka_helpers import read_topics
from tests.privacy_scan import findings, scan_clickhouse


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert findings('{"pupil":"85073112345"}') == []  # wrong check digits: not a register number
    assert findings('{"id":"85.07.31-123.05"}') == ["national register number 85.07.31-123.05"]
    assert findings('{"id":"85073112305"}') == ["national register number 85073112305"]
    assert findings('{"born_after_2000":"05073112303"}') != []  # the 2-prefixed check of births from 2000
    assert findings('{"note":"Jan Janssens"}') == ["canary 'Jan Janssens'"]
    assert findings("contact jan.janssens@example.be") != []
    assert findings('{"pupil_key":"3f2a9c0d5b7e41a8b6c4d2e0f1a3b5c7"}') == []


def test_no_personal_data_on_any_topic(kafka_bootstrap: str, platform: Platform) -> None:
    """Every topic written during this session (on CI's fresh broker: every topic there is)."""
    from tests import conftest

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        topics = [t for t in admin.list_topics() if not t.startswith("__") and not t.endswith("kans.inbound.v1")]
    finally:
        admin.close()
    topics = [t for t in topics if t not in (conftest.TOPICS_BEFORE_SESSION or set())]
    assert any(t.endswith("kans.events.v1") for t in topics), "the suite's event topics are scanned"
    problems: dict[str, list[str]] = {}
    for record in read_topics(kafka_bootstrap, topics, timeout_s=600):
        text = b" ".join([record.key or b"", record.value or b"", *[v for _, v in record.headers or []]])
        if found := findings(text.decode("utf-8", "replace")):
            problems.setdefault(record.topic, []).extend(found[:3])
    assert problems == {}


def test_no_personal_data_in_clickhouse(clickhouse: Any, platform: Platform) -> None:
    assert scan_clickhouse(clickhouse) == {}  # this process's engine (integration tests' databases)
    platform.stop("api")  # release the e2e platform's chDB directory to scan it from a separate process
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.privacy_scan", platform.settings.clickhouse_url.removeprefix("chdb://")],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        platform.start("api")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scanned; 0 table(s)" in done.stdout
