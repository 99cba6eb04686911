"""The figures the report gives in its text beside its tables (issue 14, "Statistics the report has that the API does
not offer"), each a statistic of the registry (`supplements.py`), on a small hand-made history whose expected figures
follow from the report's sentence (quoted). The events go through the suite's broker and the ClickHouse writer, then
are counted on the real embedded ClickHouse, through the statistics API where access matters."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.auth import Role, development_headers
from core.settings import Settings
from services.api.bootstrap import Api
from services.api.main import create_app
from services.api.warehouse import Warehouse
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import Filters
from tests.integration.test_report_rules import YEAR, stat, summary, through_the_log
from tests.stats_history import History, nonzero

POLICY = engine.Audience("policy", threshold=5)


def _group(gid: str, level: str, module: str, school: str = "school-a", grade: str = "grade_5",
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    form = "primary_mainstream" if level == "primary" else "secondary_aso"
    kind = "restorative_group" if module == "restorative" else "class_group"
    return {"group_id": gid, "school_id": school, "level": level, "education_form": form, "grade": grade,
            "group_kind": kind, "pupil_count": 3 if module == "restorative" else 20, "requested_module": module,
            **extra}  # fmt: skip


# -- R22a (and R05a, R37a, R54a): referrals per school, for the desk only -------------------------------------------
def _schools(h: History) -> None:
    """Primary group referrals 2019-2020: school-a four (one of them for two groups), school-d two, school-b and
    school-c one each. Secondary: one group referral from school-a. Individual referrals: primary two from school-p,
    one from school-q, one without a school; secondary three from school-s."""
    for n in range(4):
        groups = [_group(f"a{n}", "primary", "class_action")]
        groups += [_group(f"a{n}x", "primary", "class_action")] if n == 0 else []
        h.groups(f"GA{n}", f"2019-10-0{n + 1}", *groups)
    for grid, school in (("GD0", "school-d"), ("GD1", "school-d"), ("GB", "school-b"), ("GC", "school-c")):
        h.groups(grid, "2019-11-04", _group(f"{grid}-1", "primary", "theme_workshop", school))
    h.groups("GS", "2019-11-05", _group("s1", "secondary", "class_action", "school-a", "grade_3"))
    primary = {"education_form": "primary_mainstream", "grade": "grade_4", "gender": "boy", "birth_year": 2010}
    for rid, school in (("RP1", "school-p"), ("RP2", "school-p"), ("RP3", "school-q"), ("RP4", None)):
        h.referral(rid, "2019-10-07", f"P-{rid}", "primary", **primary, **({"school_id": school} if school else {}))
    for n in range(3):
        h.referral(f"RS{n}", "2019-10-08", f"P-RS{n}", "secondary", education_form="secondary_bso", grade="grade_3",
                   gender="girl", birth_year=2005, school_id="school-s")  # fmt: skip


@pytest.fixture
def schools_store(settings: Settings, clickhouse: Any) -> str:
    h = History()
    _schools(h)
    return through_the_log(settings, clickhouse, h.events)


def test_r22a_referrals_per_school_their_distribution_and_the_most_from_one_school(
    clickhouse: Any, schools_store: str
) -> None:
    """"Om privacy redenen wordt de verdeling van de aanmeldingen over de scholen niet opgenomen in dit jaarrapport.
    Uiteraard analyseerden we deze gegevens wel intern. We stellen opnieuw een goede spreiding van de aanmeldingen per
    school vast. We stelden bij slechts één school een hoger aantal aanmeldingen vast (4)." Group referrals
    (aanmeldingen, not groups: GA0 asks for two groups and counts once): school-a 4, school-d 2, school-b and
    school-c 1: two schools with one referral, one with two, one with four; four schools; the most from one school 4.
    The secondary group referral of school-a is in R54a, not here."""
    db = schools_store
    r22a = stat(clickhouse, db, "R22a")
    assert (nonzero(r22a), r22a.total, r22a.unit) == ({("1",): 2, ("2",): 1, ("4",): 1}, 4, "schools")
    assert summary(r22a) == {"max_referrals_per_school": 4}
    assert [r.model_extra["referrals_per_school_label_nl"] for r in r22a.rows] == [
        "1 aanmelding", "2 aanmeldingen", "4 aanmeldingen"]  # fmt: skip
    assert r22a.title_nl == "Spreiding van de groepsaanmeldingen over de scholen (basisonderwijs)"
    r54a = stat(clickhouse, db, "R54a")
    assert (nonzero(r54a), summary(r54a)) == ({("1",): 1}, {"max_referrals_per_school": 1})
    # Individual referrals: the same per school, the referral without a school beside it.
    r05a = stat(clickhouse, db, "R05a")
    assert (nonzero(r05a), summary(r05a)) == ({("1",): 1, ("2",): 1}, {"max_referrals_per_school": 2,
                                                                       "without_school": 1})  # fmt: skip
    assert summary(stat(clickhouse, db, "R37a")) == {"max_referrals_per_school": 3}
    # As known before the last two primary group referrals were recorded (1 October: GA0 only).
    assert summary(stat(clickhouse, db, "R22a", as_of=date(2019, 10, 1))) == {"max_referrals_per_school": 1}

    # Anyone but the desk: withheld, whatever the threshold (here every count would pass a threshold of 1).
    policy = stat(clickhouse, db, "R22a", audience=engine.Audience("policy", threshold=1))
    assert (policy.rows, policy.total, [s.value for s in policy.summary]) == ([], None, [None, None])
    assert policy.suppressed_cells > 0 and "enkel voor het KANS-team" in policy.note_nl
    report = engine.report(clickhouse, db, YEAR, engine.Question(audience=POLICY))
    withheld = {s.statistic: s for part in report.sections for s in part.statistics if s.statistic.endswith("a")}
    assert all(withheld[code].rows == [] and withheld[code].total is None for code in ("R05a", "R22a", "R37a", "R54a"))
    assert withheld["R55a"].rows  # the other supplements are policy statistics like the rest


def _api(settings: Settings, clickhouse: Any, database: str) -> TestClient:
    """The read API as `main.py` assembles it, on this store (no lifespan: nothing else is started)."""
    app = create_app(settings)
    app.state.api = Api(settings, clickhouse, Warehouse(clickhouse, database), None, httpx.AsyncClient())
    return TestClient(app)


def test_a_per_school_statistic_is_served_to_the_desk_only(
    settings: Settings, clickhouse: Any, schools_store: str
) -> None:
    """DOMAIN §9 "Per-school figures are not published": only the desk's token gets R22a; a CLB's, a policy reader's
    and a provider's get 403 (alone, and over years), the desk asking for the policy view too; no token 401; in the
    whole report and the rendered annual report any other audience gets the table withheld, with the reason."""
    api = _api(settings, clickhouse, schools_store)
    path = f"/v1/stats/{YEAR}/R22a"

    def as_(role: Role, scope: tuple[str, ...] = ()) -> dict[str, str]:
        return development_headers(settings, role, scope)

    desk = api.get(path, headers=as_(Role.desk))
    assert desk.status_code == 200 and desk.json()["total"] == 4
    assert {s["measure"]: s["value"] for s in desk.json()["summary"]}["max_referrals_per_school"] == 4
    for headers in (as_(Role.clb, ("clb-1",)), as_(Role.policy), as_(Role.provider, ("abrusco",))):
        refused = api.get(path, headers=headers)
        assert refused.status_code == 403, refused.text
        assert api.get("/v1/stats/compare/R22a", params={"from_year": "2018-2019", "to_year": YEAR},
                       headers=headers).status_code == 403  # fmt: skip
    refused = api.get(path, headers=as_(Role.clb, ("clb-1",)))
    assert refused.json()["detail"].startswith("R22a gives figures per school: for the desk only")
    assert api.get(path, headers=as_(Role.desk), params={"audience": "policy"}).status_code == 403
    years = api.get("/v1/stats/compare/R22a", params={"from_year": "2018-2019", "to_year": YEAR},
                    headers=as_(Role.desk))  # fmt: skip
    assert years.status_code == 200 and years.json()["totals"] == {"2018-2019": 0, YEAR: 4}
    assert api.get(path).status_code == 401
    catalogue = {s["code"]: s for s in api.get("/v1/statistics", headers=as_(Role.policy)).json()}
    assert catalogue["R22a"]["desk_only"] and not catalogue["R22"]["desk_only"]

    clb_year = api.get(f"/v1/stats/{YEAR}", headers=as_(Role.clb, ("clb-1",))).json()
    shown = {s["statistic"]: s for part in clb_year["sections"] for s in part["statistics"]}
    assert shown["R22a"]["rows"] == [] and shown["R22a"]["total"] is None
    assert shown["R22"]["total"] == 9  # the CLB's own groups, as before
    html = api.get(f"/v1/reports/annual/{YEAR}", headers=as_(Role.policy))
    assert html.status_code == 200 and "Spreiding van de groepsaanmeldingen over de scholen" in html.text
    assert "Cijfers per school zijn enkel voor het KANS-team" in html.text
    desk_html = api.get(f"/v1/reports/annual/{YEAR}", headers=as_(Role.desk)).text
    assert "Hoogste aantal aanmeldingen vanuit één school" in desk_html
    assert "Cijfers per school zijn enkel voor het KANS-team" not in desk_html


# -- R30a: referrals per CLB ------------------------------------------------------------------------------------------
def test_r30a_referrals_per_clb_and_channel(settings: Settings, clickhouse: Any) -> None:
    """"Daarnaast waren er 12 aanmeldingen van niet-Brusselse CLB's voor jongeren die in Brussel wonen of in Brussel
    naar school gaan. Het gaat om allemaal verschillende CLB's, behalve CLB Kompas in Mechelen. Zij deden vier
    aanmeldingen": 12 referrals from CLBs outside Brussels, 9 CLBs, 4 from CLB Kompas, 1 from each other. Here also
    three LARS referrals (two from clb-brussel-1), and a school's direct corona referral and an intake, which no CLB
    made: 15 CLB referrals from 11 CLBs, 2 another way."""
    h = History()
    secondary = {"education_form": "secondary_bso", "grade": "grade_3", "gender": "boy", "birth_year": 2005}
    referrers = ["clb-kompas"] * 4 + [f"clb-elders-{n}" for n in range(8)]
    for n, clb in enumerate(referrers):
        h.referral(f"RX{n}", "2019-11-04", f"P-RX{n}", "secondary", **secondary, channel="external_clb",
                   referrer_id=clb, system="external_clb_form")  # fmt: skip
    for n, clb in enumerate(("clb-brussel-1", "clb-brussel-1", "clb-brussel-2")):
        h.referral(f"RL{n}", "2019-11-05", f"P-RL{n}", "secondary", **secondary, referrer_id=clb)
    h.referral("RD", "2020-05-11", "P-RD", "secondary", **secondary, channel="school_direct", offer_type="corona",
               referrer_id="school-z")  # fmt: skip
    h.referral("RI", "2019-11-06", "P-RI", "secondary", **secondary, channel="intake", referrer_id="desk",
               system="desk")  # fmt: skip
    db = through_the_log(settings, clickhouse, h.events)

    r30a = stat(clickhouse, db, "R30a")
    expected = {("external_clb", "clb-kompas"): 4, **{("external_clb", f"clb-elders-{n}"): 1 for n in range(8)},
                ("lars", "clb-brussel-1"): 2, ("lars", "clb-brussel-2"): 1}  # fmt: skip
    assert (nonzero(r30a), r30a.total) == (expected, 15)
    assert summary(r30a) == {"clbs": 11, "referrals_not_by_clb": 2}
    outside = stat(clickhouse, db, "R30a", filters=Filters(channel=("external_clb",)))
    assert (outside.total, summary(outside)["clbs"], max(r.value or 0 for r in outside.rows)) == (12, 9, 4)
    assert stat(clickhouse, db, "R30").total == 17  # R30 (per channel) still counts every referral


# -- R44a: school-situation particulars and discipline by education form -------------------------------------------
def test_r44a_particulars_and_discipline_by_education_form_and_grade(settings: Settings, clickhouse: Any) -> None:
    """"80 leerlingen werden aangemeld met een verhoogd risico de school vroegtijdig te verlaten ... 32 leerlingen uit
    het deeltijds onderwijs werden met dit risico aangemeld"; "51 leerlingen werden aangemeld terwijl ze in een
    tuchtprocedure (In TP) zaten ... slechts vier aangemelde leerlingen [uit het deeltijds onderwijs] zaten in een
    tuchtprocedure bij aanmelding. Bij analyse blijkt het vooral over leerlingen te gaan in de eerste graad, zowel
    A-stroom (13) als B-stroom (17). Verder zijn er ook nog 6 leerlingen in het derde jaar BSO". Here: part-time
    (L&W) three with the early-leaving risk (one also repeated a year), one of them in a discipline procedure; A-stream
    first year two in a procedure (one with the risk), B-stream first year one; BSO third year two."""
    h = History()
    n = 0

    def refer(form: str, grade: str, situation: list[str], discipline: str) -> None:
        nonlocal n
        n += 1
        h.referral(f"RT{n}", "2019-10-07", f"P-RT{n}", "secondary", education_form=form, grade=grade, gender="boy",
                   birth_year=2005, school_situation=situation, discipline=discipline)  # fmt: skip

    refer("secondary_part_time", "not_applicable", ["early_leaving_risk", "repeated_year"], "procedure_started")
    refer("secondary_part_time", "not_applicable", ["early_leaving_risk"], "none")
    refer("secondary_part_time", "not_applicable", ["early_leaving_risk"], "none")
    refer("secondary_a_stream", "grade_1", ["early_leaving_risk"], "procedure_started")
    refer("secondary_a_stream", "grade_1", [], "procedure_started")
    refer("secondary_b_stream", "grade_1", [], "procedure_started")
    refer("secondary_bso", "grade_3", [], "procedure_started")
    refer("secondary_bso", "grade_3", [], "procedure_started")
    db = through_the_log(settings, clickhouse, h.events)

    r44a = stat(clickhouse, db, "R44a")
    found = nonzero(r44a)
    risk = {k[2:]: v for k, v in found.items() if k[:2] == ("school_situation", "early_leaving_risk")}
    assert risk == {("secondary_part_time", "not_applicable"): 3, ("secondary_a_stream", "grade_1"): 1}
    procedure = {k[2:]: v for k, v in found.items() if k[:2] == ("discipline", "procedure_started")}
    assert procedure == {("secondary_part_time", "not_applicable"): 1, ("secondary_a_stream", "grade_1"): 2,
                         ("secondary_b_stream", "grade_1"): 1, ("secondary_bso", "grade_3"): 2}  # fmt: skip
    assert found[("school_situation", "repeated_year", "secondary_part_time", "not_applicable")] == 1
    assert r44a.total == 8
    # R44 keeps its totals over every form: 4 with the risk, 6 in a procedure.
    r44 = nonzero(stat(clickhouse, db, "R44"))
    assert (r44[("school_situation", "early_leaving_risk")], r44[("discipline", "procedure_started")]) == (4, 6)


# -- R55a: groups by grade and requested module ----------------------------------------------------------------------
def test_r55a_groups_by_grade_and_requested_module(settings: Settings, clickhouse: Any) -> None:
    """"Bij achterliggende controle voor module, zien we dat het vooral om themawerking gaat ... Dit is vooral zeer
    duidelijk in het tweede jaar (37 van de 41 aangemelde groepen was voor themawerking). In het eerste jaar zien we
    daarnaast toch ook een aanzienlijk aandeel klasacties (14) ten opzichte van de themawerking (31)." Here the second
    year: 4 of 5 groups a theme workshop; the first year 2 class actions and 3 theme workshops; a restorative group in
    the third year."""
    h = History()
    h.groups("G2", "2019-09-16", *[_group(f"t{n}", "secondary", "theme_workshop", grade="grade_2") for n in range(4)],
             _group("c2", "secondary", "class_action", grade="grade_2"))  # fmt: skip
    h.groups("G1", "2019-10-14", *[_group(f"t1{n}", "secondary", "theme_workshop", grade="grade_1") for n in range(3)],
             *[_group(f"c1{n}", "secondary", "class_action", grade="grade_1") for n in range(2)])  # fmt: skip
    h.groups("G3", "2019-11-18", _group("r3", "secondary", "restorative", grade="grade_3"))
    db = through_the_log(settings, clickhouse, h.events)

    r55a = stat(clickhouse, db, "R55a")
    assert nonzero(r55a) == {("grade_1", "class_action"): 2, ("grade_1", "theme_workshop"): 3,
                             ("grade_2", "class_action"): 1, ("grade_2", "theme_workshop"): 4,
                             ("grade_3", "restorative"): 1}  # fmt: skip
    assert r55a.total == 11 and r55a.rows[0].model_extra["requested_module_label_nl"] == "Klasactie"


# -- R26a: class-action themes -----------------------------------------------------------------------------------------
def test_r26a_class_action_themes(settings: Settings, clickhouse: Any) -> None:
    """"Kijken we naar de inhoud van de klasacties, dan zien we twee thema's hoofdzakelijk terugkomen: Leren werken aan
    weerbaarheid, zelfbeheersing en grenzen stellen (14); Klassikaal ondersteunen van de onderlinge relatie tussen
    leerlingen (vb. pestgedrag, grensoverschrijdend gedrag, kliekjesvorming e.d.) (13)" — 27 for the 22 class-action
    referrals: the themes of the groups. Here GK1 asks two class actions on resilience, GK2 one on relations in the
    class, GK3 one of each, GK4 a theme workshop (no class action), GK5 a class action without a theme: resilience 3
    groups of 2 referrals, relations 2 of 2, not registered 1 of 1; 6 class-action groups."""
    h = History()
    resilience, relations = {"class_action_theme": "resilience_self_control"}, {"class_action_theme": "class_relations"}
    h.groups("GK1", "2019-10-01", _group("k1a", "primary", "class_action", **resilience),
             _group("k1b", "primary", "class_action", **resilience))  # fmt: skip
    h.groups("GK2", "2019-10-02", _group("k2a", "primary", "class_action", **relations))
    h.groups("GK3", "2019-10-03", _group("k3a", "primary", "class_action", **resilience),
             _group("k3b", "primary", "class_action", **relations))  # fmt: skip
    h.groups("GK4", "2019-10-04", _group("k4a", "primary", "theme_workshop"))
    h.groups("GK5", "2019-10-05", _group("k5a", "primary", "class_action"))
    db = through_the_log(settings, clickhouse, h.events)

    r26a = stat(clickhouse, db, "R26a")
    assert nonzero(r26a) == {("resilience_self_control", "groups"): 3,
                             ("resilience_self_control", "group_referrals"): 2,
                             ("class_relations", "groups"): 2, ("class_relations", "group_referrals"): 2,
                             ("not_registered", "groups"): 1, ("not_registered", "group_referrals"): 1}  # fmt: skip
    assert r26a.total == 6
    labels = {r.model_extra["class_action_theme"]: r.model_extra["class_action_theme_label_nl"] for r in r26a.rows}
    assert labels["resilience_self_control"] == "Weerbaarheid, zelfbeheersing en grenzen stellen"
    assert nonzero(stat(clickhouse, db, "R26a", as_of=date(2019, 10, 1))) == {  # GK1 only
        ("resilience_self_control", "groups"): 2, ("resilience_self_control", "group_referrals"): 1}  # fmt: skip


# -- R46a: round tables that ended in advice only --------------------------------------------------------------------
def test_r46a_round_tables_with_advice_alongside_trajectories_or_as_their_only_result(
    settings: Settings, clickhouse: Any
) -> None:
    """"Daarnaast weten we dat 10 rondetafels resulteerden in een advies naar hulpverlening toe en drie heroriëntaties
    naar alternatieve leerwegen. In de meeste gevallen was dit in combinatie met op te starten of gelopen trajecten.
    Voor vier trajecten was dat het zuivere resultaat van de rondetafel zonder opstart van een KANS-traject." Here RA
    advises youth care and decides a trajectory; RB advises youth care and its referral's trajectory ran; RC advises
    youth care only, RD reorients only, RE does both, RF advises youth care and its trajectory never started; RG only
    decides a trajectory, RH was cancelled. Youth care 5 (2 with a trajectory, 3 advice only), reorientation 2 (both
    advice only): 6 round tables with advice, 4 of them with advice as their only result."""
    h = History()
    for rid in ("RA", "RB", "RC", "RD", "RE", "RF", "RG", "RH"):
        h.referral(rid, "2019-10-01", f"P-{rid}", "secondary", education_form="secondary_bso", grade="grade_3",
                   gender="boy", birth_year=2005)  # fmt: skip
    held = {"RA": ["trajectories_to_start", "advice_youth_care"], "RB": ["advice_youth_care"],
            "RC": ["advice_youth_care"], "RD": ["reorientation_alternative_learning_path"],
            "RE": ["advice_youth_care", "reorientation_alternative_learning_path"], "RF": ["advice_youth_care"],
            "RG": ["trajectories_to_start"]}  # fmt: skip
    for rid, outcomes in held.items():
        extra = {"trajectories_to_start": 1} if "trajectories_to_start" in outcomes else {}
        h.round_table(rid, f"RT-{rid}", "RoundTableHeld", "2019-10-15", outcomes=outcomes, **extra)
    h.round_table("RH", "RT-RH", "RoundTableCancelled", "2019-10-15", reason="practical")
    for rid in ("RB", "RF"):
        h.trajectory(rid, f"T-{rid}", "2019-10-21", "abrusco", "individual")
    h.then("TrajectoryStarted", "RB", "T-RB", "2019-11-04")
    db = through_the_log(settings, clickhouse, h.events)

    r46a = stat(clickhouse, db, "R46a")
    assert nonzero(r46a) == {("advice_youth_care", "with_trajectory"): 2, ("advice_youth_care", "advice_only"): 3,
                             ("reorientation_alternative_learning_path", "advice_only"): 2}  # fmt: skip
    assert r46a.total == 6 and len(r46a.rows) == 4  # the empty combination shown as 0
    only = {r.model_extra["round_table_outcome"] for r in r46a.rows
            if r.model_extra["combination"] == "advice_only" and r.value}  # fmt: skip
    assert only == {"advice_youth_care", "reorientation_alternative_learning_path"}
    # Before RB's trajectory started, its advice was the round table's only result.
    before = nonzero(stat(clickhouse, db, "R46a", as_of=date(2019, 10, 31)))
    assert before[("advice_youth_care", "advice_only")] == 4


# -- R59a: class hours of the effectively run group trajectories -----------------------------------------------------
def test_r59a_class_hours_of_effectively_run_group_trajectories_mean_min_max(
    settings: Settings, clickhouse: Any
) -> None:
    """"Bij een herstel is het aantal uren afhankelijk van de situatie, dit kan eerder kort zijn, maar kan ook
    behoorlijk oplopen. Een herstel kan een zeer intensief traject zijn. De trajecten die niet voortijdig werden
    stopgezet varieerden van 6 tot 30 uur." Restorative groups here: three ran to the end with 6, 30 and 12 class
    hours, one still runs (no hours yet), one was stopped early after 2 hours (not effectively run: left out, else the
    least would be 2); a class action ran 8 hours. Restorative: 4 effectively run, 3 with hours, mean 16, from 6 to
    30."""
    h = History()
    restorative = [_group(f"h{n}", "secondary", "restorative", grade="grade_3") for n in range(5)]
    h.groups("GH", "2019-10-07", *restorative, _group("c", "secondary", "class_action", grade="grade_3"))
    for gid, module in [*((f"h{n}", "restorative") for n in range(5)), ("c", "class_action")]:
        h.group_event("GroupTrajectoryDispatched", "GH", gid, "2019-10-14", provider_id="abrusco", module=module)
        h.group_event("GroupTrajectoryStarted", "GH", gid, "2019-11-04")
    for gid, hours in (("h0", 6), ("h1", 30), ("h2", 12), ("c", 8)):
        h.group_event("GroupTrajectoryCompleted", "GH", gid, "2020-02-03", class_hours=hours, pupils_reached=3)
    h.group_event("GroupTrajectoryStoppedEarly", "GH", "h4", "2019-12-02", reason="conditions_not_met", class_hours=2)
    db = through_the_log(settings, clickhouse, h.events)

    r59a = stat(clickhouse, db, "R59a")
    found = nonzero(r59a)
    assert {k[1]: v for k, v in found.items() if k[0] == "restorative"} == {
        "effectively_run": 4, "with_class_hours": 3, "mean_class_hours": 16, "min_class_hours": 6,
        "max_class_hours": 30}  # fmt: skip
    assert {k[1]: v for k, v in found.items() if k[0] == "class_action"} == {
        "effectively_run": 1, "with_class_hours": 1, "mean_class_hours": 8, "min_class_hours": 8,
        "max_class_hours": 8}  # fmt: skip
    assert r59a.total == 5
    # R59 (started groups, stopped early included) is unchanged: its restorative mean counts the 2 hours.
    r59 = nonzero(stat(clickhouse, db, "R59"))
    assert r59[("restorative", "mean_class_hours")] == 12.5
    # For policy readers a least or most over fewer groups than the threshold is suppressed.
    policy = stat(clickhouse, db, "R59a", audience=POLICY)
    hidden = {r.model_extra["measure"] for r in policy.rows if r.model_extra["group_module"] == "restorative"
              and r.suppressed}  # fmt: skip
    assert {"mean_class_hours", "min_class_hours", "max_class_hours"} <= hidden
