"""The facts of the annual report the catalogue could not carry before (issue 14, "Facts the events cannot carry
yet"), each on a small hand-made history whose expected figures follow from the report's sentence (quoted): produced to
the event log on the suite's broker, stored by the ClickHouse writer, counted by the statistics engine on the real
embedded ClickHouse, from the current state and as known on a past day."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.auth import DataScope
from core.settings import Settings
from services.warehouse.statistics import engine
from tests.factories import pupil
from tests.integration.test_report_rules import stat, summary, through_the_log
from tests.stats_history import NA, History, nonzero

SECONDARY = {"education_form": "secondary_aso", "grade": "grade_3", "gender": "girl", "birth_year": 2005}


# -- a trajectory agreed at a round table, withdrawn before any dispatch ------------------------------------------
def _agreed_then_withdrawn(h: History) -> None:
    """Secondary 2019-2020, three referrals with a round table that agreed on a trajectory: RN1's pupil withdrew
    before any dispatch (TrajectoryNotStarted without TrajectoryDispatched); RN2's trajectory was dispatched to
    Abrusco, which did not start it; RN3's was dispatched and started."""
    for rid in ("RN1", "RN2", "RN3"):
        h.referral(rid, "2019-10-01", f"P-{rid}", "secondary", **SECONDARY)
        h.round_table(rid, f"RT-{rid}", "RoundTableHeld", "2019-10-08", outcomes=["trajectories_to_start"],
                      trajectories_to_start=1)  # fmt: skip
    h.then("TrajectoryNotStarted", "RN1", "TN1", "2019-10-20", reason="pupil_unwilling")
    h.trajectory("RN2", "TN2", "2019-10-10", "abrusco", "individual")
    h.then("TrajectoryNotStarted", "RN2", "TN2", "2019-10-21", reason="provider_declines")
    h.trajectory("RN3", "TN3", "2019-10-10", "abrusco", "individual")
    h.then("TrajectoryStarted", "RN3", "TN3", "2019-10-14")


def test_a_trajectory_withdrawn_before_any_dispatch_counts_as_not_started_not_as_offered(
    settings: Settings, clickhouse: Any
) -> None:
    """ "Er werden uiteindelijk 218 trajecten aangeboden voor 150 leerlingen. Wat gebeurde er met de overige 55
    aanmeldingen? … Bij 39 leerlingen werd het traject niet opgestart … Negen leerlingen beslisten ondanks consensus op
    de rondetafel nadien toch het traject niet op te starten." A trajectory agreed at the round table and not started
    is what became of a referral without an offered trajectory: RN1 counts among the not started (with RN2, whose
    dispatched trajectory did not start), but not among the referrals with an offered trajectory (RN2, RN3), and
    Table 8 (per provider) counts only the two dispatched ones."""
    h = History()
    _agreed_then_withdrawn(h)
    db = through_the_log(settings, clickhouse, h.events)

    r47 = stat(clickhouse, db, "R47")
    assert summary(r47) == {"referrals": 3, "with_trajectory": 2, "without_started_trajectory": 2, "not_started": 2,
                            "not_started_before_dispatch": 1}  # fmt: skip
    assert nonzero(r47) == {("abrusco", "individual", "regular"): 2} and r47.total == 2
    labels = {s.measure: s.label_nl for s in r47.summary}
    assert labels["not_started_before_dispatch"].startswith("… waarvan traject op de rondetafel afgesproken")
    assert stat(clickhouse, db, "R51").total == 1  # started trajectories only: RN3
    assert stat(clickhouse, db, "R16").total == 0  # the primary section has none of them
    # Before RN1's pupil withdrew it was a referral still awaiting its trajectory (RN2's dispatched trajectory had
    # not started yet: it counts as not started, as before).
    before = summary(stat(clickhouse, db, "R47", as_of=date(2019, 10, 15)))
    assert before == {"referrals": 3, "with_trajectory": 2, "without_started_trajectory": 2, "not_started": 1,
                      "no_decision_yet": 1}  # fmt: skip


# -- rule 3: residence (R06, Table 2) counts addresses --------------------------------------------------------------
PRIMARY = {"education_form": "primary_mainstream", "grade": "grade_4", "gender": "boy", "birth_year": 2010}


