"""Triage: advice instead of a trajectory, round tables, and what happened to referrals without a started
trajectory (R14, R15, R46, and the summary of R47)."""

from __future__ import annotations

from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import REFERRALS, ROUND_TABLES

OUTCOMES = {
    "referrals": ("count()", "Aanmeldingen"),
    "with_trajectory": ("countIf(t.dispatched > 0)", "Aanmeldingen met minstens één aangeboden traject"),
    "without_started_trajectory": ("countIf(t.started = 0)", "Aanmeldingen zonder opgestart traject"),
    "advice_only": ("countIf(t.started = 0 AND r.advised)", "… waarvan advies na teamoverleg"),
    "round_table_no_start": ("countIf(t.started = 0 AND rt.no_start)",
                             "… waarvan beslissing op de rondetafel geen traject op te starten"),
    "not_started": ("countIf(t.started = 0 AND t.dispatched > 0)", "… waarvan traject(en) niet opgestart"),
    "round_table_cancelled": ("countIf(t.started = 0 AND t.dispatched = 0 AND rt.cancelled)",
                              "… waarvan rondetafel geannuleerd"),
    "no_decision_yet": ("countIf(t.dispatched = 0 AND NOT r.advised AND NOT rt.no_start AND NOT rt.cancelled)",
                        "… waarvan nog geen traject, advies of beslissing"),
    "advice_youth_care": ("countIf(rt.youth_care)", "Rondetafels met advies naar hulpverlening (aanmeldingen)"),
    "reorientation": ("countIf(rt.reorientation)", "Rondetafels met heroriëntering naar alternatieve leerweg"),
}  # fmt: skip
OUTCOME_LABELS = {code: text for code, (_, text) in OUTCOMES.items()}


YEARS = "school_year IN {years:Array(String)}"


def referral_outcomes(q: StatisticQuery, cells: Cells) -> Cells:
    """Add to `cells` what happened to the population's referrals: trajectory offered/started, advice, round-table
    decisions (one row per referral, joined with its trajectories and round tables, which carry their referral's
    school year)."""
    select = ", ".join(expr for expr, _ in OUTCOMES.values())
    sql = f"""
        SELECT r.school_year, {select}
        FROM {q.referrals()} AS r
        LEFT JOIN (SELECT referral_id, count() AS dispatched, countIf(started) AS started
                   FROM {q.base.trajectories} WHERE {YEARS} GROUP BY referral_id) AS t
             ON t.referral_id = r.referral_id
        LEFT JOIN (SELECT referral_id, max(has(outcomes, 'decision_not_to_start')) AS no_start,
                          max(has(outcomes, 'advice_youth_care')) AS youth_care,
                          max(has(outcomes, 'reorientation_alternative_learning_path')) AS reorientation,
                          max(cancelled AND NOT held) AS cancelled
                   FROM {q.base.round_tables} WHERE {YEARS} GROUP BY referral_id) AS rt
             ON rt.referral_id = r.referral_id
        GROUP BY r.school_year"""
    return q.add_summary(cells, sql, list(OUTCOMES))


def advice(q: StatisticQuery) -> Cells:
    """R14: referrals that got advice only, by kind; the population's referrals as a summary figure."""
    cells = q.count(q.referrals("advised"), {"advice_kind": "advice_kind"}, REFERRALS)
    return q.summary(cells, q.referrals(), {"referrals": REFERRALS})


def round_tables(q: StatisticQuery) -> Cells:
    """R15/R46: round tables of the year's referrals: held, cancelled (with reason) or still planned; outcomes of
    the held ones as summary figures."""
    dims = {"status": "status", "cancel_reason": "if(status = 'cancelled', cancel_reason, NULL)"}
    cells = q.count(q.round_tables(), dims, ROUND_TABLES)
    outcomes = ("trajectories_to_start", "decision_not_to_start", "advice_youth_care",
                "reorientation_alternative_learning_path")  # fmt: skip
    return q.summary(
        cells,
        q.round_tables("held"),
        {code: f"countIf(has(outcomes, '{code}'))" for code in outcomes},
    )


ROUND_TABLE_OUTCOMES = {
    "trajectories_to_start": "Gehouden rondetafels met op te starten traject(en)",
    "decision_not_to_start": "Gehouden rondetafels met beslissing geen traject op te starten",
    "advice_youth_care": "Gehouden rondetafels met advies naar hulpverlening",
    "reorientation_alternative_learning_path": "Gehouden rondetafels met heroriëntering naar alternatieve leerweg",
}
ADVICE_NOTE = "Het rapport geeft het aantal adviezen op het aantal aanmeldingen (bv. 1 van de 35)."


def _round_tables(code: str, section: Section, level_nl: str) -> StatisticDef:
    return StatisticDef(
        code=code, title_nl=f"Rondetafels: gehouden en geannuleerd, met reden ({level_nl})", section=section,
        unit="round_tables", dimensions=("status", "cancel_reason"), compute=round_tables,
        population_nl="rondetafels voor individuele aanmeldingen {level}", summary_labels=ROUND_TABLE_OUTCOMES,
    )  # fmt: skip


TRIAGE_STATISTICS = [
    StatisticDef(
        code="R14", title_nl="Adviesverstrekking zonder traject (basisonderwijs)", section=Section.primary_individual,
        unit="referrals", dimensions=("advice_kind",), compute=advice,
        population_nl="individuele aanmeldingen {level} met enkel een advies", fill=True,
        summary_labels={"referrals": "Aanmeldingen in de populatie"}, report_note_nl=ADVICE_NOTE,
    ),
    _round_tables("R15", Section.primary_individual, "basisonderwijs"),
    _round_tables("R46", Section.secondary_individual, "secundair onderwijs"),
]  # fmt: skip
