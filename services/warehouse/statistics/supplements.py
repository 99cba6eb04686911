"""Figures the report gives in its text beside a table or chart, each a statistic of its own (issue 14): the code
of the DOMAIN §8 statistic it belongs to with a letter (R22a), so it sorts right after it in the report.

Per-school distributions (the report: "Om privacy redenen wordt de verdeling van de aanmeldingen over de scholen niet
opgenomen in dit jaarrapport. Uiteraard analyseerden we deze gegevens wel intern") are `desk_only`: any other
audience gets them withheld (`shaping.withheld`), and the single-statistic routes refuse them (403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.warehouse.statistics.as_of import known
from services.warehouse.statistics.model import Cell, Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import GROUP_REFERRALS, GROUPS, REFERRALS, ROUND_TABLES, multi

PI, PG = Section.primary_individual, Section.primary_groups
SI, SG = Section.secondary_individual, Section.secondary_groups
LEVEL_NL = {PI: "basisonderwijs", PG: "basisonderwijs", SI: "secundair onderwijs", SG: "secundair onderwijs"}
HAS_SCHOOL = "ifNull(school_id, '') != ''"
CLB_CHANNELS = "channel IN ('lars', 'external_clb')"
EFFECTIVE = "started AND NOT stopped_early"
CLASS_ACTION = "requested_module = 'class_action'"
ADVICE = "arrayFilter(o -> o IN ('advice_youth_care', 'reorientation_alternative_learning_path'), outcomes) AS advice"


def per_school(source: Callable[[StatisticQuery], str], units: str, without: str) -> Callable[[StatisticQuery], Cells]:
    """Schools by their number of referrals (`units` per school of `source`; the total is the schools), with the most
    referrals from one school and the referrals without a school registered (`without`) as summary figures."""

    def compute(q: StatisticQuery) -> Cells:
        population = source(q)
        schools = (f"(SELECT school_year, school_id, {units} AS n FROM {population} WHERE {HAS_SCHOOL} "
                   "GROUP BY school_year, school_id)")  # fmt: skip
        cells = q.count(schools, {"referrals_per_school": "toString(n)"}, "count()")
        q.summary(cells, schools, {"max_referrals_per_school": "max(n)"})
        return q.summary(cells, population, {"without_school": without})

    return compute


def per_clb(q: StatisticQuery) -> Cells:
    """R30a: referrals by a CLB (LARS or a CLB outside Brussels) per channel and CLB; how many CLBs referred, and the
    referrals that came another way (a school directly, intake, carried over ...)."""
    cells = q.count(q.referrals(CLB_CHANNELS), {"channel": "channel", "referrer": "referrer_id"}, REFERRALS)
    q.summary(cells, q.referrals(CLB_CHANNELS), {"clbs": "uniqExact(referrer_id)"})
    return q.summary(cells, q.referrals(), {"referrals_not_by_clb": f"countIf(NOT ({CLB_CHANNELS}))"})


def particulars_by_form(q: StatisticQuery) -> Cells:
    """R44a: R44's aspects (school-situation particulars, a multi-select; discipline) per education form and grade."""
    source = q.referrals()
    form = {"education_form": "education_form", "grade": "grade"}
    parts = [
        ("school_situation", q.count(source, {"category": "code", **form}, REFERRALS,
                                     array_join=f"{multi('school_situation')} AS code")),
        ("discipline", q.count(source, {"category": "discipline", **form}, REFERRALS)),
    ]  # fmt: skip
    out = Cells(dimensions=("aspect", "category", "education_form", "grade"))
    for aspect, part in parts:
        out.cells += [Cell(c.school_year, (aspect, *c.key), c.value, c.base) for c in part.cells]
    out.totals = parts[-1][1].totals
    return out


def class_action_themes(q: StatisticQuery) -> Cells:
    """R26a: requested class actions per theme: the group referrals that asked for one and their groups. The theme is
    read from the group request log as known (the current-state facts do not carry it): the latest request's."""
    themes = (f"SELECT group_referral_id AS of_referral, group_id AS of_group, "
              f"argMax(tuple(class_action_theme), seq).1 AS theme FROM {q.database}.group_request_log WHERE "
              f"{known(q.database, 'group_request_log', 'school_year IN {years:Array(String)}')} "
              "GROUP BY group_referral_id, group_id")  # fmt: skip
    source = (f"(SELECT g.*, t.theme AS class_action_theme FROM {q.groups(CLASS_ACTION)} AS g LEFT JOIN ({themes}) "
              "AS t ON t.of_referral = g.group_referral_id AND t.of_group = g.group_id)")  # fmt: skip
    return q.measures(source, {"class_action_theme": "if(class_action_theme IS NULL OR class_action_theme = '', "
                               "'not_registered', class_action_theme)"},
                      {"group_referrals": GROUP_REFERRALS, "groups": GROUPS}, total="groups")  # fmt: skip