def _referral_at(h: History, rid: str, day: str, pupil_id: str, level: str, home: dict[str, Any] | None,
                 **profile: Any) -> None:  # fmt: skip
    """A version-4 referral: the source sends the pupil's address, the ingest's sealing keeps only its keyed hash."""
    recorded = profile.pop("recorded", None)
    payload = {
        "referral_id": rid,
        "pupil_id": pupil(pupil_id),
        "channel": "lars",
        "referrer_id": "clb-1",
        "offer_type": "regular",
        "level": level,
        "birth_month": 1,
        "household_address": home,
        **profile,
    }
    h.add("ReferralSubmitted", f"ref:{rid}", day, payload, recorded=recorded, version=4)


def _households(h: History) -> None:
    """Primary 2019-2020. In 1030 Schaarbeek: R1 and R2, a brother and sister under one roof (the address written
    two ways), R3 and R4 one pupil referred twice from another address: 4 referrals, 2 addresses. In 1070 Anderlecht:
    R5 with an address, R6 (a version-2 submission) and R7 without one: 3 referrals, each its own. R8 without a
    residence: 1. Secondary: S1 and S2, twins in 1080 Sint-Jans-Molenbeek."""
    one_roof = {"street": "Rue Royale Sainte-Marie", "house_number": "80", "box": "2", "postcode": "1030"}
    _referral_at(h, "R1", "2019-10-01", "P1", "primary", one_roof, residence_postcode="1030", **PRIMARY)
    _referral_at(h, "R2", "2019-10-02", "P2", "primary", {**one_roof, "street": "rue royale sainte marie "},
                 residence_postcode="1030", **PRIMARY)  # fmt: skip
    other = {"street": "Avenue Louis Bertrand", "house_number": "12", "postcode": "1030"}
    _referral_at(h, "R3", "2019-10-07", "P3", "primary", other, residence_postcode="1030", **PRIMARY)
    _referral_at(h, "R4", "2020-02-03", "P3", "primary", other, residence_postcode="1030", **PRIMARY)
    _referral_at(h, "R5", "2019-11-04", "P5", "primary", {"street": "Rue Wayez", "house_number": "5",
                 "postcode": "1070"}, residence_postcode="1070", **PRIMARY)  # fmt: skip
    h.referral("R6", "2019-11-05", "P6", "primary", residence_postcode="1070", **PRIMARY)
    _referral_at(h, "R7", "2019-11-06", "P7", "primary", None, residence_postcode="1070", **PRIMARY)
    _referral_at(h, "R8", "2019-11-07", "P8", "primary", None, **PRIMARY)
    twins = {"street": "Chaussée de Gand", "house_number": "100", "postcode": "1080"}
    for rid in ("S1", "S2"):
        _referral_at(h, rid, "2019-10-01", f"P{rid}", "secondary", twins, residence_postcode="1080", **SECONDARY)


def test_rule_3_residence_counts_addresses_and_table_7_keeps_counting_referrals(
    settings: Settings, clickhouse: Any
) -> None:
    """ "Het aantal registraties voor gemeente ligt lager dan het aantal aanmeldingen. Dat heeft te maken met
    dubbelregistraties op eenzelfde adres. Het kan daarbij gaan om familie die onder hetzelfde dak woont of over
    kinderen die twee keer dat jaar zijn aangemeld." Table 2 (R06) counts addresses: Schaarbeek 2 (4 referrals),
    Anderlecht 3, unknown 1: 6 addresses for 8 referrals. Table 7 (R38) keeps counting referrals ("Brusselse gemeenten
    227 ... Niet-Brusselse gemeenten 53", together the 280 referrals): the twins count twice."""
    h = History()
    _households(h)
    streets = ("Royale", "royale", "Bertrand", "Wayez", "Gand")
    assert not any(street.encode() in event for event in h.events for street in streets)
    db = through_the_log(settings, clickhouse, h.events)

    r06 = stat(clickhouse, db, "R06")
    assert (nonzero(r06), r06.total, r06.unit) == ({("1030",): 2, ("1070",): 3, (NA,): 1}, 6, "households")
    assert summary(r06) == {"referrals": 8}
    r38 = stat(clickhouse, db, "R38")
    assert (nonzero(r38), r38.total) == ({("brussels", "1080"): 2}, 2)
    assert stat(clickhouse, db, "R02").total == 8  # the other profile statistics still count referrals
    # Before R4 (P3 referred again in February) was known, the second address of Schaarbeek had one referral.
    before = stat(clickhouse, db, "R06", as_of=date(2020, 1, 15))
    assert (nonzero(before), summary(before)) == ({("1030",): 2, ("1070",): 3, (NA,): 1}, {"referrals": 7})
    stored = clickhouse.query(f"SELECT count() FROM {db}.events WHERE positionCaseInsensitive(payload, 'royale') > 0 "
                              "OR positionCaseInsensitive(payload, 'wayez') > 0").result_rows[0][0]  # fmt: skip
    keys = clickhouse.query(f"SELECT uniqExact(household_key) FROM {db}.referral_state FINAL "
                            "WHERE household_key != ''").result_rows[0][0]  # fmt: skip
    assert (stored, keys) == (0, 4)  # no address in the warehouse; 4 addresses keyed (one roof, P3's, R5's, twins)


