"""The annual report's own counting rules (issue 14), each on a small hand-made history whose expected figures follow
from the report's sentence (quoted). The events go the way production events go: sealed, produced to the event log
on the suite's broker, stored by the ClickHouse writer (which refolds the current-state facts), then counted by the
statistics engine on the real embedded ClickHouse, from the current state and as known on a past day."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from core.settings import Settings
from core.topics import events_topic
from services.warehouse.clickhouse import migrate
from services.warehouse.statistics import engine
from services.warehouse.statistics.comparison import T5_COLUMNS
from services.warehouse.statistics.filters import Filters, as_of_ms
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


# -- rule 2: "outside LARS" is about the registration system, not the channel -------------------------------------
def _registrations(h: History) -> None:
    """Primary 2019-2020: RL1, RL2 referred by Brussels CLBs in LARS; RX2 by a CLB outside Brussels but typed into
    LARS by the desk; RX1 by a CLB outside Brussels on its own form; RI1 an intake the desk registered itself. Group
    referrals: GL from LARS (one group), GT from the group tool (two groups)."""
    mainstream = {"education_form": "primary_mainstream", "grade": "grade_4", "gender": "girl", "birth_year": 2010}
    h.referral("RL1", "2019-10-01", "P-RL1", "primary", **mainstream)
    h.referral("RL2", "2019-10-02", "P-RL2", "primary", **mainstream)
    h.referral("RX2", "2019-10-03", "P-RX2", "primary", **mainstream, channel="external_clb")
    h.referral("RX1", "2019-10-04", "P-RX1", "primary", **mainstream, channel="external_clb",
               system="external_clb_form")  # fmt: skip
    h.referral("RI1", "2019-10-07", "P-RI1", "primary", **mainstream, channel="intake", system="desk")
    h.trajectory("RX2", "TX2", "2019-10-14", "tigo", "day-care")
    h.trajectory("RX1", "TX1", "2019-10-15", "frambozenhof", "day-care")
    h.round_table("RL1", "RTL1", "RoundTableHeld", "2019-10-10", outcomes=["trajectories_to_start"],
                  trajectories_to_start=1)  # fmt: skip
    h.round_table("RI1", "RTI1", "RoundTableHeld", "2019-10-11", outcomes=["decision_not_to_start"])
    class_group = {"school_id": "school-x", "level": "primary", "education_form": "primary_mainstream",
                   "grade": "grade_5", "group_kind": "class_group", "pupil_count": 20,
                   "requested_module": "class_action"}
    h.groups("GL", "2019-11-04", {**class_group, "group_id": "gl-a"})
    h.groups("GT", "2019-11-05", {**class_group, "group_id": "gt-a"}, {**class_group, "group_id": "gt-b"},
             system="group_referral_tool")  # fmt: skip


def test_rule_2_the_lars_views_are_by_registration_system_beside_the_channel_filters(
    settings: Settings, clickhouse: Any
) -> None:
    """"65 aanmeldingen gebeurden door Brusselse CLB's, zes kinderen woonachtig te Brussel werden aangemeld vanuit een
    niet-Brussels CLB. De aanmeldingen uit de niet-Brusselse CLB's zijn niet opgenomen in de grafieken, aangezien deze
    niet via de registratietool in LARS gegenereerd kunnen worden." What is left out is what LARS cannot generate:
    RX1 (the external form) and RI1 (the desk's intake), not RX2, a non-Brussels CLB's referral that is in LARS. The
    LARS view counts RL1, RL2, RX2 (3); outside LARS RX1, RI1 (2); the channel view without external CLBs and intake
    RL1, RL2 (2)."""
    h = History()
    _registrations(h)
    db = through_the_log(settings, clickhouse, h.events)

    lars, outside = Filters(registration="lars"), Filters(registration="outside_lars")
    in_lars = stat(clickhouse, db, "R01", filters=lars)
    assert (in_lars.total, in_lars.filters) == (3, {"registration": "lars"})
    assert in_lars.population == "individuele aanmeldingen basisonderwijs, alle kanalen, geregistreerd in LARS"
    assert stat(clickhouse, db, "R01", filters=outside).total == 2
    channels = stat(clickhouse, db, "R01", filters=Filters(exclude_channel=("external_clb", "intake")))
    assert channels.total == 2
    assert channels.population.endswith("zonder CLB buiten Brussel en Intake, in en buiten LARS geregistreerd")
    everything = stat(clickhouse, db, "R01")
    assert (everything.total, everything.population) == (
        5, "individuele aanmeldingen basisonderwijs, alle kanalen, in en buiten LARS geregistreerd")  # fmt: skip
    both = Filters(registration="lars", channel=("external_clb",))
    assert nonzero(stat(clickhouse, db, "R01", filters=both)) == {("2019-10", "regular"): 1}  # RX2

    # Every source carries its referral's system: trajectories, round tables, groups; and as known on a past day.
    assert nonzero(stat(clickhouse, db, "R16", filters=lars)) == {("tigo", "regular"): 1}
    assert nonzero(stat(clickhouse, db, "R16", filters=outside)) == {("frambozenhof", "regular"): 1}
    assert nonzero(stat(clickhouse, db, "R15", filters=lars)) == {("held", None): 1}
    r15 = stat(clickhouse, db, "R15", filters=outside)
    assert {s.measure: s.value for s in r15.summary}["decision_not_to_start"] == 1
    assert stat(clickhouse, db, "R22", filters=lars).total == 1
    assert stat(clickhouse, db, "R22", filters=outside).total == 2
    assert stat(clickhouse, db, "R01", filters=lars, as_of=date(2019, 10, 2)).total == 2  # RX2 not yet referred
    report = engine.report(clickhouse, db, YEAR, engine.Question(filters=outside))
    assert all(s.population.endswith("buiten LARS geregistreerd") for part in report.sections
               for s in part.statistics)  # fmt: skip


# -- rule 4: percentages over the known values ----------------------------------------------------------------------
def _known_values(h: History) -> None:
    """Primary 2019-2020: 15 referrals with two started trajectories each; 17 trajectories ran more than three months,
    8 one to three months, 5 have no duration registered. Secondary: 6 referrals, 2 of them with one secondary school,
    3 with more, 1 without the number registered."""
    mainstream = {"education_form": "primary_mainstream", "grade": "grade_2", "gender": "boy", "birth_year": 2012}
    durations = ["over_3_months"] * 17 + ["one_to_three_months"] * 8 + [None] * 5
    for n in range(15):
        rid = f"RK{n}"
        h.referral(rid, "2019-09-16", f"P-{rid}", "primary", **mainstream)
        for k in range(2):
            tid = f"TK{n}-{k}"
            h.trajectory(rid, tid, "2019-09-23", "frambozenhof" if k else "tigo", "day-care")
            h.then("TrajectoryStarted", rid, tid, "2019-09-30")
            if (duration := durations[2 * n + k]) is not None:
                h.then("TrajectoryProgressReported", rid, tid, "2020-01-06", duration_bucket=duration)
    secondary = {"education_form": "secondary_aso", "grade": "grade_3", "gender": "girl", "birth_year": 2005}
    for n, schools in enumerate((1, 1, 2, 3, 5, None)):
        h.referral(f"RM{n}", "2019-10-07", f"P-RM{n}", "secondary", **secondary, primary_schools_attended=1,
                   secondary_schools_attended=schools)  # fmt: skip


def test_rule_4_percentages_are_over_the_known_values_with_the_unregistered_beside_them(
    settings: Settings, clickhouse: Any
) -> None:
    """"De meerderheid van de trajecten had een duurtijd van langer dan drie maanden (68%). 32% van de trajecten had
    een duurtijd van één tot drie maanden. We konden de duurtijd wel niet voor alle trajecten bepalen." 68 % and 32 %
    add up to 100 %: the base is the trajectories with a known duration (17 + 8 = 25), not the 30 started; the 5
    without one are shown beside it. Secondary: "het gaat om 40% van de aangemelde leerlingen (105)", 105 of the 262
    with a known number: here 2 of the 5 known, the sixth not registered."""
    h = History()
    _known_values(h)
    db = through_the_log(settings, clickhouse, h.events)

    r18 = stat(clickhouse, db, "R18")
    rows = {r.model_extra["duration_bucket"]: (r.value, r.pct, r.pct_base) for r in r18.rows if r.value}
    assert rows == {"over_3_months": (17, 68.0, 25), "one_to_three_months": (8, 32.0, 25),
                    "not_registered": (5, None, None)}  # fmt: skip
    assert r18.total == 30  # the population is still every started trajectory
    r41 = stat(clickhouse, db, "R41")
    schools = {r.model_extra["schools_attended"]: (r.value, r.pct, r.pct_base) for r in r41.rows
               if r.model_extra["aspect"] == "secondary" and r.value}  # fmt: skip
    assert schools == {"1": (2, 40.0, 5), "2": (1, 20.0, 5), "3": (1, 20.0, 5), "5": (1, 20.0, 5),
                       None: (1, None, None)}  # fmt: skip

    # For policy readers a suppressed not-registered count must not come back as total minus base.
    policy = stat(clickhouse, db, "R18", audience=engine.Audience("policy", threshold=6))
    assert all(r.pct is None and r.pct_base is None for r in policy.rows)


# -- rule 6: pupils reached = pupils of the groups that started --------------------------------------------------
def _group(gid: str, level: str, pupils: int, module: str) -> dict[str, Any]:
    form, grade = ("primary_mainstream", "grade_5") if level == "primary" else ("secondary_aso", "grade_3")
    kind = "restorative_group" if module == "restorative" else "class_group"
    return {"group_id": gid, "school_id": "school-x", "level": level, "education_form": form, "grade": grade,
            "group_kind": kind, "pupil_count": pupils, "requested_module": module}  # fmt: skip


def _groups_reached(h: History) -> None:
    """Primary 2019-2020, one group referral: ga (class action, 22 pupils) ran to the end; gb (class action, 25) and
    gd (restorative, 3) started and were stopped early; gc (theme workshop, 18) ran to the end; ge (class action, 20)
    was not started; gf (class action, 24) is not dispatched yet. Secondary: gs1 (30) started and stopped early, gs2
    (15) ran to the end."""
    h.groups("GP", "2019-10-07", _group("ga", "primary", 22, "class_action"),
             _group("gb", "primary", 25, "class_action"), _group("gc", "primary", 18, "theme_workshop"),
             _group("gd", "primary", 3, "restorative"), _group("ge", "primary", 20, "class_action"),
             _group("gf", "primary", 24, "class_action"))  # fmt: skip
    for gid, module in (("ga", "class_action"), ("gb", "class_action"), ("gc", "theme_workshop"),
                        ("gd", "restorative"), ("ge", "class_action")):
        h.group_event("GroupTrajectoryDispatched", "GP", gid, "2019-10-14", provider_id="abrusco", module=module)
    for gid in ("ga", "gb", "gc", "gd"):
        h.group_event("GroupTrajectoryStarted", "GP", gid, "2019-11-04")
    h.group_event("GroupTrajectoryCompleted", "GP", "ga", "2019-12-20", class_hours=12, pupils_reached=22)
    h.group_event("GroupTrajectoryCompleted", "GP", "gc", "2019-11-04", class_hours=2, pupils_reached=18)
    h.group_event("GroupTrajectoryStoppedEarly", "GP", "gb", "2020-03-16", reason="corona_crisis")
    h.group_event("GroupTrajectoryStoppedEarly", "GP", "gd", "2019-12-02", reason="conditions_not_met")
    h.group_event("GroupTrajectoryNotStarted", "GP", "ge", "2020-03-20", reason="corona_crisis")
    h.groups("GS", "2019-10-08", _group("gs1", "secondary", 30, "class_action"),
             _group("gs2", "secondary", 15, "class_action"))  # fmt: skip
    for gid in ("gs1", "gs2"):
        h.group_event("GroupTrajectoryDispatched", "GS", gid, "2019-10-14", provider_id="groep-intro",
                      module="class_action")  # fmt: skip
        h.group_event("GroupTrajectoryStarted", "GS", gid, "2019-11-12")
    h.group_event("GroupTrajectoryStoppedEarly", "GS", "gs1", "2020-03-16", reason="corona_crisis")
    h.group_event("GroupTrajectoryCompleted", "GS", "gs2", "2020-02-14", class_hours=8, pupils_reached=15)


def test_rule_6_pupils_reached_are_the_pupils_of_the_groups_that_started(settings: Settings, clickhouse: Any) -> None:
    """"Tien trajecten werden vroegtijdig stopgezet omwille van de coronacrisis ... In totaal werden dus 19 trajecten
    wel effectief opgestart en dit voor 554 leerlingen", and Table 4 ("Aantal bereikte leerlingen per module") ends
    with "Eindtotaal 554": the pupils of every group that started, the ones stopped early included; secondary: "Voor
    1798 leerlingen werden wel groepstrajecten opgestart". Here ga 22 + gb 25 + gc 18 + gd 3 = 68 reached (class action
    47, theme workshop 18, restorative 3); effectively run (started minus stopped early): ga, gc, 40 pupils.
    Secondary: 30 + 15 = 45 reached, 15 in the group that ran to the end."""
    h = History()
    _groups_reached(h)
    db = through_the_log(settings, clickhouse, h.events)

    r24 = nonzero(stat(clickhouse, db, "R24"))
    assert r24 == {(YEAR, "pupils_referred"): 112, (YEAR, "pupils_in_started_groups"): 68,
                   (YEAR, "pupils_reached"): 68, (YEAR, "pupils_effectively_run"): 40}  # fmt: skip
    r27 = stat(clickhouse, db, "R27")
    assert (nonzero(r27), r27.total) == ({("class_action",): 47, ("theme_workshop",): 18, ("restorative",): 3}, 68)
    assert summary(r27) == {"pupils_effectively_run": 40}
    r25 = nonzero(stat(clickhouse, db, "R25"))
    assert (r25[("started", None)], r25[("effectively_run", None)]) == (4, 2)  # effectively run: its own measure
    r56 = nonzero(stat(clickhouse, db, "R56"))
    assert (r56[(YEAR, "pupils_reached")], r56[(YEAR, "pupils_effectively_run")]) == (45, 15)


# -- rule 5: Table 3 counts group referrals per module, and the groups beside them --------------------------------
def test_rule_5_modules_requested_count_group_referrals_and_groups(settings: Settings, clickhouse: Any) -> None:
    """"In onderstaande tabel vindt u de modules terug waarvoor aangemeld werd", Table 3: "Klasactie 22, Themawerking 6,
    Herstel 2, Eindtotaal 30": the 30 referrals, not the 40 groups ("Voor de 40 aangemelde groepen werden 30
    trajecten opgestart"); DOMAIN §6: reports count both. Here GR1 asks a class action for two groups, GR2 a theme
    workshop, GR3 restorative work, GR4 a class action and a theme workshop: class action 2 referrals (3 groups),
    theme workshop 2 (2), restorative 1 (1); 4 referrals in all (GR4 once), 6 groups."""
    h = History()
    h.groups("GR1", "2019-10-01", _group("r1a", "primary", 20, "class_action"),
             _group("r1b", "primary", 21, "class_action"))  # fmt: skip
    h.groups("GR2", "2019-10-02", _group("r2a", "primary", 19, "theme_workshop"))
    h.groups("GR3", "2019-10-03", _group("r3a", "primary", 3, "restorative"))
    h.groups("GR4", "2019-10-04", _group("r4a", "primary", 22, "class_action"),
             _group("r4b", "primary", 23, "theme_workshop"))  # fmt: skip
    db = through_the_log(settings, clickhouse, h.events)

    r26 = stat(clickhouse, db, "R26")
    assert nonzero(r26) == {("class_action", "group_referrals"): 2, ("class_action", "groups"): 3,
                            ("theme_workshop", "group_referrals"): 2, ("theme_workshop", "groups"): 2,
                            ("restorative", "group_referrals"): 1, ("restorative", "groups"): 1}  # fmt: skip
    assert (r26.total, r26.unit) == (4, "group_referrals")
    labels = {r.model_extra["measure"]: r.model_extra["measure_label_nl"] for r in r26.rows}
    assert labels == {"group_referrals": "Aanmeldingen", "groups": "Aangemelde groepen"}
    assert stat(clickhouse, db, "R22").total == 6  # the groups, as before


# -- rule 7: T5's "extra part-time referrals" are the increase among every referral ---------------------------------
def test_rule_7_t5_subtracts_the_increase_in_part_time_referrals_over_every_referral(
    settings: Settings, clickhouse: Any
) -> None:
    """"In het schooljaar 19-20 waren dat er 68. We verlagen het getal met 58": the 68 part-time (L&W) referrals are
    all of that year's, corona ones included, and 58 is their increase over the year before (10). Secondary: in
    2018-2019 one part-time and two full-time referrals; in 2019-2020 three regular and two corona part-time ones,
    four regular and one corona full-time. Column 3 (without corona and the extra part-time) = 7 without corona minus
    the increase of 5 - 1 = 4 -> 3; the stricter reading (the increase among the non-corona referrals only: 3 - 1 = 2)
    -> 5, offered as a column option by name."""
    h = History()
    n = 0

    def referrals(year_day: str, form: str, offer: str, count: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            extra = {"offer_type": "corona", "channel": "school_direct"} if offer == "corona" else {}
            h.referral(f"RT{n}", year_day, f"P-RT{n}", "secondary", education_form=form, grade="grade_3",
                       gender="girl", birth_year=2004, **extra)  # fmt: skip

    referrals("2018-10-01", "secondary_part_time", "regular", 1)
    referrals("2018-10-02", "secondary_aso", "regular", 2)
    referrals("2019-10-01", "secondary_part_time", "regular", 3)
    referrals("2020-05-11", "secondary_part_time", "corona", 2)
    referrals("2019-10-02", "secondary_aso", "regular", 4)
    referrals("2020-05-12", "secondary_aso", "corona", 1)
    db = through_the_log(settings, clickhouse, h.events)

    r29 = nonzero(stat(clickhouse, db, "R29"))
    assert (r29[(YEAR, "raw")], r29[(YEAR, "excl_corona")], r29[(YEAR, "excl_corona_extra_part_time")]) == (10, 7, 3)
    assert (r29[("2018-2019", "raw")], r29[("2018-2019", "excl_corona_extra_part_time")]) == (3, 3)
    report_column = next(c for c in T5_COLUMNS if c.code == "excl_corona_extra_part_time")
    stricter = report_column.model_copy(update={"code": "excl_corona_extra_part_time_non_corona",
                                                "excess_among": "column"})  # fmt: skip
    compared = engine.comparison_with_exclusions(clickhouse, db, "2018-2019", YEAR, "secondary",
                                                 (report_column, stricter), engine.Question())  # fmt: skip
    assert {row.column: row.values for row in compared.rows} == {
        "excl_corona_extra_part_time": {"2018-2019": 3, YEAR: 3},
        "excl_corona_extra_part_time_non_corona": {"2018-2019": 3, YEAR: 5},
    }


# -- the as-of report of a past day stays what it was ------------------------------------------------------------
def test_the_as_of_report_of_a_past_day_stays_identical_after_later_corrections(
    settings: Settings, clickhouse: Any
) -> None:
    """Every rule's history, fed in two parts: what was recorded by 10 November 2019, then the rest, with corrections
    of earlier facts recorded late (an amendment, a retraction, a duration, a withdrawal). The whole report as known on
    10 November is the same before and after the second part; the report as known now is not."""
    h = History()
    for part in (_withdrawals, _registrations, _known_values, _groups_reached):
        part(h)
    h.add("ReferralAmended", "a:RA", "2019-10-01", {"referral_id": "RA", "changes": {"gender": "girl"}},
          recorded="2019-12-01")  # fmt: skip
    h.add("ReferralWithdrawn", "r:RL1", "2019-10-20", {"referral_id": "RL1", "kind": "retracted",
          "reason": "duplicate_referral"}, recorded="2020-01-10", version=2)  # fmt: skip
    h.add("ReferralWithdrawn", "w:RL2", "2019-11-04", {"referral_id": "RL2", "kind": "withdrawn",
          "reason": "no_place_available"}, recorded="2019-11-25", version=2)  # fmt: skip
    h.then("TrajectoryProgressReported", "RX2", "TX2", "2019-10-30", duration_bucket="under_1_month")
    cut = as_of_ms(date(2019, 11, 10))
    recorded = [datetime.fromisoformat(json.loads(e)["recorded_at"]).timestamp() * 1000 for e in h.events]
    early = [e for e, ms in zip(h.events, recorded, strict=True) if ms < cut]
    late = [e for e, ms in zip(h.events, recorded, strict=True) if ms >= cut]
    assert early and len(late) >= 30

    question = engine.Question(as_of=date(2019, 11, 10))
    db = through_the_log(settings, clickhouse, early)
    before = engine.report(clickhouse, db, YEAR, question).model_dump(exclude={"elapsed_ms"})
    now_before = stat(clickhouse, db, "R01").total
    through_the_log(settings, clickhouse, late)
    after = engine.report(clickhouse, db, YEAR, question).model_dump(exclude={"elapsed_ms"})
    assert after == before
    assert stat(clickhouse, db, "R01").total != now_before  # the later events did change what is known now
