"""What happened to individual trajectories: offered per provider, started or not, duration, half-days, early
stops, perspective (R16-R21 primary, R47-R53 secondary; R50, the youth coaches, is `coaching_stats.py`).

Trajectories are counted (offered = dispatched or carried over), pupils separately (a pupil with two trajectories
is one pupil); "started" includes trajectories that were later stopped early or closed.
"""

from __future__ import annotations

from typing import Any

from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import PUPILS, TRAJECTORIES, by_trajectories
from services.warehouse.statistics.triage_stats import OUTCOME_LABELS, referral_outcomes

P, S = Section.primary_individual, Section.secondary_individual
TRAJECTORIES_NL = "aangeboden individuele trajecten {level}"
START_STATUS = "multiIf(started, 'started', not_started, 'not_started', 'waiting')"
NOT_STARTED_REASON = "if(not_started, not_started_reason, NULL)"
DURATION = "ifNull(duration_bucket, 'not_registered')"
HALF_DAYS = "ifNull(toString(half_days_per_week), 'not_registered')"
END = "toDateTime64('2200-01-01 00:00:00', 3, 'UTC')"
PUPIL_FIGURES = {
    "pupils_referred": "Aangemelde leerlingen",
    "pupils_with_trajectory": "Leerlingen met minstens één aangeboden traject",
    "pupils_combined": "Leerlingen met gelijktijdige trajecten bij twee aanbieders",
}


def per_provider(q: StatisticQuery) -> Cells:
    """R16: trajectories per provider and offer; pupils referred, with >= 1 trajectory, with combined ones."""
    cells = q.count(q.trajectories(), {"provider": "provider_id", "offer_type": "offer_type"}, TRAJECTORIES)
    q.summary(cells, q.referrals(), {"pupils_referred": PUPILS})
    periods = f"(provider_id, started_at, if(ended_at < started_at, {END}, ended_at))"
    overlap = "arrayExists(x -> arrayExists(y -> x.1 != y.1 AND x.2 < y.3 AND y.2 < x.3, periods), periods)"
    sql = f"""
        SELECT school_year, count(), countIf({overlap}) FROM (
            SELECT school_year, pupil_key, groupArrayIf({periods}, started) AS periods
            FROM {q.trajectories()} GROUP BY school_year, pupil_key)
        GROUP BY school_year"""
    return q.add_summary(cells, sql, ["pupils_with_trajectory", "pupils_combined"])


def per_provider_module(q: StatisticQuery) -> Cells:
    """R47: trajectories per provider, module and offer, and what happened to referrals without a trajectory."""
    cells = q.count(q.trajectories(), {"provider": "provider_id", "module": "module_id", "offer_type": "offer_type"},
                    TRAJECTORIES)  # fmt: skip
    return referral_outcomes(q, cells)


def per_pupil(q: StatisticQuery) -> Cells:
    """R48: pupils by their number of started trajectories in the year (1, 2, 3, 4 ...)."""
    source = f"(SELECT school_year, pupil_key, count() AS n FROM {q.trajectories('started')} GROUP BY school_year, " \
             "pupil_key)"  # fmt: skip
    return q.count(source, {"trajectories_per_pupil": "toString(n)"}, "count()")


def registration(q: StatisticQuery) -> Cells:
    """R51: started trajectories by duration and by half-days per week, with the unregistered counted."""
    pairs = f"[('duration', {DURATION}), ('half_days', {HALF_DAYS})] AS pair"
    cells = q.count(q.trajectories("started"), {"aspect": "pair.1", "category": "pair.2"}, TRAJECTORIES,
                    array_join=pairs)  # fmt: skip
    missing = {"missing_duration": "countIf(duration_bucket IS NULL)",
               "missing_half_days": "countIf(half_days_per_week IS NULL)"}  # fmt: skip
    return q.summary(cells, q.trajectories("started"), missing)


def _def(code: str, section: Section, title: str, dims: tuple[str, ...], compute: Any, ref: str = "",
         **extra: Any) -> StatisticDef:  # fmt: skip
    level_nl = "basisonderwijs" if section == P else "secundair onderwijs"
    extra.setdefault("population_nl", TRAJECTORIES_NL)
    return StatisticDef(code=code, title_nl=f"{title} ({level_nl})", section=section,
                        unit=extra.pop("unit", "trajectories"), dimensions=dims, compute=compute, report_ref=ref,
                        **extra)  # fmt: skip


