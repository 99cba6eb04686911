"""Bad input on the real broker and engine: the ingest app (real lifespan, real Kafka) refuses implausible dates and
duplicated JSON keys and publishes nothing of them; an event stored twice (a 503'd attempt that landed later, then
the acknowledged retry, each with its own recorded_at) counts as-of only from its last copy on (real chDB, rows
through the writer's code path)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from core.topics import events_topic
from schemas.envelope import event_id_for
from schemas.registry import parse_event
from services.ingest.main import create_app
from services.warehouse import state
from services.warehouse.clickhouse import migrate
from services.warehouse.statistics import engine, folds
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.writer import COLUMNS, event_row
from tests.conftest import wait_for
from tests.factories import dispatch, referral
from tests.kafka_helpers import read_topic
from tests.stats_history import History

ALL_KEY = {"X-API-Key": "kans-dev-all"}
YEAR = "2019-2020"


@pytest.fixture
def ingest(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers=ALL_KEY) as client:
        wait_for(lambda: client.get("/ready").status_code == 200, what="ingest ready")
        yield client


def test_implausible_dates_and_duplicated_keys_are_refused_and_nothing_of_them_reaches_kafka(
    ingest: TestClient, settings: Settings
) -> None:
    far = ingest.post("/v1/events", json=referral("R-9999", occurred="9999-06-01T10:00:00+02:00"))
    batch = [referral("R-OK-1"), referral("R-1000", occurred="1000-06-01T10:00:00+01:00")]
    ancient = ingest.post("/v1/events/batch", json=batch)
    doubled = json.dumps(referral("R-DUP")).replace('"gender": "boy"', '"gender": "girl", "gender": "boy"')
    twice = ingest.post("/v1/events", content=doubled, headers={"Content-Type": "application/json"})
    assert [r.status_code for r in (far, ancient, twice)] == [422, 422, 422]
    assert far.json()["errors"][0]["field"] == "body.occurred_at"
    assert ancient.json()["errors"][0]["field"] == "body[1].occurred_at"
    assert twice.json()["errors"][0]["field"] == "body.payload.gender"
    good = ingest.post("/v1/events", json=dispatch("R-OK-2", "T-OK-2", "tigo"))
    assert good.status_code == 202
    ids = [str(parse_event(r.value).event_id) for r in read_topic(settings.kafka_bootstrap, events_topic(settings))]
    assert ids == [str(event_id_for("desk", "dispatch:T-OK-2"))]  # R-OK-1 went down with its batch


# --- as-of and copies of one event -----------------------------------------------------------------------------


def copies() -> list[list[bytes]]:
    """Two attempts at the same two events: refused (503) on 1 October 2019, both landed later anyway; retried and
    acknowledged on 20 October. Plus a referral recorded once, on 1 October, as a witness."""
    attempts = []
    for recorded in ("2019-10-01", "2019-10-20"):
        h = History()
        h.referral("RC-1", "2019-09-30", "RC-1", "secondary", gender="boy", birth_year=2006, recorded=recorded)
        h.add("TrajectoryDispatched", "d:TC-1", "2019-09-30", {"referral_id": "RC-1", "trajectory_id": "TC-1",
              "provider_id": "tigo", "module_id": "individual", "offer_type": "regular"}, recorded)  # fmt: skip
        attempts.append(h.events)
    witness = History()
    witness.referral("RC-2", "2019-09-30", "RC-2", "secondary", gender="girl", birth_year=2006, recorded="2019-10-01")
    return [*attempts, witness.events]


@pytest.fixture(scope="module")
def retried(clickhouse: Any) -> str:
    """A database with the copies, each attempt stored as its own writer batch (in the log's order)."""
    name = f"copies_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    offset = 0
    for batch in copies():
        rows = [event_row(value, 0, offset + i) for i, value in enumerate(batch)]
        offset += len(batch)
        state.store(clickhouse, name, rows, COLUMNS)
    return name


def folded(client: Any, db: str, as_of: date | None) -> tuple[list[str], list[str]]:
    params = {"years": [YEAR], "as_of_ms": as_of_ms(as_of)}
    referrals = folds.referrals_fold(db)
    found = client.query(f"SELECT referral_id FROM ({referrals}) ORDER BY referral_id", parameters=params)
    trajectories = client.query(f"SELECT trajectory_id FROM ({folds.trajectories_fold(db, referrals)})",
                                parameters=params)  # fmt: skip
    return [r[0] for r in found.result_rows], [r[0] for r in trajectories.result_rows]


def test_the_copies_are_really_there(clickhouse: Any, retried: str) -> None:
    rows = clickhouse.query(f"SELECT recorded_at FROM {retried}.referral_log WHERE referral_id = 'RC-1' "
                            "ORDER BY recorded_at").result_rows  # fmt: skip
    assert [r[0].date() for r in rows] == [date(2019, 10, 1), date(2019, 10, 20)]


def test_as_of_an_event_counts_from_its_last_copy_on(clickhouse: Any, retried: str) -> None:
    assert folded(clickhouse, retried, date(2019, 10, 10)) == (["RC-2"], [])  # only the first copy existed
    assert folded(clickhouse, retried, date(2019, 10, 21)) == (["RC-1", "RC-2"], ["TC-1"])
    assert folded(clickhouse, retried, None) == (["RC-1", "RC-2"], ["TC-1"])  # now: once each


def test_statistics_as_of_between_the_copies_do_not_count_the_event(clickhouse: Any, retried: str) -> None:
    def r31(as_of: date | None) -> float:  # secondary referrals per month
        return engine.statistic(clickhouse, retried, "R31", YEAR, engine.Question(as_of=as_of)).total

    assert (r31(date(2019, 10, 10)), r31(date(2019, 10, 21)), r31(None)) == (1, 2, 2)


def test_the_acknowledged_copy_is_the_last_one_in_the_events_table(clickhouse: Any, retried: str) -> None:
    (row,) = clickhouse.query(f"SELECT recorded_at FROM {retried}.events FINAL WHERE source_ref = 'ref:RC-1'"
                              ).result_rows  # fmt: skip
    assert row[0].astimezone(UTC) > datetime(2019, 10, 20, tzinfo=UTC)
