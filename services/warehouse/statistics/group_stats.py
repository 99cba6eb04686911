"""Group referrals and group trajectories (R22-R28 primary, R54-R59 secondary).

"Aanmeldingen" are group referrals (one request can list several groups), "aangemelde groepen" the groups; each
group has at most one (the latest) group trajectory. A group belongs to the school year its request is for.
"Effectively run" = started minus stopped early. Pupils reached = the pupils of the groups that started, stopped-early
ones included (the report: "19 trajecten wel effectief opgestart en dit voor 554 leerlingen", Table 4's 554): per
group the pupils registered at completion, else the group's size; the pupils of the effectively run groups are a
measure of their own.
"""

from __future__ import annotations

from typing import Any

from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import GROUP_REFERRALS, GROUPS

P, S = Section.primary_groups, Section.secondary_groups
GROUPS_NL = "aangemelde groepen {level}"
EFFECTIVE = "started AND NOT stopped_early"
REACHED = "sumIf(ifNull(pupils_reached, pupil_count), started)"
REACHED_EFFECTIVELY_RUN = f"sumIf(ifNull(pupils_reached, pupil_count), {EFFECTIVE})"
MODULE = "if(module = '', requested_module, module)"
CLASS_HOURS = ("multiIf(class_hours < 5, 'under_5', class_hours < 10, '5_to_9', class_hours < 20, '10_to_19', "
               "'20_plus')")  # fmt: skip
PER_MONTH = {"group_referrals": GROUP_REFERRALS, "groups": GROUPS}
PUPILS = {"pupils_referred": "sum(pupil_count)", "pupils_in_started_groups": "sumIf(pupil_count, started)",
          "pupils_reached": REACHED, "pupils_effectively_run": REACHED_EFFECTIVELY_RUN}  # fmt: skip
PUPIL_LABELS = {"pupils_referred": "Aangemelde leerlingen", "pupils_in_started_groups": "Leerlingen in opgestarte "
                "groepen", "pupils_reached": "Bereikte leerlingen (opgestarte groepen, ook vroegtijdig stopgezette)",
                "pupils_effectively_run": "Bereikte leerlingen in effectief gelopen groepen (opgestart min "
                "vroegtijdig stopgezet)"}  # fmt: skip
OUTCOME_ROWS = (
    "[(if(group_trajectory_id = '', 'not_dispatched', ''), ''), (if(started, 'started', ''), ''), "
    "(if(not_started, 'not_started', ''), not_started_reason), (if(stopped_early, 'stopped_early', ''), "
    f"early_stop_reason), (if({EFFECTIVE}, 'effectively_run', ''), ''), "
    "(if(group_trajectory_id != '' AND NOT started AND NOT not_started, 'waiting', ''), '')]"
)


def per_month(q: StatisticQuery) -> Cells:
    return q.measures(q.groups(), {"month": "month"}, PER_MONTH, total="groups")


def modules_requested(q: StatisticQuery) -> Cells:
    """R26 (Table 3): per requested module the group referrals that asked for it and their groups; the total is the
    group referrals (a referral asking for two modules counts once in it, once under each module)."""
    return q.measures(q.groups(), {"requested_module": "requested_module"}, PER_MONTH, total="group_referrals")


def pupils(q: StatisticQuery) -> Cells:
    """R24/R56: pupils referred, in started groups, reached (started groups) and in effectively run groups; this year
    and the one before."""
    return q.measures(q.groups(), {}, PUPILS)


def reached_per_module(q: StatisticQuery) -> Cells:
    """R27: pupils reached per module (started groups, stopped-early ones included); those of the effectively run
    groups as a summary figure."""
    cells = q.count(q.groups(), {"group_module": MODULE}, REACHED)
    return q.summary(cells, q.groups(), {"pupils_effectively_run": REACHED_EFFECTIVELY_RUN})


def outcomes(q: StatisticQuery) -> Cells:
    """R25/R57: groups not dispatched, started, not started and stopped early (with reasons), effectively run."""
    rows = f"arrayFilter(x -> x.1 != '', {OUTCOME_ROWS}) AS outcome"
    return q.count(q.groups(), {"status": "outcome.1", "reason": "nullIf(outcome.2, '')"}, GROUPS, array_join=rows)


def provider_module(q: StatisticQuery) -> Cells:
    """R58: groups per provider and module, referred vs started (a group not yet dispatched: its requested module)."""
    return q.measures(q.groups(), {"provider": "provider_id", "group_module": MODULE},
                      {"referred_groups": GROUPS, "started_groups": "countIf(started)"},
                      total="referred_groups")  # fmt: skip


def class_hours_per_module(q: StatisticQuery) -> Cells:
    """R59: started groups per module: with class hours registered, mean hours, 6 hours or more, not registered."""
    measures = {
        "with_class_hours": "countIf(class_hours IS NOT NULL)",
        "mean_class_hours": "avg(class_hours)",
        "at_least_6_hours": "countIf(class_hours >= 6)",
        "not_registered": "countIf(class_hours IS NULL)",
    }
    return q.measures(q.groups("started"), {"group_module": "module"}, measures, total="with_class_hours",
                      bases={"mean_class_hours": "countIf(class_hours IS NOT NULL)"})  # fmt: skip