BY_START = by_trajectories({"provider": "provider_id", "status": START_STATUS,
                            "not_started_reason": NOT_STARTED_REASON})  # fmt: skip
EARLY_STOPS = by_trajectories(
    {"provider": "provider_id", "early_stop_reason": "early_stop_reason"},
    where=("stopped_early",),
    summary={"started": "countIf(started)"},
)
PERSPECTIVE = by_trajectories({"perspective": "perspective"}, where=("closed",))
STARTED_LABEL = {"started": "Opgestarte trajecten"}
REGISTRATION_LABELS = {"aspect": {"duration": "Duurtijd", "half_days": "Dagdelen per week"}}
MISSING_LABELS = {"missing_duration": "Opgestarte trajecten zonder geregistreerde duurtijd",
                  "missing_half_days": "Opgestarte trajecten zonder geregistreerd aantal dagdelen"}  # fmt: skip

TRAJECTORY_STATISTICS = [
    _def("R16", P, "Trajecten per aanbieder, regulier en corona-aanbod", ("provider", "offer_type"), per_provider,
         "G10", summary_labels=PUPIL_FIGURES),
    _def("R17", P, "Opgestarte en niet-opgestarte trajecten per aanbieder, met reden", ("provider", "status",
         "not_started_reason"), BY_START, "G11"),
    _def("R18", P, "Duurtijd van de opgestarte trajecten", ("duration_bucket",),
         by_trajectories({"duration_bucket": DURATION}, where=("started",)), pct_within=(), fill=True,
         population_nl="opgestarte individuele trajecten {level}"),
    _def("R19", P, "Aantal dagdelen per week van de opgestarte trajecten", ("half_days_per_week",),
         by_trajectories({"half_days_per_week": HALF_DAYS}, where=("started",)), "G12",
         population_nl="opgestarte individuele trajecten {level}"),
    _def("R20", P, "Vroegtijdig stopgezette trajecten naar reden en aanbieder", ("provider", "early_stop_reason"),
         EARLY_STOPS, summary_labels=STARTED_LABEL, population_nl="vroegtijdig stopgezette trajecten {level}"),
    _def("R21", P, "Perspectief bij afronding van het traject", ("perspective",), PERSPECTIVE, "G13", fill=True,
         population_nl="afgeronde individuele trajecten {level}"),
    _def("R47", S, "Trajecten per aanbieder en module, regulier en corona-aanbod; aanmeldingen zonder traject",
         ("provider", "module", "offer_type"), per_provider_module, "T8, G33",
         summary_labels=OUTCOME_LABELS),
    _def("R48", S, "Aantal opgestarte trajecten per leerling", ("trajectories_per_pupil",), per_pupil,
         unit="pupils", population_nl="leerlingen met minstens één opgestart traject, {level}", pct_within=()),
    _def("R49", S, "Corona-aanbod: trajecten per aanbieder, opgestart of niet (met reden)",
         ("provider", "status", "not_started_reason"),
         by_trajectories({"provider": "provider_id", "status": START_STATUS, "not_started_reason": NOT_STARTED_REASON},
                         where=("offer_type = 'corona'",)),
         population_nl="trajecten van het corona-aanbod {level}"),
    _def("R51", S, "Duurtijd en dagdelen per week van de opgestarte trajecten, met ontbrekende registraties",
         ("aspect", "category"), registration, "G34, G35", pct_within=("aspect",), labels=REGISTRATION_LABELS,
         summary_labels=MISSING_LABELS, population_nl="opgestarte individuele trajecten {level}"),
    _def("R52", S, "Vroegtijdig stopgezette trajecten naar reden en aanbieder", ("provider", "early_stop_reason"),
         EARLY_STOPS, "G36, G37", summary_labels=STARTED_LABEL,
         population_nl="vroegtijdig stopgezette trajecten {level}"),
    _def("R53", S, "Perspectief bij afronding van het traject", ("perspective",), PERSPECTIVE, "G38", fill=True,
         population_nl="afgeronde individuele trajecten {level}"),
]  # fmt: skip
