"""L3 waiting-time clocks: the rules that turn one referral's facts (dates of its referral, round tables, advice,
withdrawal and trajectories, as the warehouse's current state folds them) into waits, and the waits into the
figures NHS referral-to-treatment statistics give (completed: count, median, p90, share within 2/4/8 weeks; open:
count, median age, count over N weeks). Pure: no I/O; the README's "Waiting-time clocks" states the same rules.

Clocks, in days between Brussels dates:
- referral_to_start (end to end): from the referral's day to the first start of one of its trajectories. A
  re-dispatch keeps the referral's day: the clock runs from the referral, never from the latest dispatch.
- referral_to_round_table: from the referral's day to its first round table held.
- round_table_to_dispatch: from that round table to the first dispatch on or after it.
- dispatch_to_start: per trajectory, from its dispatch to its start.
A clock stops without a start (neither completed nor open) when the referral got advice only, was withdrawn as its
outcome, a round table decided on no trajectory (or one it agreed was not started before any dispatch, while none
waits), or its trajectories were not started for a reason on the pupil's
or school's side; a trajectory not started for a reason on the provider's side (`CLOCK_CONTINUES`) leaves the
referral's clock running until another trajectory starts. Carried-over trajectories (administrative, a new referral
of channel kans_rereferral) are no waits: their referral's clock ran in the year it was referred.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

SEGMENTS = ("referral_to_start", "referral_to_round_table", "round_table_to_dispatch", "dispatch_to_start")
SEGMENT_LABELS_NL = {
    "referral_to_start": "Aanmelding → start (totaal)",
    "referral_to_round_table": "Aanmelding → rondetafel",
    "round_table_to_dispatch": "Rondetafel → toewijzing",
    "dispatch_to_start": "Toewijzing → start",
}
# Not started because the place did not materialise on the provider's side (or practically: travel, a move): the desk
# dispatches again and the referral's clock runs on. Every other reason ends the wait (the pupil, the parents, the
# school declined; no longer needed; other help started ...).
CLOCK_CONTINUES = frozenset({"provider_capacity", "provider_declines", "practical"})
WITHIN_WEEKS = (2, 4, 8)


@dataclass(frozen=True)
class TrajectoryFacts:
    trajectory_id: str
    provider_id: str
    module_id: str
    offer_type: str
    dispatched_on: date
    carried_over: bool = False
    started_on: date | None = None
    not_started_on: date | None = None
    not_started_reason: str = ""
    ended_on: date | None = None
    ending: str = ""  # stopped_early, closed


@dataclass(frozen=True)
class ReferralFacts:
    """What the clocks and the referral status read of one referral (dates are Brussels days; None: not happened)."""

    referral_id: str
    offer_type: str
    referred_on: date
    advised_on: date | None = None
    withdrawn_on: date | None = None
    round_table_scheduled_on: date | None = None  # the first round table planned (the triage's decision)
    round_table_pending_since: date | None = None  # the first planned one neither held nor cancelled (yet)
    round_table_held_on: date | None = None  # the first round table held
    # a round table held that decided on no trajectory (and none decided one), or a trajectory agreed and not started
    # before any dispatch (the first of those days)
    no_trajectory_on: date | None = None
    trajectories: tuple[TrajectoryFacts, ...] = ()
    referrer_id: str = ""
    school_year: str = ""


def _known(day: date | None, as_of: date) -> date | None:
    return day if day is not None and day <= as_of else None


def _latest(facts: ReferralFacts) -> date:
    days = [facts.referred_on, facts.advised_on, facts.withdrawn_on, facts.round_table_scheduled_on,
            facts.round_table_pending_since, facts.round_table_held_on, facts.no_trajectory_on]
    for t in facts.trajectories:
        days += [t.dispatched_on, t.started_on, t.not_started_on, t.ended_on]
    return max(d for d in days if d is not None)


def known_on(facts: ReferralFacts, as_of: date) -> ReferralFacts | None:
    """The referral as it stood at the end of `as_of` (facts dated later have not happened yet); None before it was
    referred."""
    if facts.referred_on > as_of:
        return None
    if _latest(facts) <= as_of:  # the usual question (today): nothing to leave out
        return facts
    trajectories = tuple(
        replace(t, started_on=_known(t.started_on, as_of), not_started_on=_known(t.not_started_on, as_of),
                not_started_reason=t.not_started_reason if _known(t.not_started_on, as_of) else "",
                ended_on=_known(t.ended_on, as_of), ending=t.ending if _known(t.ended_on, as_of) else "")
        for t in facts.trajectories if t.dispatched_on <= as_of
    )  # fmt: skip
    return replace(
        facts, advised_on=_known(facts.advised_on, as_of), withdrawn_on=_known(facts.withdrawn_on, as_of),
        round_table_scheduled_on=_known(facts.round_table_scheduled_on, as_of),
        round_table_pending_since=_known(facts.round_table_pending_since, as_of),
        round_table_held_on=_known(facts.round_table_held_on, as_of),
        no_trajectory_on=_known(facts.no_trajectory_on, as_of), trajectories=trajectories,
    )  # fmt: skip


@dataclass(frozen=True)
class Wait:
    """One clock: `days` waited (completed) or waiting so far (open), attributed to a provider/module/offer."""

    segment: str
    referral_id: str
    trajectory_id: str | None
    provider_id: str  # '' while nothing is dispatched
    module_id: str
    offer_type: str
    open: bool
    days: int
    ended_on: date | None = None  # the day a completed clock stopped (for the trend)


def _stopped_without_start(facts: ReferralFacts, pending: Sequence[TrajectoryFacts]) -> bool:
    """Whether the referral's clock stopped without a start (advice, withdrawal, a round table deciding on no
    trajectory, every trajectory not started for a reason that ends the wait)."""
    if facts.advised_on or facts.withdrawn_on:
        return True
    if facts.no_trajectory_on and not pending:
        return True
    refused = [t for t in facts.trajectories if t.not_started_on is not None]
    if refused and not pending:
        last = max(refused, key=lambda t: (t.not_started_on, t.dispatched_on))
        return last.not_started_reason not in CLOCK_CONTINUES
    return False


def waits(facts: ReferralFacts, as_of: date) -> list[Wait]:
    """Every clock of one referral at the end of `as_of`: completed ones with their days, open ones with their age."""
    known = known_on(facts, as_of)
    if known is None:
        return []
    if any(t.carried_over for t in known.trajectories):
        return []  # a carried-over referral: its wait was the previous year's
    own = list(known.trajectories)
    out: list[Wait] = []
    for t in own:  # dispatch -> start, per trajectory
        mine = Wait("dispatch_to_start", known.referral_id, t.trajectory_id, t.provider_id, t.module_id, t.offer_type,
                    open=False, days=0)  # fmt: skip
        if t.started_on is not None:
            out.append(replace(mine, days=(t.started_on - t.dispatched_on).days, ended_on=t.started_on))
        elif t.not_started_on is None and not known.withdrawn_on and t.ended_on is None:
            out.append(replace(mine, open=True, days=(as_of - t.dispatched_on).days))
    started = sorted((t for t in own if t.started_on is not None), key=lambda t: (t.started_on, t.trajectory_id))
    pending = [t for t in own if t.started_on is None and t.not_started_on is None and t.ended_on is None]
    # The referral's clocks are attributed to the trajectory that stopped them, else the one it waits for now.
    by = started[0] if started else max(pending, key=lambda t: (t.dispatched_on, t.trajectory_id), default=None)
    proto = Wait("referral_to_start", known.referral_id, by.trajectory_id if by else None, by.provider_id if by else "",
                 by.module_id if by else "", by.offer_type if by else known.offer_type, open=False, days=0)  # fmt: skip
    running = not started and not _stopped_without_start(known, pending)
    referred = known.referred_on

    def completed(segment: str, began: date, ended: date) -> Wait:
        return replace(proto, segment=segment, days=(ended - began).days, ended_on=ended)

    def waiting(segment: str, began: date) -> Wait:
        return replace(proto, segment=segment, open=True, days=(as_of - began).days)

    if started and started[0].started_on is not None:
        out.append(completed("referral_to_start", referred, started[0].started_on))
    elif running:
        out.append(waiting("referral_to_start", referred))
    held = known.round_table_held_on
    if held is not None:
        out.append(completed("referral_to_round_table", referred, held))
        dispatched = sorted(t.dispatched_on for t in own if t.dispatched_on >= held)
        if dispatched:
            out.append(completed("round_table_to_dispatch", held, dispatched[0]))
        elif running and not own:
            out.append(waiting("round_table_to_dispatch", held))
    elif known.round_table_pending_since is not None and running and not own:
        out.append(waiting("referral_to_round_table", referred))
    return out


# -- the figures ------------------------------------------------------------------------------------------------------
def median(values: Sequence[int]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None without values."""
    return float(statistics.median(values)) if values else None