# -- youth coaches in schools and corona coaching (R50) -------------------------------------------------------------
def _setting(h: History, setting: str, school: str, day: str, half_days: float, **fields: Any) -> None:
    recorded = fields.pop("recorded", None)
    payload = {"provider_id": "abrusco", "setting_id": setting, "school_id": school, "half_days_per_week": half_days,
               "valid_from": fields.pop("valid_from", "2019-09-01"), **fields}  # fmt: skip
    h.add(
        "ProviderCoachSettingSet", f"coach:{setting}:{day}", day, payload, recorded=recorded, system="provider_portal"
    )


def _corona(h: History, report: str, day: str, kind: str, pupils: int, **fields: Any) -> None:
    payload = {"provider_id": "abrusco", "report_id": report, "school_year": "2019-2020", "kind": kind,
               "pupils": pupils, "period_from": "2020-03-16", "period_until": "2020-06-30"}  # fmt: skip
    h.add("ProviderCoronaCoachingReported", f"corona:{report}:{day}", day, payload, recorded=fields.get("recorded"),
          system="provider_portal")  # fmt: skip


def _coaches(h: History) -> None:
    """Abrusco's youth coaches in 2019-2020: eleven schools with a full-time setting of 4 half-days; two of them also
    a part-time setting (2 half-days each), one a second campus (4): 14 settings, 52 half-days a week. S12's setting
    ended in June 2019, S13's starts in 2020-2021 (neither counts); S3's campus first had 2 half-days and was raised to
    4. Corona: 15 pupils in the study lab (first reported as 12, corrected), 23 visited on the doorstep."""
    for n in range(1, 12):
        _setting(h, f"S{n}-ft", f"school-{n}", "2019-09-02", 4, track="full_time")
    _setting(h, "S1-pt", "school-1", "2019-09-02", 2, track="part_time")
    _setting(h, "S2-pt", "school-2", "2019-09-02", 2, track="part_time")
    _setting(h, "S3-campus", "school-3", "2019-09-02", 2)
    _setting(h, "S3-campus", "school-3", "2020-01-06", 4, valid_from="2019-09-01")
    _setting(h, "S12-ft", "school-12", "2019-05-02", 4, valid_from="2018-09-01", valid_until="2019-06-30")
    _setting(h, "S13-ft", "school-13", "2020-06-02", 4, valid_from="2020-09-01")
    _corona(h, "lab", "2020-05-04", "study_lab", 12)
    _corona(h, "lab", "2020-07-01", "study_lab", 15)
    _corona(h, "doorstep", "2020-07-01", "doorstep_visit", 23)


