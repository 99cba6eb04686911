"""After the rest of the suite (marked `after_suite`): no personal data in any topic or table it wrote.

The suite's broker is its own and starts empty (tests/suite_broker.py), so every topic on it is this session's.
`kans test all` runs the suite as two sessions side by side, each on its own broker and engine (kans/cli.py): each
session runs this scan over what it wrote (the one without the e2e platform leaves out the platform's ClickHouse).

Records a test wrote straight to a topic (header `kans-test-raw`, tests/event_log.py) are the attacker's input,
not the platform's output, and are skipped; their dead letters are scanned.
The inbound topics (`*kans.inbound.v1`) are excluded: they are the source systems' outbox, written by them
before any validation, with a short retention; the platform's own log starts after validation.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from kafka import KafkaAdminClient

from kans.paths import REPO_ROOT
from tests.event_log import RAW_HEADER
from tests.kafka_helpers import connection, scan_topics
from tests.platform import Platform
from tests.privacy_scan import findings, scan_clickhouse

pytestmark = pytest.mark.after_suite


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert findings('{"pupil":"85073112345"}') == []  # wrong check digits: not a register number
    assert findings('{"id":"85.07.31-123.05"}') == ["national register number 85.07.31-123.05"]
    assert findings('{"id":"85073112305"}') == ["national register number 85073112305"]
    assert findings('{"born_after_2000":"05073112303"}') != []  # the 2-prefixed check of births from 2000
    assert findings('{"note":"Jan Janssens"}') == ["canary 'Jan Janssens'"]
    assert findings("contact jan.janssens@example.be") != []
    assert findings('{"pupil_key":"3f2a9c0d5b7e41a8b6c4d2e0f1a3b5c7"}') == []


def test_no_personal_data_on_any_topic(kafka_bootstrap: str) -> None:
    """Every topic of the suite's broker: all of them were written during this session."""
    admin = KafkaAdminClient(**connection(kafka_bootstrap))
    try:
        topics = [t for t in admin.list_topics() if not t.startswith("__") and not t.endswith("kans.inbound.v1")]
    finally:
        admin.close()
    assert any(t.endswith("kans.events.v1") for t in topics), "the suite's event topics are scanned"
    problems: dict[str, list[str]] = {}
    # A test's hostile input written straight to a topic (RAW_HEADER) is left out: what the platform made of it is
    # scanned.
    texts = [
        (record.topic, b" ".join([record.key or b"", record.value or b"", *[v for _, v in record.headers or []]]))
        for record in scan_topics(kafka_bootstrap, topics, timeout_s=600)
        if RAW_HEADER not in (record.headers or [])
    ]
    # The patterns run over chunks of records joined by a newline (none of them spans one); a chunk with a finding
    # is looked at record by record, to say which topic holds it.
    for start in range(0, len(texts), 2000):
        chunk = texts[start : start + 2000]
        if not findings(b"\n".join(text for _, text in chunk).decode("utf-8", "replace")):
            continue
        for topic, text in chunk:
            if found := findings(text.decode("utf-8", "replace")):
                problems.setdefault(topic, []).extend(found[:3])
    assert problems == {}


def test_no_personal_data_in_clickhouse(clickhouse: Any) -> None:
    assert scan_clickhouse(clickhouse) == {}  # this process's engine (integration tests' databases)


def test_no_personal_data_in_the_platforms_clickhouse(platform: Platform) -> None:
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