def advice_at_round_tables(q: StatisticQuery) -> Cells:
    """R46a: held round tables that advised youth care or a reorientation, with trajectories (to start, or one of
    the referral's trajectories started) or as their only result."""
    started = ("referral_id IN (SELECT referral_id FROM " + q.base.trajectories
               + " WHERE " + " AND ".join(["school_year IN {years:Array(String)}", *q.level_where, "started"]) + ")")
    combination = f"if(has(outcomes, 'trajectories_to_start') OR {started}, 'with_trajectory', 'advice_only')"
    return q.count(q.round_tables("held"), {"round_table_outcome": "advice", "combination": combination},
                   ROUND_TABLES, array_join=ADVICE)  # fmt: skip


def grade_by_module(q: StatisticQuery) -> Cells:
    """R55a: requested groups per grade and requested module."""
    return q.count(q.groups(), {"grade": "grade", "requested_module": "requested_module"}, GROUPS)


def effective_class_hours(q: StatisticQuery) -> Cells:
    """R59a: effectively run groups (started, not stopped early) per module: with class hours registered, mean,
    least and most hours."""
    with_hours = "countIf(class_hours IS NOT NULL)"
    measures = {"effectively_run": "count()", "with_class_hours": with_hours, "mean_class_hours": "avg(class_hours)",
                "min_class_hours": "min(class_hours)", "max_class_hours": "max(class_hours)"}  # fmt: skip
    bases = {code: with_hours for code in ("mean_class_hours", "min_class_hours", "max_class_hours")}
    return q.measures(q.groups(EFFECTIVE), {"group_module": "module"}, measures, total="effectively_run",
                      bases=bases)  # fmt: skip


def _def(code: str, section: Section, title: str, dims: tuple[str, ...], compute: Callable[[StatisticQuery], Cells],
         unit: str, population: str, note: str, **extra: Any) -> StatisticDef:  # fmt: skip
    return StatisticDef(code=code, title_nl=f"{title} ({LEVEL_NL[section]})", section=section, unit=unit,
                        dimensions=dims, compute=compute, population_nl=population, report_note_nl=note,
                        **extra)  # fmt: skip


SCHOOL_LABELS = {"max_referrals_per_school": "Hoogste aantal aanmeldingen vanuit één school",
                 "without_school": "Aanmeldingen zonder geregistreerde school"}
SCHOOLS_NOTE = ("Enkel voor het KANS-team: het rapport neemt de verdeling over de scholen niet op ({ref}). Per school "
                "zelf: een ad-hocvraag met de dimensie school_id.")


def _schools(code: str, section: Section, groups: bool, what: str, ref: str) -> StatisticDef:
    """A per-school distribution (desk only) of the section's referrals: individual ones, or group referrals."""
    without = f"uniqExactIf(group_referral_id, NOT ({HAS_SCHOOL}))" if groups else f"countIf(NOT ({HAS_SCHOOL}))"
    compute = per_school((lambda q: q.groups()) if groups else (lambda q: q.referrals()),
                         GROUP_REFERRALS if groups else REFERRALS, without)  # fmt: skip
    return _def(code, section, f"Spreiding van de {what} over de scholen", ("referrals_per_school",), compute,
                "schools", f"scholen met {what} {{level}}", SCHOOLS_NOTE.format(ref=ref), desk_only=True,
                summary_labels=SCHOOL_LABELS)  # fmt: skip


HOURS = {"effectively_run": "Effectief gelopen groepen", "with_class_hours": "… met geregistreerde lesuren",
         "mean_class_hours": "Gemiddeld aantal lesuren", "min_class_hours": "Minimum lesuren",
         "max_class_hours": "Maximum lesuren"}  # fmt: skip
COMBINATION = {"with_trajectory": "Samen met op te starten of gelopen traject(en)",
               "advice_only": "Enkel advies: geen KANS-traject opgestart"}  # fmt: skip

