"""Triage: advice instead of a trajectory, round tables, and what happened to referrals without a started
trajectory (R14, R15, R46, and the summary of R14 and R47), withdrawn referrals among them with their reason (a
withdrawn referral was received and counts; a retracted registration is not in the folds at all), and trajectories
agreed at a round table that were not started before any dispatch (counted among the not started)."""

from __future__ import annotations

from schemas.codelists import label
from schemas.referrals import withdrawal_reasons
from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import ROUND_TABLES

OUTCOMES = {
    "referrals": ("count()", "Aanmeldingen"),
    "with_trajectory": ("countIf(dispatched)", "Aanmeldingen met minstens één aangeboden traject"),
    "without_started_trajectory": ("countIf(NOT started)", "Aanmeldingen zonder opgestart traject"),
    "advice_only": ("countIf(NOT started AND advised)", "… waarvan advies na teamoverleg"),
    "round_table_no_start": ("countIf(NOT started AND no_start)",
                             "… waarvan beslissing op de rondetafel geen traject op te starten"),
    "not_started": ("countIf(NOT started AND (dispatched OR agreed_not_started))",
                    "… waarvan traject(en) niet opgestart"),
    "not_started_before_dispatch": ("countIf(NOT started AND NOT dispatched AND agreed_not_started)",
                                    "… waarvan traject op de rondetafel afgesproken, niet opgestart vóór dispatching"),
    "round_table_cancelled": ("countIf(NOT started AND NOT dispatched AND cancelled)",
                              "… waarvan rondetafel geannuleerd"),
    "withdrawn": ("countIf(NOT started AND withdrawn)", "… waarvan aanmelding ingetrokken"),
    **{f"withdrawn_{reason}": (f"countIf(NOT started AND withdrawn AND withdraw_reason = '{reason}')",
                               f"… ingetrokken, reden: {label('withdraw_reason', reason)}")
       for reason in withdrawal_reasons()},
    "no_decision_yet": ("countIf(NOT dispatched AND NOT agreed_not_started AND NOT advised AND NOT no_start "
                        "AND NOT cancelled AND NOT withdrawn)",
                        "… waarvan nog geen traject, advies of beslissing"),
    "advice_youth_care": ("countIf(youth_care)", "Rondetafels met advies naar hulpverlening (aanmeldingen)"),
    "reorientation": ("countIf(reorientation)", "Rondetafels met heroriëntering naar alternatieve leerweg"),
}  # fmt: skip
OUTCOME_LABELS = {code: text for code, (_, text) in OUTCOMES.items()}


def referral_outcomes(q: StatisticQuery, cells: Cells) -> Cells:
    """Add to `cells` what happened to the population's referrals: trajectory offered/started, advice, round-table
    decisions. Per referral, whether it is in the set of referrals with a trajectory, a started one, a round table
    with a given outcome ... (trajectories and round tables carry their referral's school year and level): sets
    probed by id, cheaper than joining per-referral aggregates."""
    years = ["school_year IN {years:Array(String)}", *q.level_where]

    def having(relation: str, condition: str = "1") -> str:
        return f"referral_id IN (SELECT referral_id FROM {relation} WHERE {' AND '.join(years)} AND {condition})"

    flags = {
        "dispatched": having(q.base.trajectories, "dispatched"),
        "agreed_not_started": having(q.base.trajectories, "NOT dispatched AND not_started"),
        "started": having(q.base.trajectories, "started"),
        "no_start": having(q.base.round_tables, "has(outcomes, 'decision_not_to_start')"),
        "youth_care": having(q.base.round_tables, "has(outcomes, 'advice_youth_care')"),
        "reorientation": having(q.base.round_tables, "has(outcomes, 'reorientation_alternative_learning_path')"),
        "cancelled": having(q.base.round_tables, "cancelled AND NOT held"),
    }
    select = ", ".join(expr for expr, _ in OUTCOMES.values())
    sql = f"""
        SELECT school_year, {select}
        FROM (SELECT school_year, advised, withdrawn, withdraw_reason,
                     {", ".join(f"{expr} AS {name}" for name, expr in flags.items())}
              FROM {q.referrals()})
        GROUP BY school_year"""
    return q.add_summary(cells, sql, list(OUTCOMES))


def advice(q: StatisticQuery) -> Cells:
    """R14: referrals that got advice only, by kind; what became of the population's referrals (withdrawn ones with
    their reason) as summary figures."""
    cells = q.count(q.referrals("advised"), {"advice_kind": "advice_kind"}, "count()")
    return referral_outcomes(q, cells)


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
        summary_labels=OUTCOME_LABELS, report_note_nl=ADVICE_NOTE,
    ),
    _round_tables("R15", Section.primary_individual, "basisonderwijs"),
    _round_tables("R46", Section.secondary_individual, "secundair onderwijs"),
]  # fmt: skip
