"""Trajectories through their whole lifecycle, simulated in time order for one region-year: dispatched by the
desk's rules, started when the module has a place (the wait grows when it is full) or not started with a reason,
progress reported, stopped early or closed with a perspective, and at the year's end closed administratively and
carried over into the next year (`TrajectoryCarriedOver` links the two). A crisis stops running trajectories and
keeps waiting ones from starting."""

from __future__ import annotations

import heapq

from kans.synthetic import figures as f
from kans.synthetic.calendar import DAY, day_of, later, office_time, randint, stamp_of
from kans.synthetic.context import CarriedTrajectory, YearContext, age_at
from kans.synthetic.events import DESK
from kans.synthetic.individual import Referral, Request
from kans.synthetic.providers import Module

ADMIN_DAYS = {"regular": (3, 15), "day_care": (5, 20), "corona": (0, 2)}  # dispatch -> ready to start
CORONA_ORDER = ("groep-intro", "abrusco")  # the corona offer: Groep INTRO first, then Abrusco (DOMAIN §7)
CORONA_NOT_STARTED = 0.07  # report §2.1.4.1.2: 8 of 75


def run(ctx: YearContext, requests: list[Request]) -> None:
    """Dispatch every request in time order; follow-up trajectories join the queue as they arise."""
    queue = [(request.stamp, seq, request) for seq, request in enumerate(requests)]
    heapq.heapify(queue)
    seq = len(queue)
    while queue:
        request = heapq.heappop(queue)[2]
        follow_up = _continue(ctx, request) if request.kind == "carry" else _dispatch(ctx, request)
        if follow_up is not None:
            seq += 1
            heapq.heappush(queue, (follow_up.stamp, seq, follow_up))


def _choose(ctx: YearContext, referral: Referral, request: Request) -> Module | None:
    pupil, day = referral.pupil, day_of(request.stamp)
    age = age_at(pupil, referral.submitted)
    found = ctx.providers.candidates(referral.offer, pupil.profile["level"], referral.part_time, age,
                                     pupil.travel_ok, day)  # fmt: skip
    fresh = [(m, w) for m, w in found if f"{m.provider_id}:{m.module_id}" not in referral.modules] or found
    if not fresh:
        return None
    if referral.offer == "corona":  # the first in line with a free place, else the first in line waits
        ordered = sorted((m for m, _ in fresh), key=lambda m: CORONA_ORDER.index(m.provider_id))
        ready = request.stamp + DAY
        free = [m for m in ordered if (ctx.places_of(m).earliest_start(ready) or ready + 1) <= ready]
        return (free or ordered)[0]
    return f.Weighted(fresh).pick(ctx.rng)


