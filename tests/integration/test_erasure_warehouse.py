"""Erasure in the warehouse (real broker, real embedded ClickHouse, the ClickHouse writer): the writer destroys the
pupil's key when it reads a PupilErased (even when the ingest could not), no table holds the pupil key or the
identifier, the erased referral is marked, and the distinct-pupil counts do not change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.pupil_vault import PupilVault
from core.settings import Settings
from core.topics import events_topic
from schemas.pseudonym import pupil_key
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.warehouse import queries
from services.warehouse.clickhouse import migrate
from services.warehouse.writer import ClickHouseWriter
from tests.conftest import wait_for
from tests.factories import TEST_PUPIL_SECRET, referral
from tests.kafka_helpers import produce

PUPIL, OTHER = "LARS-WH-ERASED", "LARS-WH-KEPT"


def stored(settings: Settings, client: Any, vault: PupilVault, submissions: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    events = [seal(SUBMISSION_ADAPTER.validate_python(s), now, TEST_PUPIL_SECRET, vault) for s in submissions]
    produce(settings.kafka_bootstrap, events_topic(settings),
            [(e.stream_id.encode(), e.model_dump_json().encode()) for e in events])  # fmt: skip
    writer = ClickHouseWriter(settings, client, vault=vault)
    before = writer.status.rows_written
    writer.start()
    try:
        wait_for(lambda: writer.status.rows_written - before >= len(events) or None, timeout_s=60,
                 what=f"{len(events)} events stored")  # fmt: skip
    finally:
        writer.stop()
    assert writer.status.crashed is None


def tables_holding(client: Any, database: str, text: str) -> list[str]:
    """Every table of the database whose rows contain `text` anywhere (any column, as text)."""
    names = [r[0] for r in client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT IN ('MaterializedView', 'View')",
        parameters={"db": database}).result_rows]  # fmt: skip
    return [name for name in names if client.query(
        f"SELECT count() FROM {database}.`{name}` WHERE position(toString(tuple(*)), {{t:String}}) > 0",
        parameters={"t": text}).result_rows[0][0]]  # fmt: skip


def test_the_writer_shreds_the_key_and_no_table_links_the_pupil(
    settings: Settings, clickhouse: Any, tmp_path: Any
) -> None:
    database = settings.clickhouse_database
    migrate(clickhouse, database)
    vault = PupilVault(tmp_path / "vault.sqlite")
    key = pupil_key(TEST_PUPIL_SECRET, PUPIL)
    stored(settings, clickhouse, vault, [
        referral("RWH1", pupil_id=PUPIL), referral("RWH2", "2026-01-05T09:00:00+01:00", pupil_id=PUPIL),
        referral("RWH3", pupil_id=OTHER),
    ])  # fmt: skip
    ref = vault.ref_of(key)
    assert ref is not None
    # The fact log links the pupil's two referrals by the reference; the key and the identifier are nowhere. Read
    # FINAL, as the platform reads its ReplacingMergeTrees: a batch the writer stored again (its offset commit lost
    # in a rebalance, seen in a full run) is one fact, not two.
    rows = clickhouse.query(f"SELECT referral_id, pupil_key FROM {database}.referral_log FINAL ORDER BY referral_id")
    assert rows.result_rows == [("RWH1", ref), ("RWH2", ref), ("RWH3", vault.ref_of(pupil_key(TEST_PUPIL_SECRET,
                                                                                               OTHER)))]  # fmt: skip
    assert {"events", "referral_log", "referral_state"} <= set(tables_holding(clickhouse, database, ref))  # it finds
    assert tables_holding(clickhouse, database, key) == [] and tables_holding(clickhouse, database, PUPIL) == []
    pupils = f"SELECT uniqExact(pupil_key), count() FROM {database}.referral_state FINAL"
    assert clickhouse.query(pupils).result_rows == [(2, 3)]
    assert not queries.referral_erased(clickhouse, database, "RWH1")

    # The erasure reaches the writer alone (the ingest died before destroying the key): the writer destroys it.
    erasure = {"event_type": "PupilErased", "occurred_at": "2026-01-06T10:00:00+01:00", "source_system": "desk",
               "source_ref": "erase-wh", "actor": "desk:dpo", "schema_version": 1,
               "payload": {"pupil_id": PUPIL, "reason": "retention_period_ended"}}  # fmt: skip
    stored(settings, clickhouse, vault, [erasure])
    assert vault.ref_of(key) is None and vault.is_erased(ref)
    assert [queries.referral_erased(clickhouse, database, r) for r in ("RWH1", "RWH2", "RWH3")] == [True, True, False]
    erased = clickhouse.query(f"SELECT pupil_ref, reason FROM {database}.pupil_erasures FINAL").result_rows
    assert erased == [(ref, "retention_period_ended")]
    assert tables_holding(clickhouse, database, key) == [] and tables_holding(clickhouse, database, PUPIL) == []
    # The sealed key the events keep opens no more; the counts are what they were.
    (payload,) = [json.loads(r[0]) for r in clickhouse.query(
        f"SELECT payload FROM {database}.events FINAL WHERE stream_id = 'RWH1'").result_rows]  # fmt: skip
    assert payload["pupil_ref"] == ref and vault.unseal(ref, payload["pupil_key_sealed"]) is None
    assert clickhouse.query(pupils).result_rows == [(2, 3)]
    vault.close()
