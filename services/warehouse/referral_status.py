"""L4: one state per referral for its referrer, with the day of each step, from the same facts as the waiting-time
clocks (`waiting_clocks.ReferralFacts`). Pure; the README's "Referral status" lists the states.

The contract has no "triage started" event: a referral is `received` until the desk decides its route, `triage`
once a round table is planned for it, `round_table` once one was held that decided on trajectories (waiting for the
dispatch), `dispatched` while a trajectory waits to start, `started` while one runs, `stopped_early` / `closed` when
every started trajectory ended (the latest ending says which), `advice_only` (advice given, no trajectory started),
`withdrawn` (withdrawn as its outcome; a retracted registration is no referral at all: the fold drops it),
`not_started` (no trajectory will start: a round table decided so, or every dispatched one was not started for a
reason that ends the wait), `awaiting_redispatch` (the last one was not started for a reason on the provider's side,
`waiting_clocks.CLOCK_CONTINUES`: the desk dispatches again, the referral's clock runs on).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.warehouse.waiting_clocks import CLOCK_CONTINUES, ReferralFacts, TrajectoryFacts

STATES_NL = {
    "received": "Aangemeld",
    "triage": "Triage: rondetafel gepland",
    "round_table": "Rondetafel gehouden, wacht op toewijzing",
    "dispatched": "Toegewezen, nog niet gestart",
    "started": "Traject loopt",
    "stopped_early": "Vroegtijdig stopgezet",
    "closed": "Afgerond",
    "advice_only": "Enkel advies",
    "withdrawn": "Ingetrokken",
    "not_started": "Geen traject opgestart",
    "awaiting_redispatch": "Niet gestart bij de aanbieder, wacht op nieuwe toewijzing",
}
STATES = tuple(STATES_NL)
STEPS_NL = {  # a step done, with its day
    "received": "Aangemeld", "triage": "Rondetafel gepland", "round_table": "Rondetafel gehouden",
    "advice_only": "Advies gegeven", "dispatched": "Toegewezen", "started": "Gestart", "not_started": "Niet gestart",
    "stopped_early": "Vroegtijdig stopgezet", "closed": "Afgerond", "withdrawn": "Ingetrokken",
}  # fmt: skip


def trajectory_status(t: TrajectoryFacts) -> str:
    if t.ended_on is not None and t.ending:
        return t.ending
    if t.not_started_on is not None:
        return "not_started"
    if t.started_on is not None or t.carried_over:
        return "running"
    return "waiting"


def state_of(facts: ReferralFacts) -> str:
    """The referral's one state (see the module's text); the furthest a trajectory got comes first."""
    statuses = [trajectory_status(t) for t in facts.trajectories]
    if "running" in statuses:
        return "started"
    if facts.withdrawn_on is not None:
        return "withdrawn"
    if "waiting" in statuses:
        return "dispatched"
    ended = [t for t in facts.trajectories if t.ended_on is not None and t.ending]
    if ended:
        return max(ended, key=lambda t: (t.ended_on, t.trajectory_id)).ending
    if facts.advised_on is not None:
        return "advice_only"
    if facts.no_trajectory_on is not None:
        return "not_started"
    if statuses:
        last = max(facts.trajectories, key=lambda t: (t.not_started_on or t.dispatched_on, t.trajectory_id))
        return "awaiting_redispatch" if last.not_started_reason in CLOCK_CONTINUES else "not_started"
    if facts.round_table_held_on is not None:
        return "round_table"
    if facts.round_table_pending_since is not None:
        return "triage"
    return "received"


def _first(days: list[date | None]) -> date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None


def steps(facts: ReferralFacts) -> list[dict[str, Any]]:
    """The steps the referral went through, each with its (first) day, in order."""
    ts = facts.trajectories
    ended = [t for t in ts if t.ended_on is not None and t.ending]
    last_end = max(ended, key=lambda t: (t.ended_on, t.trajectory_id)) if ended else None
    found: list[tuple[str, date | None]] = [
        ("received", facts.referred_on),
        ("triage", facts.round_table_scheduled_on),
        ("round_table", facts.round_table_held_on),
        ("advice_only", facts.advised_on),
        ("dispatched", _first([t.dispatched_on for t in ts])),
        ("started", _first([t.started_on or (t.dispatched_on if t.carried_over else None) for t in ts])),
        ("not_started", _first([t.not_started_on for t in ts] + [facts.no_trajectory_on])),
        (last_end.ending if last_end else "closed", last_end.ended_on if last_end else None),
        ("withdrawn", facts.withdrawn_on),
    ]
    return [{"step": step, "label_nl": STEPS_NL[step], "on": day} for step, day in found if day is not None]
