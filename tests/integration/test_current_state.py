"""The current-state facts the writer keeps (services/warehouse/state.py) against the fact logs folded at query time,
on embedded ClickHouse: same rows, same statistics, whatever the order and batching the events arrive in."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from schemas.dispatch import DispatchPayload
from schemas.registry import EVENT_TYPES, parse_event
from services.warehouse import state
from services.warehouse.clickhouse import migrate
from services.warehouse.profile_columns import PROFILE_COLUMNS, PROFILE_FIELDS
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.statistics.parallel import connections
from services.warehouse.statistics.query import QUERY_SETTINGS, Sources
from services.warehouse.statistics.registry import STATISTICS
from services.warehouse.writer import COLUMNS, event_row
from tests.stats_history import History, history

KEYS = {"referral_state": "referral_id", "trajectory_state": "trajectory_id",
        "round_table_state": "round_table_id", "group_state": "group_referral_id, group_id"}  # fmt: skip
YEARS = ["2018-2019", "2019-2020"]


def rows_of(events: list[bytes]) -> list[list[Any]]:
    return [event_row(value, 0, offset) for offset, value in enumerate(events)]


def store_in_batches(client: Any, database: str, events: list[bytes], size: int, seed: int) -> None:
    """Store the events shuffled, `size` at a time, each batch as the writer stores it."""
    rows = rows_of(events)
    random.Random(seed).shuffle(rows)
    for start in range(0, len(rows), size):
        state.store(client, database, rows[start : start + size], COLUMNS)


def current(client: Any, database: str, table: str) -> list[tuple[Any, ...]]:
    cols = ", ".join(state.columns(client, database, table))
    return client.query(f"SELECT {cols} FROM {database}.{table} FINAL ORDER BY {KEYS[table]}").result_rows


def folded(client: Any, database: str, table: str) -> list[tuple[Any, ...]]:
    """The same columns folded from the logs now (every year), as the statistics fold them inline."""
    inline = Sources.inline(database)
    relation = {"referral_state": inline.referrals, "trajectory_state": inline.trajectories,
                "round_table_state": inline.round_tables, "group_state": inline.groups}[table]  # fmt: skip
    cols = ", ".join(state.columns(client, database, table))
    years = [y for (y,) in client.query(f"SELECT DISTINCT school_year FROM {database}.events").result_rows]
    params = {"years": years, "as_of_ms": as_of_ms(None)}
    sql = f"SELECT {cols} FROM {relation} ORDER BY {KEYS[table]}"
    return client.query(sql, parameters=params, settings=QUERY_SETTINGS).result_rows


@pytest.fixture(scope="module")
def scrambled(clickhouse: Any) -> str:
    """The known history stored twice over, shuffled, in batches of 3: trajectories before their referral,
    amendments before the submission, a withdrawal in between ..."""
    name = f"state_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    events = history()
    store_in_batches(clickhouse, name, events, size=3, seed=7)
    store_in_batches(clickhouse, name, events, size=5, seed=8)
    return name


@pytest.mark.parametrize("table", list(KEYS))
def test_state_kept_batch_by_batch_equals_the_logs_folded_now(clickhouse: Any, scrambled: str, table: str) -> None:
    kept = current(clickhouse, scrambled, table)
    assert kept, f"{table} is empty"
    assert kept == folded(clickhouse, scrambled, table)


@pytest.mark.parametrize("year", YEARS)
def test_every_statistic_from_the_state_equals_the_one_folded_inline(clickhouse: Any, scrambled: str,
                                                                    year: str) -> None:  # fmt: skip
    """The whole report from the current-state facts equals the report as known tomorrow, which folds the logs at
    query time (every event was recorded before it); the report equals each statistic computed alone
    (test_statistics_history)."""
    kept = engine.report(clickhouse, scrambled, year, engine.Question())
    inline = engine.report(clickhouse, scrambled, year, engine.Question(as_of=date.today() + timedelta(days=1)))
    folded_now = {s.statistic: s.model_dump(exclude={"as_of"}) for part in inline.sections for s in part.statistics}
    from_state = {s.statistic: s.model_dump(exclude={"as_of"}) for part in kept.sections for s in part.statistics}
    assert sorted(from_state) == sorted(STATISTICS)
    for code in STATISTICS:
        assert from_state[code] == folded_now[code], code
    assert sum(len(result["rows"]) for result in from_state.values()) > 50


def test_one_statistic_from_the_state_equals_the_one_folded_inline(clickhouse: Any, scrambled: str) -> None:
    """The same on the single-statistic path, with the logs folded inline (no as-of bound) for a few statistics."""
    question = engine.Question()
    for code in ("R01", "R14", "R18", "R24", "R47"):
        kept = engine.statistic(clickhouse, scrambled, code, "2019-2020", question)
        inline = engine.statistic(clickhouse, scrambled, code, "2019-2020", question,
                                  sources=Sources.inline(scrambled))  # fmt: skip
        assert kept.model_dump() == inline.model_dump(), code
        assert kept.rows, code


def test_rebuild_gives_the_state_the_writer_kept(clickhouse: Any) -> None:
    name = f"state_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    store_in_batches(clickhouse, name, history(), size=4, seed=3)
    kept = {table: current(clickhouse, name, table) for table in KEYS}
    assert state.rebuild(clickhouse, name) == len(kept["referral_state"])
    assert {table: current(clickhouse, name, table) for table in KEYS} == kept


def test_a_read_beside_the_refresh_never_misses_an_entity(clickhouse: Any) -> None:
    """The API reads beside the writer, without a lock: while every entity of the history is refreshed over and over
    on one connection, a sibling connection counting each table never sees fewer (nor more) entities than there are.
    Tombstones written before the new rows would make a read in between miss them."""
    name = f"state_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    rows = rows_of(history())
    state.store(clickhouse, name, rows, COLUMNS)
    expected = {table: _count(clickhouse, name, table) for table in KEYS}
    assert all(expected.values()), expected
    seen: dict[str, set[int]] = {table: set() for table in KEYS}
    reads = [0]
    done = threading.Event()
    with connections(clickhouse, 2) as (_, sibling):

        def read() -> None:
            while not done.is_set():
                for table in KEYS:
                    seen[table].add(_count(sibling, name, table))
                reads[0] += 1

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for _ in range(6):
                state.refresh(clickhouse, name, state.touched(rows))
        finally:
            done.set()
            reader.join()
    assert reads[0] >= 6, "the reader hardly ran beside the refreshes"
    assert seen == {table: {count} for table, count in expected.items()}


def _count(client: Any, db: str, table: str, where: str = "1") -> int:
    return int(client.query(f"SELECT count() FROM {db}.{table} FINAL WHERE {where}").result_rows[0][0])


def test_amendment_moves_a_referral_and_its_trajectory_a_withdrawal_keeps_them_a_retraction_removes_them(
    clickhouse: Any,
) -> None:
    name = f"state_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    h = History()
    h.referral("RX", "2019-10-01", "PX", "primary", education_form="primary_mainstream", grade="grade_3",
               gender="girl", birth_year=2011)  # fmt: skip
    h.trajectory("RX", "TX", "2019-10-10", "tigo", "individual")
    h.round_table("RX", "RTX", "RoundTableScheduled", "2019-10-05", scheduled_for="2019-10-08")
    state.store(clickhouse, name, rows_of(h.events), COLUMNS)
    assert _count(clickhouse, name, "trajectory_state", "level = 'primary'") == 1

    h.events.clear()
    h.add("ReferralAmended", "a:RX", "2019-10-20", {"referral_id": "RX", "changes": {
        "level": "secondary", "education_form": "secondary_aso", "grade": "grade_1"}})  # fmt: skip
    amendment = rows_of(h.events)
    state.store(clickhouse, name, amendment, COLUMNS)
    state.store(clickhouse, name, amendment, COLUMNS)  # delivered twice: same state
    for table in ("referral_state", "trajectory_state", "round_table_state"):
        assert _count(clickhouse, name, table, "level = 'primary'") == 0, table
        assert _count(clickhouse, name, table, "level = 'secondary'") == 1, table

    h.events.clear()  # withdrawn as its outcome (a version-1 event, read by its reason): still a referral received
    h.add("ReferralWithdrawn", "w:RX", "2019-10-25", {"referral_id": "RX", "reason": "no_longer_needed"})
    state.store(clickhouse, name, rows_of(h.events), COLUMNS)
    for table in ("referral_state", "trajectory_state", "round_table_state"):
        assert _count(clickhouse, name, table) == 1, table
    assert _count(clickhouse, name, "referral_state", "withdrawn AND withdraw_reason = 'no_longer_needed'") == 1
    assert engine.statistic(clickhouse, name, "R31", "2019-2020", engine.Question()).total == 1

    h.events.clear()  # the registration was an error after all: it disappears with everything it had
    h.add("ReferralWithdrawn", "r:RX", "2019-10-28", {"referral_id": "RX", "kind": "retracted",
                                                      "reason": "entered_in_error"}, version=2)  # fmt: skip
    state.store(clickhouse, name, rows_of(h.events), COLUMNS)
    for table in ("referral_state", "trajectory_state", "round_table_state"):
        assert _count(clickhouse, name, table) == 0, table
    assert engine.statistic(clickhouse, name, "R31", "2019-2020", engine.Question()).total == 0


def test_a_batch_touches_only_the_tables_its_events_feed() -> None:
    h = History()
    h.referral("RA", "2019-10-01", "PA", "primary", education_form="primary_mainstream", grade="grade_3",
               gender="girl", birth_year=2011)  # fmt: skip
    h.trajectory("RB", "TB", "2019-10-10", "tigo", "individual")
    h.round_table("RC", "RTC", "RoundTableScheduled", "2019-10-05", scheduled_for="2019-10-08")
    h.add("ProviderRegistered", "p:tigo", "2016-09-01", {"provider_id": "tigo", "name": "Tigo",
                                                         "valid_from": "2016-09-01"})  # fmt: skip
    assert state.touched(rows_of(h.events)).ids == {
        "referral_state": {"RA"},
        "trajectory_state": {"RB"},
        "round_table_state": {"RC"},
        "group_state": set(),
    }
    assert not state.touched(rows_of(h.events[-1:]))


def test_every_event_type_but_the_provider_facts_feeds_a_current_state_table() -> None:
    unfed = sorted(name for name, table in state.FEEDS.items() if table is None)
    streams = {name: getattr(cls.model_fields["payload"].annotation, "stream_field", None)
               for name, cls in EVENT_TYPES.items()}  # fmt: skip
    # The dispatch service's proposals and waiting lists (schemas/dispatch.py) are advice, not a referral's state:
    # the desk's decision is the TrajectoryDispatched that follows, and that feeds trajectory_state.
    proposals = {name for name, cls in EVENT_TYPES.items()
                 if issubclass(cls.model_fields["payload"].annotation, DispatchPayload)}  # fmt: skip
    assert proposals == {"DispatchProposed", "DispatchBlocked", "WaitingListJoined", "WaitingListLeft"}
    # An erasure changes no referral's state: it marks the pupil's reference (pupil_erasures, migration 0015).
    assert unfed == sorted(name for name, field in streams.items()
                           if field == "provider_id" or name in proposals or name == "PupilErased")  # fmt: skip
    assert state.FEEDS["AdviceGiven"] == "referral_state" and state.FEEDS["GroupReferralSubmitted"] == "group_state"


# Two referrals that differ in every stored profile field: the columns and the folds must carry each one.
EVERY_FIELD = {
    "RF1": dict(channel="intake", referrer_id="clb-1", offer_type="regular", education_form="primary_special_needs",
                grade="grade_2", bubao_type="type_3", gender="girl", birth_year=2011, birth_month=3,
                school_id="school-p", school_location="brussels", residence_postcode="1030",
                home_language="french", school_delay="one_year", primary_schools_attended=2, absence_b_half_days=4,
                absence_z_half_days=6, absence_other_half_days=8, risk_behaviours=["truancy"], discipline="threatened",
                ambulant_care=["psychiatry"], residential_setting="facility", support_network=True,
                other_specification="short note"),
    "RF2": dict(channel="school_direct", referrer_id="clb-2", offer_type="corona",
                education_form="secondary_special_needs", grade="grade_3", buso_type="type_1",
                buso_training_form="ov3", gender="boy", birth_year=2006, birth_month=11, school_id="school-s",
                school_location="outside_brussels", residence_postcode="1600", home_language="other",
                home_language_code="ar", school_delay="two_years", primary_schools_attended=1,
                secondary_schools_attended=2, absence_b_half_days=40, absence_z_half_days=0,
                absence_other_half_days=1, risk_behaviours=[], discipline="excluded",
                school_situation=["repeated_year"], ambulant_care=[], residential_setting="none",
                support_network=False),
}  # fmt: skip
LEVELS = {"RF1": "primary", "RF2": "secondary"}


def _stored(value: Any, column_type: str) -> Any:
    """A profile value as its column holds it: yes/no as 0/1, a multi-select as a list (null: ['not_registered'])."""
    if column_type.startswith("Array"):
        return ["not_registered"] if value is None else list(value)
    return int(value) if isinstance(value, bool) else value


def _profiles(client: Any, database: str) -> dict[str, dict[str, Any]]:
    cols = ", ".join(PROFILE_FIELDS)
    rows = client.query(f"SELECT referral_id, {cols} FROM {database}.referral_state FINAL").result_rows
    return {rid: dict(zip(PROFILE_FIELDS, values, strict=True)) for rid, *values in rows}


def test_every_profile_field_is_stored_folded_and_amended(clickhouse: Any) -> None:
    name = f"state_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, name)
    h = History()
    for rid, profile in EVERY_FIELD.items():
        h.referral(rid, "2019-10-01", f"P{rid}", LEVELS[rid], **profile)
    submitted = {payload.referral_id: payload for payload in (parse_event(value).payload for value in h.events)}
    state.store(clickhouse, name, rows_of(h.events), COLUMNS)

    expected = {rid: {f: _stored(getattr(payload, f), PROFILE_COLUMNS[f]) for f in PROFILE_FIELDS}
                for rid, payload in submitted.items()}  # fmt: skip
    kept = _profiles(clickhouse, name)
    assert kept == expected
    assert [f for f in PROFILE_FIELDS if kept["RF1"][f] == kept["RF2"][f]] == []

    h.events.clear()  # RF1 amended to RF2's whole profile: every field patched
    changes = {f: getattr(submitted["RF2"], f) for f in PROFILE_FIELDS}
    h.add("ReferralAmended", "a:RF1", "2019-10-20", {"referral_id": "RF1", "changes": changes})
    state.store(clickhouse, name, rows_of(h.events), COLUMNS)
    assert _profiles(clickhouse, name)["RF1"] == expected["RF2"]