def _dispatch(ctx: YearContext, request: Request) -> Request | None:
    rng, referral, d = ctx.rng, request.referral, request.stamp
    corona = referral.offer == "corona"
    too_late = day_of(d) > ctx.calendar.dispatch_cutoff  # the corona offer too (report: mid-June, not started)
    if too_late and request.kind == "follow_up":
        return None
    module = _choose(ctx, referral, request)
    if module is None:
        if referral.trajectories == 0 and not referral.advised:
            referral.advised = True
            rid = referral.referral_id
            ctx.emitter.add(ctx.clamp_to_year(later(rng, d, 0, 3), d), "AdviceGiven", f"advice:{rid}", DESK,
                            {"referral_id": rid, "kind": "no_kans_offer"})  # fmt: skip
        return None
    referral.trajectories += 1
    referral.modules.append(f"{module.provider_id}:{module.module_id}")
    tid = f"{referral.referral_id}t{referral.trajectories}"
    base = {"referral_id": referral.referral_id, "trajectory_id": tid}
    ctx.emitter.add(d, "TrajectoryDispatched", f"dispatched:{tid}", DESK,
                    {**base, "provider_id": ctx.provider_id(module), "module_id": module.module_id,
                     "offer_type": referral.offer})  # fmt: skip
    if too_late:
        _not_started(ctx, module, base, ctx.clamp_to_year(later(rng, d, 1, 10), d), "too_late_in_year")
        return None
    if rng.random() < (CORONA_NOT_STARTED if corona else ctx.params.not_started_share[referral.pupil.profile["level"]]):
        end = later(rng, d, 3, 25)
        _not_started(ctx, module, base, end, f.NOT_STARTED[referral.offer].pick(rng))
        return _follow_up(ctx, referral, end)
    admin = ADMIN_DAYS["corona" if corona else "day_care" if module.day_care else "regular"]
    places = ctx.places_of(module)
    start = places.earliest_start(later(rng, d, *admin))
    crisis, crisis_stamp = ctx.crisis, ctx.crisis_stamp
    waits_into_crisis = crisis and crisis_stamp and not corona and (start is None or start >= crisis_stamp)
    if waits_into_crisis and rng.random() < crisis.waiting_not_started_share:  # type: ignore[union-attr]
        _not_started(ctx, module, base, later(rng, max(d, crisis_stamp or d), 0, 14), "corona_crisis")
        return None
    give_up = min(d + module.patience_days * DAY, ctx.close_stamp)
    if start is None or start > give_up:
        reason = "too_late_in_year" if give_up == ctx.close_stamp else "provider_capacity"
        end = max(office_time(rng, give_up // DAY), d + 15)
        _not_started(ctx, module, base, end, reason)
        return _follow_up(ctx, referral, end) if reason == "provider_capacity" else None
    planned = office_time(rng, start // DAY + 7 * randint(rng, *module.weeks) + randint(rng, -2, 2))
    end = _run(ctx, referral, module, base, start, max(planned, start + DAY), carried=False)
    places.occupy(start, end, dispatched=d)
    return _follow_up(ctx, referral, end)


def _continue(ctx: YearContext, request: Request) -> Request | None:
    """A trajectory carried over from last year continues at once at the same provider, if it still has a place;
    otherwise the desk dispatches it anew (it waits like any other)."""
    referral, carried, start = request.referral, request.carried, request.stamp
    assert carried is not None
    module, day = carried.module, day_of(start)
    places = ctx.places_of(module) if module in ctx.providers.modules else None
    if places is None or not ctx.providers.open_on(module, day) or not places.free_at(start):
        request.kind = "first"
        return _dispatch(ctx, request)
    referral.trajectories += 1
    referral.modules.append(f"{module.provider_id}:{module.module_id}")
    tid = f"{referral.referral_id}t{referral.trajectories}"
    base = {"referral_id": referral.referral_id, "trajectory_id": tid}
    ctx.emitter.add(start, "TrajectoryCarriedOver", f"carried-over:{tid}", DESK,
                    {**base, "previous_referral_id": carried.referral_id,
                     "previous_trajectory_id": carried.trajectory_id,
                     "to_school_year": f"{ctx.start_year}-{ctx.start_year + 1}", "provider_id": ctx.provider_id(module),
                     "module_id": module.module_id, "offer_type": "regular"})  # fmt: skip
    planned = office_time(ctx.rng, start // DAY + max(7, min(carried.remaining_days, 140)))
    end = _run(ctx, referral, module, base, start, planned, carried=True)
    places.occupy(start, end)
    return _follow_up(ctx, referral, end)


def _not_started(ctx: YearContext, module: Module, base: dict[str, str], at: int, reason: str) -> None:
    actor = DESK if reason in ("too_late_in_year", "provider_capacity") else f"provider:{ctx.provider_id(module)}"
    ctx.emitter.add(
        at, "TrajectoryNotStarted", f"not-started:{base['trajectory_id']}", actor, {**base, "reason": reason}
    )


def _run(ctx: YearContext, referral: Referral, module: Module, base: dict[str, str], start: int, planned: int,
         carried: bool) -> int:  # fmt: skip
    """Emit a started trajectory's life from `start`; returns when it ends (its place is free again)."""
    rng, params, tid = ctx.rng, ctx.params, base["trajectory_id"]
    level, corona = referral.pupil.profile["level"], referral.offer == "corona"
    actor = f"provider:{ctx.provider_id(module)}"
    half_days = 1 if corona and level == "primary" else rng.choice(module.half_days)
    if not carried:
        registered = rng.random() >= params.unregistered_share
        ctx.emitter.add(start, "TrajectoryStarted", f"started:{tid}", actor,
                        {**base, "half_days_per_week": half_days if registered else None})  # fmt: skip
    end, outcome = planned, "closed"
    crisis, crisis_stamp = ctx.crisis, ctx.crisis_stamp
    running_into_crisis = crisis and crisis_stamp and not corona and start < crisis_stamp < planned
    if running_into_crisis and rng.random() < crisis.running_stopped_share:  # type: ignore[union-attr]
        end, outcome = later(rng, crisis_stamp or start, 0, 21), "corona_crisis"
    if outcome == "closed" and rng.random() < (0.06 if corona else params.stopped_early_share[level]):
        end = max(office_time(rng, (start + int((planned - start) * rng.uniform(0.2, 0.8))) // DAY), start + 15)
        outcome = f.EARLY_STOP.pick(rng)
    if end >= ctx.close_stamp:
        end = max(ctx.close_stamp, start + 15)
        carry = not corona and ctx.providers.continues_next_year(module) and rng.random() < params.carry_over_share
        outcome = "carried" if carry else "closed"
    report, number = later(rng, start, 28, 42), 0
    while report < end:
        number += 1
        weeks = (report - start) // (7 * DAY)
        bucket = "under_1_month" if weeks < 4 else "one_to_three_months" if weeks < 13 else "over_3_months"
        values: dict[str, object] = {"half_days_per_week": half_days, "duration_bucket": bucket}
        values = {k: (v if rng.random() >= params.unregistered_share else None) for k, v in values.items()}
        if any(v is not None for v in values.values()):
            ctx.emitter.add(report, "TrajectoryProgressReported", f"progress:{tid}:{number}", actor,
                            {**base, **values, "class_hours": None})  # fmt: skip
        report = later(rng, report, 28, 42)
    if outcome in ("closed", "carried"):
        perspective = f.PERSPECTIVE["corona" if corona else level].pick(rng)
        perspective = "continues_next_year" if outcome == "carried" else perspective
        ctx.emitter.add(end, "TrajectoryClosed", f"closed:{tid}", actor, {**base, "perspective": perspective})
        if outcome == "carried":
            remaining = max(7, (planned - end) // DAY)
            ctx.state.carry(CarriedTrajectory(referral.pupil, referral.referral_id, tid, module, remaining))
    else:
        ctx.emitter.add(end, "TrajectoryStoppedEarly", f"stopped:{tid}", actor, {**base, "reason": outcome})
    return end


def _follow_up(ctx: YearContext, referral: Referral, end: int) -> Request | None:
    """Another trajectory after this one (one after the other, or separate later in the year), for some pupils."""
    if referral.offer != "regular" or referral.trajectories >= 4 or ctx.rng.random() >= ctx.params.follow_up_share:
        return None
    at = later(ctx.rng, end, 7, 40)
    return Request(at, referral, "follow_up") if at < stamp_of(ctx.calendar.dispatch_cutoff) else None