SUPPLEMENTS = [
    _schools("R05a", PI, False, "aanmeldingen", "1.1.2.3 Scholen"),
    _schools("R22a", PG, True, "groepsaanmeldingen", "1.2.1.2 Scholen: \"We "
             "stelden bij slechts één school een hoger aantal aanmeldingen vast (4)\""),
    _def("R26a", PG, "Thema's van de aangevraagde klasacties: aanmeldingen en groepen",
         ("class_action_theme", "measure"), class_action_themes, "groups",
         "aangevraagde klasacties {level} (groepen en hun aanmeldingen)",
         "Het rapport (1.2.2.2): \"Kijken we naar de inhoud van de klasacties, dan zien we twee thema's hoofdzakelijk "
         "terugkomen\"; het thema zoals de aanmelding het opgeeft.",
         labels={"measure": {"group_referrals": "Aanmeldingen", "groups": "Aangemelde groepen"}}),
    _def("R30a", SI, "Aanmeldingen per CLB en kanaal", ("channel", "referrer"), per_clb, "referrals",
         "individuele aanmeldingen {level} door een CLB (LARS of CLB buiten Brussel)",
         "Het rapport (2.1.1.4): \"Het gaat om allemaal verschillende CLB's, behalve CLB Kompas in Mechelen. Zij deden "
         "vier aanmeldingen\".",
         summary_labels={"clbs": "CLB's met minstens één aanmelding",
                         "referrals_not_by_clb": "Aanmeldingen langs een andere weg (school, intake, overgezet ...)"}),
    _schools("R37a", SI, False, "aanmeldingen", "2.1.2.4 Scholen"),
    _def("R44a", SI, "Bijzonderheden schoolse situatie en tucht naar onderwijsvorm en leerjaar",
         ("aspect", "category", "education_form", "grade"), particulars_by_form, "referrals",
         "individuele aanmeldingen {level}",
         "Het rapport (2.1.2.11): \"32 leerlingen uit het deeltijds onderwijs werden met dit risico aangemeld\"; "
         "tucht: \"eerste graad, zowel A-stroom (13) als B-stroom (17) ... 6 leerlingen in het derde jaar BSO\".",
         labels={"aspect": {"school_situation": "Bijzonderheden schoolse situatie", "discipline": "Tucht"}}),
    _def("R46a", SI, "Rondetafels met advies naar hulpverlening of heroriëntering: samen met trajecten of enkel "
         "advies", ("round_table_outcome", "combination"), advice_at_round_tables, "round_tables",
         "gehouden rondetafels voor individuele aanmeldingen {level} met een advies",
         "Het rapport (2.1.4.1.1): \"10 rondetafels resulteerden in een advies naar hulpverlening toe en drie "
         "heroriëntaties naar alternatieve leerwegen. In de meeste gevallen was dit in combinatie met op te starten of "
         "gelopen trajecten. Voor vier trajecten was dat het zuivere resultaat van de rondetafel\".",
         fill=True, labels={"round_table_outcome": {"advice_youth_care": "Advies naar hulpverlening",
                                                    "reorientation_alternative_learning_path": "Heroriëntering naar "
                                                    "alternatieve leerweg"}, "combination": COMBINATION}),
    _schools("R54a", SG, True, "groepsaanmeldingen", "2.2.1.2 Scholen"),
    _def("R55a", SG, "Aangemelde groepen naar leerjaar en aangevraagde module", ("grade", "requested_module"),
         grade_by_module, "groups", "aangemelde groepen {level}",
         "Het rapport (2.2.1.3): \"in het tweede jaar (37 van de 41 aangemelde groepen was voor themawerking). In het "
         "eerste jaar zien we daarnaast toch ook een aanzienlijk aandeel klasacties (14) ten opzichte van de "
         "themawerking (31)\"."),
    _def("R59a", SG, "Lesuren van de effectief gelopen groepstrajecten per module: gemiddelde, minimum en maximum",
         ("group_module", "measure"), effective_class_hours, "class_hours",
         "effectief gelopen groepstrajecten {level} (opgestart, niet vroegtijdig stopgezet)",
         "Het rapport (2.2.2.3): \"Bij een herstel ... De trajecten die niet voortijdig werden stopgezet varieerden "
         "van 6 tot 30 uur.\"", labels={"measure": HOURS}),
]  # fmt: skip