def test_r50_youth_coaches_schools_settings_half_days_and_corona_coaching(settings: Settings, clickhouse: Any) -> None:
    """ "Elf scholen hebben een coach op school. In 2 scholen worden de dagdelen zowel benut voor de voltijdse als de
    deeltijdse werking. Daarnaast zijn er jongerencoaches actief op 2 vestigingen van eenzelfde school. We zouden
    kunnen stellen dat er binnen 14 schoolwerkingen coaches werkzaam zijn. ... In elk geval worden 52 dagdelen per
    week ingezet" and "15 leerlingen specifiek begeleid in het gecreëerde studielab i.f.v. corona, alsook werden er 23
    moeilijk bereikbare jongeren opgevolgd via stoepbezoeken" ("38 onder hen liepen een intensiever traject")."""
    h = History()
    _coaches(h)
    db = through_the_log(settings, clickhouse, h.events)

    r50 = stat(clickhouse, db, "R50")
    figures = nonzero(r50)
    assert figures == {("abrusco", "schools"): 11, ("abrusco", "settings"): 14, ("abrusco", "half_days_per_week"): 52,
                       ("abrusco", "half_days_per_school"): 4.73, ("abrusco", "corona_study_lab"): 15,
                       ("abrusco", "corona_doorstep_visit"): 23}  # fmt: skip
    assert figures[("abrusco", "corona_study_lab")] + figures[("abrusco", "corona_doorstep_visit")] == 38
    assert r50.total == 14 and r50.unit == "coach_settings"
    labels = {r.model_extra["measure"]: r.model_extra["measure_label_nl"] for r in r50.rows}
    assert labels["corona_study_lab"] == "Coronacoaching: Studielab (ondersteuning bij afstandsleren) (leerlingen)"
    # As known on 1 December 2019: S3's campus still at 2 half-days, no corona report yet.
    before = nonzero(stat(clickhouse, db, "R50", as_of=date(2019, 12, 1)))
    assert (before[("abrusco", "half_days_per_week")], before.get(("abrusco", "corona_study_lab"))) == (50, None)
    assert nonzero(stat(clickhouse, db, "R50", as_of=date(2020, 6, 1)))[("abrusco", "corona_study_lab")] == 12
    # The previous school year had S12's setting only; another provider sees none of Abrusco's.
    assert nonzero(engine.statistic(clickhouse, db, "R50", "2018-2019", engine.Question())) == {
        ("abrusco", "schools"): 1, ("abrusco", "settings"): 1, ("abrusco", "half_days_per_week"): 4,
        ("abrusco", "half_days_per_school"): 4}  # fmt: skip
    tigo = engine.Question(scope=DataScope(providers=frozenset({"tigo"})))
    assert nonzero(engine.statistic(clickhouse, db, "R50", "2019-2020", tigo)) == {}


# -- ambulant care details (R13/R45) --------------------------------------------------------------------------------
def test_ambulant_care_details_are_codes_counted_in_r45_and_together_as_the_reports_other(
    settings: Settings, clickhouse: Any
) -> None:
    """ "Het vaakst was 'andere' hulpverlening betrokken dan aangegeven in de aangeboden aanvinklijst, voorbeelden die
    werden opgenomen, zijn de Romadienst, straathoekwerk, Yuneco, logopedist en organisaties voor verder diagnostisch
    onderzoek" and "116 keer hulpverleningsorganisaties betrokken". Secondary: CA other (free text only), CB street
    work, CC speech therapy and psychiatry, CD diagnostic assessment, CE none, CF not registered: 5 involvements, 4
    referrals with the report's 'Andere'. Primary: CP youth work ("D'Broej (1)")."""
    h = History()
    cares: dict[str, list[str] | None] = {"CA": ["other"], "CB": ["street_work"],
                                          "CC": ["speech_therapy", "psychiatry"], "CD": ["diagnostic_assessment"],
                                          "CE": [], "CF": None}  # fmt: skip
    for rid, care in cares.items():
        h.referral(rid, "2019-10-01", f"P-{rid}", "secondary", **SECONDARY, ambulant_care=care)
    h.referral("CP", "2019-10-01", "P-CP", "primary", **PRIMARY, ambulant_care=["youth_work"])
    db = through_the_log(settings, clickhouse, h.events)

    r45 = stat(clickhouse, db, "R45")
    ambulant = {k[1]: v for k, v in nonzero(r45).items() if k[0] == "ambulant_care"}
    assert ambulant == {"other": 1, "street_work": 1, "speech_therapy": 1, "psychiatry": 1,
                        "diagnostic_assessment": 1, "none": 1, "not_registered": 1}  # fmt: skip
    assert summary(r45) == {"ambulant_care_involvements": 5, "ambulant_care_other": 4}
    labels = {r.model_extra["category"]: r.model_extra["category_label_nl"] for r in r45.rows
              if r.model_extra["aspect"] == "ambulant_care"}  # fmt: skip
    assert (labels["street_work"], labels["speech_therapy"]) == ("Straathoekwerk", "Logopedie")
    r13 = stat(clickhouse, db, "R13")
    assert ({k[1]: v for k, v in nonzero(r13).items() if k[0] == "ambulant_care"}, summary(r13)) == (
        {"youth_work": 1}, {"ambulant_care_involvements": 1, "ambulant_care_other": 1})  # fmt: skip
