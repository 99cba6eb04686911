"""Individual referrals of one region-year: who is referred when (seasonality, a crisis, the corona offer, pupils
carried over or referred again), the referral with its full profile, and triage: withdrawn, amended, advice only,
a round table (held with its outcomes, or cancelled) or a direct orientation. Triage ends in dispatch requests;
`lifecycle` turns them into trajectories."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kans.synthetic import figures as f
from kans.synthetic.calendar import (
    DAY,
    SEASON_PRIMARY,
    SEASON_SECONDARY,
    day_of,
    later,
    month_counts,
    office_time,
    randint,
    weekday_on_or_after,
)  # fmt: skip
from kans.synthetic.context import CarriedTrajectory, YearContext
from kans.synthetic.events import DESK
from kans.synthetic.profiles import Pupil, advance_year, new_pupil, referral_profile

SCHOOL_POOLS = {"primary_mainstream": ("bao", 110), "primary_special_needs": ("bubao", 8),
                "secondary_part_time": ("clw", 4), "secondary_special_needs": ("buso", 6)}  # fmt: skip


@dataclass(slots=True)
class Referral:
    referral_id: str
    pupil: Pupil
    offer: str
    submitted: int
    trajectories: int = 0
    modules: list[str] = field(default_factory=list)  # modules dispatched to so far
    advised: bool = False  # advice given (once per referral)
    amended: int = 0  # when it was amended, if it was: a withdrawal comes after that

    @property
    def part_time(self) -> bool:
        return self.pupil.profile.get("education_form") == "secondary_part_time"


@dataclass(slots=True)
class Request:
    """A trajectory to dispatch at `stamp` (kind: first, follow_up, or carry for a carried-over one)."""

    stamp: int
    referral: Referral
    kind: str = "first"
    carried: CarriedTrajectory | None = None


def _school(ctx: YearContext, pupil: Pupil) -> tuple[str | None, str]:
    level, form = pupil.profile["level"], pupil.profile["education_form"]
    location = (f.PRIMARY_SCHOOL_LOCATION if level == "primary" else f.SECONDARY_SCHOOL_LOCATION).pick(ctx.rng)
    if location == "unknown":
        return None, location
    if location == "outside_brussels":
        return ctx.ids.school("ext-bao" if level == "primary" else "ext-so", randint(ctx.rng, 1, 15)), location
    kind, size = SCHOOL_POOLS.get(form, ("so", 60))
    return ctx.ids.school(kind, randint(ctx.rng, 1, size)), location


def _referrer(ctx: YearContext, channel: str, pupil: Pupil) -> tuple[str, str]:
    """(referrer_id, actor) of a referral made through `channel`."""
    if channel == "school_direct":
        return str(pupil.school[0]), f"school:{pupil.school[0]}"
    if channel in ("lars", "external_clb"):
        clb = ctx.clb(external=channel == "external_clb")
        return clb, f"clb:{clb}"
    return {"intake": "kans-intake", "self": "kans-self-referral"}.get(channel, "kans-desk"), DESK


SIBLING_PERCENT = 6  # of new addresses, the share that is a brother's or sister's already referred (one roof)


def household(ctx: YearContext, pupil: Pupil, postcode: str) -> dict[str, Any]:
    """The pupil's home address at `postcode`: kept while the pupil lives there (a pupil referred again counts as the
    same address in R06), a sibling's for a few, else a new one. Chosen from a hash of the pupil id, not from the
    year's random stream, so the rest of the generated year is as it was before addresses existed."""
    if pupil.household is not None and pupil.household["postcode"] == postcode:
        return pupil.household
    digest = int(hashlib.sha256(f"{pupil.pupil_id}|{postcode}".encode()).hexdigest()[:12], 16)
    shared = ctx.state.households.get(postcode)
    if shared is not None and digest % 100 < SIBLING_PERCENT:
        pupil.household = shared
    else:
        number = str(digest // 997 % 250 + 1)
        pupil.household = {"street": f"Synthetische straat {digest % 997}", "house_number": number, "box": None,
                           "postcode": postcode}  # fmt: skip
        ctx.state.households[postcode] = pupil.household
    return pupil.household


def submit(ctx: YearContext, pupil: Pupil, offer: str, stamp: int, channel: str | None = None) -> Referral:
    """Emit the ReferralSubmitted (and an amendment for a few) of `pupil`."""
    level = pupil.profile["level"]
    channel = channel or f.CHANNEL[(level, offer)].pick(ctx.rng)
    if channel == "intake":
        pupil.school = (None, "unknown")  # no school and no active CLB worker
    elif channel == "school_direct" and not pupil.school[0]:
        channel = "lars"
    referrer, actor = _referrer(ctx, channel, pupil)
    referral = Referral(ctx.next_referral_id(), pupil, offer, stamp)
    payload: dict[str, Any] = {"referral_id": referral.referral_id, "pupil_id": pupil.pupil_id, "channel": channel,
                               "referrer_id": referrer, **referral_profile(ctx.rng, pupil, offer)}  # fmt: skip
    if payload.get("residence_postcode"):
        payload["household_address"] = household(ctx, pupil, payload["residence_postcode"])
    ctx.emitter.add(stamp, "ReferralSubmitted", f"referral:{referral.referral_id}", actor, payload)
    if ctx.rng.random() < ctx.params.amended_share:
        changes: dict[str, Any] = {"support_network": not payload["support_network"]}
        if payload["discipline"] in ("none", "threatened"):
            changes = {"discipline": "procedure_started" if payload["discipline"] == "threatened" else "threatened"}
        elif payload.get("residence_postcode"):
            changes = {"residence_postcode": (f.PRIMARY_RESIDENCE if level == "primary" else f.SECONDARY_RESIDENCE)
                       .pick(ctx.rng)}  # fmt: skip
        amended_at = referral.amended = ctx.clamp_to_year(later(ctx.rng, stamp, 1, 25), stamp)
        ctx.emitter.add(amended_at, "ReferralAmended", f"amended:{referral.referral_id}", actor,
                        {"referral_id": referral.referral_id, "changes": changes})  # fmt: skip
    return referral


def triage(ctx: YearContext, referral: Referral) -> list[Request]:
    """Withdrawn, advice only, a round table or a direct orientation: the dispatch requests that follow."""
    rng, params, rid, t0 = ctx.rng, ctx.params, referral.referral_id, referral.submitted
    level = referral.pupil.profile["level"]
    if referral.offer == "corona":  # no round table: dispatched the same day (DOMAIN §5)
        return [Request(t0 + 15 * randint(rng, 2, 16), referral)]
    if rng.random() < params.withdrawn_share:
        last = max(t0, referral.amended)
        ctx.emitter.add(ctx.clamp_to_year(later(rng, last, 3, 30), last), "ReferralWithdrawn", f"withdrawn:{rid}", DESK,
                        {"referral_id": rid, "reason": f.WITHDRAW_REASON.pick(rng)})  # fmt: skip
        return []
    if rng.random() < params.advice_share[level]:
        ctx.emitter.add(ctx.clamp_to_year(later(rng, t0, 3, 15), t0), "AdviceGiven", f"advice:{rid}", DESK,
                        {"referral_id": rid, "kind": f.ADVICE_KIND.pick(rng)})  # fmt: skip
        return []
    if day_of(t0) > ctx.calendar.dispatch_cutoff or rng.random() >= params.round_table_share[level]:
        return [Request(ctx.clamp_to_year(later(rng, t0, 2, 15), t0), referral)]
    return _round_table(ctx, referral)


def _round_table(ctx: YearContext, referral: Referral) -> list[Request]:
    rng, rid, crisis = ctx.rng, referral.referral_id, ctx.crisis
    rt = {"referral_id": rid, "round_table_id": f"{rid}rt1"}
    scheduled = later(rng, referral.submitted, 2, 10)
    held = office_time(rng, scheduled // DAY + randint(rng, 5, 20))
    if held > ctx.close_stamp - 3 * DAY:  # too late for a round table: the desk orients directly
        return [Request(later(rng, referral.submitted, 2, 10), referral)]
    ctx.emitter.add(scheduled, "RoundTableScheduled", f"rt-scheduled:{rid}", DESK,
                    {**rt, "scheduled_for": day_of(held).isoformat()})  # fmt: skip
    in_crisis = crisis is not None and day_of(held) >= crisis.start
    if in_crisis and rng.random() < crisis.round_table_cancel_share:  # type: ignore[union-attr]
        reason = "corona_crisis"
    elif rng.random() < ctx.params.round_table_cancel_share:
        reason = f.ROUND_TABLE_CANCEL.pick(rng)
    else:
        reason = ""
    if reason:
        since = max(scheduled, ctx.crisis_stamp or scheduled) if reason == "corona_crisis" else scheduled
        cancelled = min(held - 60, later(rng, since, 0, max(0, (held - since) // DAY - 1)))
        ctx.emitter.add(max(cancelled, scheduled + 15), "RoundTableCancelled", f"rt-cancelled:{rid}", DESK,
                        {**rt, "reason": reason})  # fmt: skip
        return []
    roll = rng.random()
    count: int | None = None
    if roll < 0.045:
        outcomes = ["decision_not_to_start", *(["advice_youth_care"] if rng.random() < 0.3 else [])]
    elif roll < 0.075:
        outcomes = [rng.choice(["advice_youth_care", "reorientation_alternative_learning_path"])]
    else:
        count = f.TRAJECTORIES_AT_ROUND_TABLE.pick(rng)
        outcomes = ["trajectories_to_start"]
        outcomes += ["advice_youth_care"] if rng.random() < 0.05 else []
        outcomes += ["reorientation_alternative_learning_path"] if rng.random() < 0.02 else []
    ctx.emitter.add(held, "RoundTableHeld", f"rt-held:{rid}", DESK,
                    {**rt, "outcomes": outcomes, "trajectories_to_start": count})  # fmt: skip
    dispatch = ctx.clamp_to_year(later(rng, held, 0, 7), held)
    return [Request(dispatch, referral) for _ in range(count or 0)]


def intake(ctx: YearContext) -> list[Request]:
    """Every individual referral of the region-year, triaged: the dispatch requests, in no particular order."""
    rng, params, state = ctx.rng, ctx.params, ctx.state
    requests: list[Request] = []
    by_pupil: dict[str, list[CarriedTrajectory]] = {}
    for carried in state.carried:
        by_pupil.setdefault(carried.pupil.pupil_id, []).append(carried)
    for carried_trajectories in by_pupil.values():  # re-referred by the desk at the start of the year
        pupil = carried_trajectories[0].pupil
        if _advance(ctx, pupil):
            stamp = office_time(rng, ctx.calendar.first_day.toordinal() + randint(rng, 0, 9))
            referral = submit(ctx, pupil, "regular", stamp, "kans_rereferral")
            at = later(rng, referral.submitted, 0, 2)
            requests += [Request(at, referral, "carry", carried) for carried in carried_trajectories]
    returning: dict[str, list[Pupil]] = {"primary": [], "secondary": []}
    for pupil in state.returning:
        if _advance(ctx, pupil):
            returning[pupil.profile["level"]].append(pupil)
    state.carried, state.returning = [], []
    referred: list[Pupil] = []
    crisis = ctx.crisis
    for level, season, volume in (("primary", SEASON_PRIMARY, params.primary_referrals),
                                  ("secondary", SEASON_SECONDARY, params.secondary_referrals)):  # fmt: skip
        for month, count in enumerate(month_counts(volume * ctx.volume, season, rng, params.month_noise)):
            for _ in range(count):
                stamp = office_time(rng, ctx.calendar.pick_day(rng, month))
                if crisis and day_of(stamp) >= crisis.start and rng.random() >= crisis.regular_intake_share:
                    continue  # the regular intake dries up in the crisis
                pupil = returning[level].pop() if returning[level] else _new_pupil(ctx, level, "regular")
                referred.append(pupil)
                requests += triage(ctx, submit(ctx, pupil, "regular", stamp))
    if crisis:
        for level, volume, first in (
            ("primary", crisis.corona_primary, crisis.offer_from_primary),
            ("secondary", crisis.corona_secondary, crisis.offer_from_secondary),
        ):
            # Primary: boosted in May and June, many in mid-June (too late to start); secondary: from Easter on.
            last = crisis.offer_until if level == "primary" else ctx.calendar.dispatch_cutoff + timedelta(days=4)
            for _ in range(round(volume * ctx.volume)):
                stamp = ctx.day_between(first, last, 0.7 if level == "primary" else 1.0)
                stamp = min(stamp, weekday_on_or_after(crisis.offer_until.toordinal()) * DAY + 900)
                requests += triage(ctx, submit(ctx, _new_pupil(ctx, level, "corona"), "corona", stamp))
    state.returning = [pupil for pupil in referred if rng.random() < params.re_referral_share]
    return requests


def _advance(ctx: YearContext, pupil: Pupil) -> bool:
    """Move a pupil referred last year on to this year (a new school when they go to secondary); False when they
    left the levels the desk serves or are too old."""
    level = pupil.profile["level"]
    if not advance_year(ctx.rng, pupil) or ctx.start_year - pupil.birth_year > 20:
        return False
    if pupil.profile["level"] != level:
        pupil.school = _school(ctx, pupil)
    return True


def _new_pupil(ctx: YearContext, level: str, offer: str) -> Pupil:
    pupil_id = ctx.ids.pupil(ctx.state.next_pupil_serial())
    pupil = new_pupil(ctx.rng, pupil_id, ctx.start_year, level, offer, ctx.params.part_time_share)
    pupil.school = _school(ctx, pupil)
    return pupil
