"""The annual report's own counting rules (issue 14), each on a small hand-made history whose expected figures follow
from the report's sentence (quoted). The events go the way production events go: sealed, produced to the event log
on the suite's broker, stored by the ClickHouse writer (which refolds the current-state facts), then counted by the
statistics engine on the real embedded ClickHouse, from the current state and as known on a past day."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from core.settings import Settings
from core.topics import events_topic
from services.warehouse.clickhouse import migrate
from services.warehouse.statistics import engine
from services.warehouse.writer import ClickHouseWriter
from tests.conftest import wait_for
from tests.kafka_helpers import produce
from tests.stats_history import History, nonzero

YEAR = "2019-2020"


def through_the_log(settings: Settings, client: Any, events: list[bytes]) -> str:
    """Produce the sealed events to the event log (keyed by stream id, as the ingest does) and let a writer store
    them; returns the database once the writer has committed every one (the current state refolded)."""
    database = settings.clickhouse_database
    migrate(client, database)
    records = [(json.loads(value)["stream_id"].encode(), value) for value in events]
    produce(settings.kafka_bootstrap, events_topic(settings), records)
    writer = ClickHouseWriter(settings, client)
    writer.start()
    try:
        wait_for(lambda: writer.status.rows_written >= len(records) or None, timeout_s=60,
                 what=f"{len(records)} events stored by the writer")  # fmt: skip
    finally:
        writer.stop()
    assert writer.status.crashed is None and writer.status.rejected == 0
    return database


def stat(client: Any, database: str, code: str, **question: Any) -> Any:
    return engine.statistic(client, database, code, YEAR, engine.Question(**question))


def summary(result: Any) -> dict[str, float]:
    return {s.measure: s.value for s in result.summary if s.value}


# -- rule 1: a withdrawn referral is still a referral received ------------------------------------------------------
def _withdrawals(h: History) -> None:
    """Primary 2019-2020: RA started at Tigo; RB put on hold for the ITP, RC no place (volzet), RD withdrawn by the
    parents (a version-1 event: its reason says it was the referral's outcome); RE entered in error and RF a
    duplicate (version 1: its reason says it was a retraction) are registrations that should not have been there;
    RG a corona referral dispatched. Secondary: RS1 withdrawn by the CLB, RS2 started."""
    mainstream = {"education_form": "primary_mainstream", "grade": "grade_3", "gender": "boy", "birth_year": 2011}
    for rid, day in (("RA", "2019-09-16"), ("RB", "2019-10-01"), ("RC", "2019-10-07"), ("RD", "2019-11-04"),
                     ("RE", "2019-11-05"), ("RF", "2019-11-06")):
        h.referral(rid, day, f"P-{rid}", "primary", **mainstream)
    h.referral("RG", "2020-05-11", "P-RG", "primary", **mainstream, offer_type="corona", channel="school_direct")
    h.trajectory("RA", "TA", "2019-09-20", "tigo", "day-care")
    h.then("TrajectoryStarted", "RA", "TA", "2019-09-30")
    h.trajectory("RG", "TG", "2020-05-12", "groep-intro", "corona-support", "corona")
    h.add("ReferralWithdrawn", "w:RB", "2019-10-15", {"referral_id": "RB", "kind": "withdrawn",
          "reason": "redirected_youth_care_gate"}, version=2)  # fmt: skip
    h.add("ReferralWithdrawn", "w:RC", "2019-10-21", {"referral_id": "RC", "kind": "withdrawn",
          "reason": "no_place_available"}, version=2)  # fmt: skip
    h.add("ReferralWithdrawn", "w:RD", "2019-11-18", {"referral_id": "RD", "reason": "parents_unwilling"})
    h.add("ReferralWithdrawn", "w:RE", "2019-11-12", {"referral_id": "RE", "kind": "retracted",
          "reason": "entered_in_error"}, version=2)  # fmt: skip
    h.add("ReferralWithdrawn", "w:RF", "2019-11-12", {"referral_id": "RF", "reason": "duplicate_referral"})
    secondary = {"education_form": "secondary_aso", "grade": "grade_3", "gender": "girl", "birth_year": 2005}
    h.referral("RS1", "2019-10-02", "P-RS1", "secondary", **secondary)
    h.referral("RS2", "2019-10-03", "P-RS2", "secondary", **secondary)
    h.add("ReferralWithdrawn", "w:RS1", "2019-10-20", {"referral_id": "RS1", "kind": "withdrawn",
          "reason": "clb_withdrew"}, version=2)  # fmt: skip
    h.trajectory("RS2", "TS2", "2019-10-10", "abrusco", "individual")
    h.then("TrajectoryStarted", "RS2", "TS2", "2019-10-14")


def test_rule_1_a_withdrawn_referral_counts_as_received_a_retracted_registration_nowhere(
    settings: Settings, clickhouse: Any
) -> None:
    """"Het CLB meldde in het voorbije schooljaar 71 leerlingen uit het basisonderwijs aan bij KANS voor een traject
    op maat. Het gaat om 35 reguliere aanmeldingen en 36 aanmeldingen voor het corona-aanbod" — and of those
    referrals "adviseerden we de CLB-medewerkers, in overleg met Tigo, de aanmelding on hold te zetten tot aanmelding
    bij de ITP mogelijk was", while the offer elsewhere was "zeer snel volzet". Every referral that reached the desk is
    counted, then what became of it: RA, RB (on hold for the ITP), RC (volzet), RD (parents withdrew) are 4 regular
    referrals, RG 1 corona referral: 5. RE (entered in error) and RF (a duplicate) never were referrals."""
    h = History()
    _withdrawals(h)
    db = through_the_log(settings, clickhouse, h.events)

    r01 = stat(clickhouse, db, "R01")
    assert (nonzero(r01), r01.total) == ({("2019-09", "regular"): 1, ("2019-10", "regular"): 2,
                                          ("2019-11", "regular"): 1, ("2020-05", "corona"): 1}, 5)  # fmt: skip
    assert stat(clickhouse, db, "R02").total == 5  # every profile statistic counts the same 5 referrals
    r14 = summary(stat(clickhouse, db, "R14"))
    assert r14 == {"referrals": 5, "with_trajectory": 2, "without_started_trajectory": 4, "not_started": 1,
                   "withdrawn": 3, "withdrawn_redirected_youth_care_gate": 1, "withdrawn_no_place_available": 1,
                   "withdrawn_parents_unwilling": 1}  # fmt: skip
    labels = {s.measure: s.label_nl for s in stat(clickhouse, db, "R14").summary}
    assert labels["withdrawn_no_place_available"] == "… ingetrokken, reden: Geen plaats beschikbaar (aanbod volzet)"
    r47 = stat(clickhouse, db, "R47")
    assert summary(r47) == {"referrals": 2, "with_trajectory": 1, "without_started_trajectory": 1, "withdrawn": 1,
                            "withdrawn_clb_withdrew": 1}  # fmt: skip
    assert nonzero(r47) == {("abrusco", "individual", "regular"): 1}

    # As known on a past day: before RB was put on hold; before RE and RF were retracted; after all of it.
    assert summary(stat(clickhouse, db, "R14", as_of=date(2019, 10, 10))) == {
        "referrals": 3, "with_trajectory": 1, "without_started_trajectory": 2, "no_decision_yet": 2}  # fmt: skip
    known_then = summary(stat(clickhouse, db, "R14", as_of=date(2019, 11, 10)))
    assert (known_then["referrals"], known_then["withdrawn"]) == (6, 2)  # RA-RF; RB, RC withdrawn, RD not yet
    assert summary(stat(clickhouse, db, "R14", as_of=date(2019, 11, 30)))["withdrawn"] == 3
    assert stat(clickhouse, db, "R01", as_of=date(2019, 11, 30)).total == 4  # RE, RF retracted; RG not yet referred