def class_action_hours(q: StatisticQuery) -> Cells:
    """R28: class actions and school-composed groups that started, by class hours; mean, min and max."""
    where = "started AND module IN ('class_action', 'school_composed_group')"
    source = q.groups(where)
    cells = q.count(source, {"class_hours_bucket": f"if(class_hours IS NULL, 'not_registered', {CLASS_HOURS})"},
                    GROUPS)  # fmt: skip
    return q.summary(
        cells,
        source,
        {
            "mean_class_hours": "round(avg(class_hours), 1)",
            "min_class_hours": "min(class_hours)",
            "max_class_hours": "max(class_hours)",
        },
    )


def _def(code: str, section: Section, title: str, dims: tuple[str, ...], compute: Any, ref: str = "",
         **extra: Any) -> StatisticDef:  # fmt: skip
    level_nl = "basisonderwijs" if section == P else "secundair onderwijs"
    extra.setdefault("population_nl", GROUPS_NL)
    return StatisticDef(code=code, title_nl=f"{title} ({level_nl})", section=section,
                        unit=extra.pop("unit", "groups"), dimensions=dims, compute=compute, report_ref=ref,
                        **extra)  # fmt: skip


MONTH_LABELS = {"measure": {"group_referrals": "Aanmeldingen", "groups": "Aangemelde groepen"}}
GROUP_DIMS = {"education_form": "education_form", "grade": "grade", "group_kind": "group_kind"}
OUTCOME_NOTE = "Effectief gelopen = opgestart min vroegtijdig stopgezet."
MODULES_NOTE = ("Tabel 3 van het rapport telt de aanmeldingen per module (\"de modules waarvoor aangemeld werd\", "
                "Eindtotaal = de aanmeldingen); de aangemelde groepen staan ernaast.")
HOURS_LABELS = {"measure": {"with_class_hours": "Groepen met geregistreerde lesuren",
                            "mean_class_hours": "Gemiddeld aantal lesuren", "at_least_6_hours": "Groepen met 6 lesuren "
                            "of meer", "not_registered": "Groepen zonder geregistreerde lesuren"}}  # fmt: skip


def _pupils_def(code: str, section: Section) -> StatisticDef:
    return _def(
        code,
        section,
        "Aangemelde en bereikte leerlingen, vergeleken met het vorige schooljaar",
        ("school_year", "measure"),
        pupils,
        unit="pupils",
        previous_year=True,
        fill=True,
        labels={"measure": PUPIL_LABELS},
        population_nl="leerlingen in aangemelde groepen {level}",
    )


GROUP_STATISTICS = [
    _def("R22", P, "Groepsaanmeldingen en aangemelde groepen per maand", ("month", "measure"), per_month, "G14",
         fill=True, labels=MONTH_LABELS),
    _def("R23", P, "Aangemelde groepen naar leerjaar en type buitengewoon basisonderwijs",
         ("education_form", "grade", "bubao_type", "group_kind"),
         lambda q: q.count(q.groups(), {**GROUP_DIMS, "bubao_type": "bubao_type"}, GROUPS), "G15, T16"),
    _pupils_def("R24", P),
    _def("R25", P, "Opgestarte, niet-opgestarte en vroegtijdig stopgezette groepstrajecten, met reden",
         ("status", "reason"), outcomes, report_note_nl=OUTCOME_NOTE),
    _def("R26", P, "Aangevraagde modules: aanmeldingen en groepen", ("requested_module", "measure"),
         modules_requested, "T3", fill=True, labels=MONTH_LABELS, unit="group_referrals",
         population_nl="groepsaanmeldingen {level} en hun aangemelde groepen", report_note_nl=MODULES_NOTE),
    _def("R27", P, "Bereikte leerlingen per module", ("group_module",), reached_per_module, "T4", unit="pupils",
         population_nl="bereikte leerlingen in opgestarte groepen (ook vroegtijdig stopgezette) {level}",
         summary_labels={"pupils_effectively_run": PUPIL_LABELS["pupils_effectively_run"]}),
    _def("R28", P, "Lesuren per klasactie of zelf samengestelde groep", ("class_hours_bucket",), class_action_hours,
         "G17", unit="groups", population_nl="opgestarte klasacties en zelf samengestelde groepen {level}",
         summary_labels={"mean_class_hours": "Gemiddeld aantal lesuren", "min_class_hours": "Minimum lesuren",
                         "max_class_hours": "Maximum lesuren"}),
    _def("R54", S, "Groepsaanmeldingen en aangemelde groepen per maand", ("month", "measure"), per_month, "G39",
         fill=True, labels=MONTH_LABELS),
    _def("R55", S, "Aangemelde groepen naar leerjaar en onderwijsvorm, BuSO-type en opleidingsvorm, zsg",
         ("education_form", "grade", "buso_type", "buso_training_form", "group_kind"),
         lambda q: q.count(q.groups(), {**GROUP_DIMS, "buso_type": "buso_type",
                                        "buso_training_form": "buso_training_form"}, GROUPS), "G40"),
    _pupils_def("R56", S),
    _def("R57", S, "Opgestarte, niet-opgestarte en vroegtijdig stopgezette groepstrajecten, met reden",
         ("status", "reason"), outcomes, report_note_nl=OUTCOME_NOTE),
    _def("R58", S, "Aangemelde en opgestarte groepen per aanbieder en module", ("provider", "group_module", "measure"),
         provider_module, "T9, G41",
         labels={"measure": {"referred_groups": "Aangemelde groepen", "started_groups": "Opgestarte groepen"},
                 "provider": {"": "Nog niet doorgegeven"}}),
    _def("R59", S, "Lesuren per module", ("group_module", "measure"), class_hours_per_module, unit="class_hours",
         labels=HOURS_LABELS, population_nl="opgestarte groepstrajecten {level}"),
]  # fmt: skip