def p90(values: Sequence[int]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value at or above 90 % of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass
class Figures:
    completed: int = 0
    median_days: float | None = None
    p90_days: float | None = None
    within_weeks_pct: dict[str, float | None] = field(default_factory=dict)
    open: int = 0
    open_median_age_days: float | None = None
    open_over_weeks: int = 0


def figures(group: Iterable[Wait], over_weeks: int) -> Figures:
    done = [w.days for w in group if not w.open]
    ages = [w.days for w in group if w.open]
    within = {str(n): (round(100 * sum(d <= 7 * n for d in done) / len(done), 1) if done else None)
              for n in WITHIN_WEEKS}  # fmt: skip
    return Figures(len(done), median(done), p90(done), within, len(ages), median(ages),
                   sum(a > 7 * over_weeks for a in ages))  # fmt: skip


GROUPINGS = ("overall", "provider", "provider_module_offer")


def _key(wait: Wait, grouping: str) -> tuple[str | None, str | None, str | None]:
    if grouping == "overall":
        return (None, None, None)
    if grouping == "provider":
        return (wait.provider_id, None, None)
    return (wait.provider_id, wait.module_id, wait.offer_type)


def summarise(all_waits: Iterable[Wait], over_weeks: int) -> list[dict[str, object]]:
    """Rows per grouping (overall, per provider, per provider/module/offer) and segment, in a stable order."""
    listed = list(all_waits)
    rows = []
    for grouping in GROUPINGS:
        grouped: dict[tuple[tuple[str | None, str | None, str | None], str], list[Wait]] = defaultdict(list)
        for w in listed:
            grouped[(_key(w, grouping), w.segment)].append(w)
        if grouping == "overall":
            for segment in SEGMENTS:
                grouped.setdefault(((None, None, None), segment), [])
        for (key, segment), group in sorted(grouped.items(), key=lambda kv: (
                tuple(x or "" for x in kv[0][0]), SEGMENTS.index(kv[0][1]))):  # fmt: skip
            provider, module, offer = key
            f = figures(group, over_weeks)
            rows.append({"grouping": grouping, "provider_id": provider, "module_id": module, "offer_type": offer,
                         "segment": segment, "segment_label_nl": SEGMENT_LABELS_NL[segment], **f.__dict__})  # fmt: skip
    return rows


def trend(all_waits: Iterable[Wait], segment: str) -> list[dict[str, object]]:
    """Per provider and month (the month the clock stopped): completed waits and their median."""
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for w in all_waits:
        if w.segment == segment and not w.open and w.ended_on is not None:
            grouped[(w.provider_id, w.ended_on.strftime("%Y-%m"))].append(w.days)
    return [{"provider_id": provider, "month": month, "completed": len(days), "median_days": median(days)}
            for (provider, month), days in sorted(grouped.items())]  # fmt: skip
