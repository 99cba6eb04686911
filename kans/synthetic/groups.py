"""Group referrals of one region-year (DOMAIN §6, report §1.2 and §2.2): one request lists one or more groups of a
school (classes, a school-composed group, a restorative group), each gets its own group trajectory: dispatched
(the preferred provider, else the one with fewer so far), started when the module has room, not started or stopped
early with a reason, or completed with class hours and pupils reached. Secondary schools ask for theme workshops
of the next year from May; class actions are not accepted after Easter."""

from __future__ import annotations

from typing import Any

from kans.synthetic import figures as f
from kans.synthetic.calendar import (
    DAY,
    GROUP_REQUESTS_AHEAD,
    SEASON_GROUPS_PRIMARY,
    SEASON_GROUPS_SECONDARY,
    day_of,
    later,
    month_counts,
    office_time,
    randint,
)  # fmt: skip
from kans.synthetic.context import YearContext
from kans.synthetic.events import DESK
from kans.synthetic.providers import GROUP_MODULE_IDS, MODULES, Module, base_provider, region_provider

MODULE = {"primary": f.counts([("class_action", 70), ("theme_workshop", 12), ("restorative", 8),
                               ("school_composed_group", 10)]),
          "secondary": f.counts([("class_action", 55), ("theme_workshop", 26), ("restorative", 15),
                                 ("school_composed_group", 4)])}  # T3, T9: by referral  # fmt: skip
GROUPS_PER_REFERRAL = {  # several classes in one request: mostly theme workshops in secondary (T9, §2.2.1)
    ("secondary", "theme_workshop"): f.counts([(1, 10), (2, 15), (3, 20), (4, 18), (5, 14), (6, 10), (8, 13)]),
    ("primary", "theme_workshop"): f.counts([(1, 50), (2, 30), (3, 20)]),
    ("secondary", "class_action"): f.counts([(1, 75), (2, 20), (3, 5)]),
    ("primary", "class_action"): f.counts([(1, 70), (2, 20), (3, 10)]),
}
PRIMARY_GRADE = f.counts([(1, 2), (2, 3), (3, 5), (4, 5), (5, 5), (6, 10)])  # G15: the 6th grade asks most
SECONDARY_GRADE = f.counts([(1, 45), (2, 41), (3, 20), (4, 14), (5, 12), (6, 10), (7, 3)])  # G40
BUBAO = f.counts([("basic_offer", 3), ("type_9", 3), ("type_7", 4)])  # T16
BUSO = f.counts([("basic_offer", 16), ("type_7", 3), ("type_3", 1), ("type_9", 1)])  # OV3 (report §2.2.1.3)
THEME = f.counts([("resilience_self_control", 14), ("class_relations", 13), ("other", 3)])
NOT_STARTED = f.counts([("no_longer_needed", 11), ("individual_trajectory_instead", 2), ("other", 1),
                        ("practical", 1), ("school_unwilling", 1)])  # fmt: skip
STOPPED = f.counts([("conditions_not_met", 2), ("school_stops", 1), ("other", 1)])
CLASS_HOURS = {
    "class_action": (2, 22, 4.0),
    "theme_workshop": (2, 7, 2.0),
    "restorative": (6, 30, 8.0),
    "school_composed_group": (4, 24, 6.0),
}  # min, max, mode: means 9.3, 3.7, 14.7 (§1.2.2.3, §2.2.2.3)


def _schooling(ctx: YearContext, level: str, module: str) -> dict[str, Any]:
    rng = ctx.rng
    if level == "primary":
        if rng.random() < 0.25:
            return {"level": level, "education_form": "primary_special_needs", "grade": "not_applicable",
                    "bubao_type": BUBAO.pick(rng)}  # fmt: skip
        grade_code = "not_applicable" if module == "school_composed_group" else f"grade_{PRIMARY_GRADE.pick(rng)}"
        return {"level": level, "education_form": "primary_mainstream", "grade": grade_code}
    if rng.random() < 0.13:
        return {"level": level, "education_form": "secondary_special_needs", "grade": "not_applicable",
                "buso_type": BUSO.pick(rng), "buso_training_form": "ov3"}  # fmt: skip
    grade: int = rng.choice((1, 1, 2, 2, 3)) if module == "theme_workshop" else SECONDARY_GRADE.pick(rng)
    if grade <= 2:
        form = "secondary_a_stream" if rng.random() < 0.85 else "secondary_b_stream"
    else:
        form = rng.choice(("secondary_aso", "secondary_tso", "secondary_bso", "secondary_bso", "secondary_kso"))
        grade = min(grade, 6) if form != "secondary_bso" else grade
    return {"level": level, "education_form": form, "grade": f"grade_{grade}"}


def _group(ctx: YearContext, gid: str, school: tuple[str, str], level: str, module: str) -> dict[str, Any]:
    rng = ctx.rng
    fields = _schooling(ctx, level, module)
    kind = {"restorative": "restorative_group", "school_composed_group": "school_composed_group"}.get(
        module, "class_group"
    )
    special = fields["education_form"].endswith("special_needs")
    size = {"restorative_group": (2, 6), "school_composed_group": (4, 10)}.get(kind, (6, 12) if special else (14, 25))
    group: dict[str, Any] = {
        "group_id": gid,
        "school_id": school[0],
        "school_location": school[1],
        **fields,
        "group_kind": kind,
        "pupil_count": randint(rng, *size),
        "requested_module": module,
    }
    if module in ("class_action", "restorative") and rng.random() < 0.6:
        group["preferred_provider_id"] = region_provider(
            "abrusco" if rng.random() < 0.85 else "groep-intro", ctx.ids.region
        )
    if module == "class_action":
        group["class_action_theme"] = THEME.pick(rng)
    return group


def intake(ctx: YearContext) -> None:
    """Every group referral of the region-year and the life of each of its group trajectories."""
    rng, params, crisis = ctx.rng, ctx.params, ctx.crisis
    pending: list[tuple[int, int, str, dict[str, Any], int]] = []  # (dispatch at, order, referral, group, made)
    for level, season, volume in (
        ("primary", SEASON_GROUPS_PRIMARY, params.primary_group_referrals),
        ("secondary", SEASON_GROUPS_SECONDARY, params.secondary_group_referrals),
    ):
        ahead = GROUP_REQUESTS_AHEAD if level == "secondary" else (0, 0, 0, 0)
        counts = month_counts(volume * ctx.volume, (*season, *ahead), rng, params.month_noise)
        for month, count in enumerate(counts):
            for _ in range(count):
                if month < 12:
                    stamp = office_time(rng, ctx.calendar.pick_day(rng, month))
                else:  # made in May-August of the year before, for this year (theme workshops)
                    first = ctx.calendar.month_date(8 + month - 12).toordinal() - 365
                    stamp = office_time(rng, first + randint(rng, 0, 27))
                if crisis and day_of(stamp) >= crisis.start and rng.random() >= crisis.regular_intake_share:
                    continue
                _referral(ctx, level, stamp, month >= 12, pending)
    dispatched: dict[str, int] = {}  # group dispatches per provider this year: the balance rule
    for at, _, rid, group, requested_at in sorted(pending, key=lambda item: item[:2]):  # places: in time order
        _trajectory(ctx, rid, group, requested_at, at, dispatched)


def _referral(ctx: YearContext, level: str, stamp: int, ahead: bool,
              pending: list[tuple[int, int, str, dict[str, Any], int]]) -> None:  # fmt: skip
    rng = ctx.rng
    after_easter = day_of(stamp) >= ctx.providers.easter_monday and not ahead
    module = "theme_workshop" if ahead else ("restorative" if after_easter else MODULE[level].pick(rng))
    rid = ctx.next_referral_id(group=True)
    pool = ("bao", 110) if level == "primary" else ("so", 60)
    school = (ctx.ids.school(*pool[:1], randint(rng, 1, pool[1])), "brussels")
    count = GROUPS_PER_REFERRAL[(level, module)].pick(rng) if (level, module) in GROUPS_PER_REFERRAL else 1
    groups = [_group(ctx, f"{rid}g{k}", school, level, module) for k in range(1, count + 1)]
    external = rng.random() < 0.04
    clb = ctx.clb(external)
    payload = {"group_referral_id": rid, "channel": "external_clb" if external else "lars", "referrer_id": clb,
               "for_school_year": f"{ctx.start_year}-{ctx.start_year + 1}", "groups": groups}  # fmt: skip
    ctx.emitter.add(stamp, "GroupReferralSubmitted", f"group-referral:{rid}", f"clb:{clb}", payload)
    at = (
        office_time(rng, ctx.calendar.first_day.toordinal() + randint(rng, 1, 10))
        if ahead
        else later(rng, stamp, 3, 15)
    )
    pending += [(ctx.clamp_to_year(at, stamp), len(pending), rid, group, stamp) for group in groups]


def _provider(group: dict[str, Any], candidates: list[Module], dispatched: dict[str, int]) -> Module:
    """The provider the school asks for, else the one with fewer group dispatches so far (report §2.2.2.2)."""
    preferred = group.get("preferred_provider_id")
    for module in candidates:
        if preferred and base_provider(preferred) == module.provider_id:
            return module
    return min(candidates, key=lambda m: (dispatched.get(m.provider_id, 0), m.provider_id))


def _trajectory(ctx: YearContext, rid: str, group: dict[str, Any], requested_at: int, at: int,
                dispatched: dict[str, int]) -> None:  # fmt: skip
    """Dispatch one group (to a module open when it was requested) and emit its trajectory's life."""
    rng, crisis, stamp_crisis = ctx.rng, ctx.crisis, ctx.crisis_stamp
    requested, level = group["requested_module"], group["level"]
    module_id = GROUP_MODULE_IDS[requested]
    asked = day_of(max(requested_at, ctx.calendar.first_day.toordinal() * DAY))  # ahead: from the year's start
    candidates = [m for (_, mid), m in MODULES.items() if mid == module_id and level in m.levels
                  and m in ctx.providers.modules and ctx.providers.open_on(m, asked)]  # fmt: skip
    candidates = candidates or [MODULES[("abrusco", module_id)]]
    module = _provider(group, candidates, dispatched)
    dispatched[module.provider_id] = dispatched.get(module.provider_id, 0) + 1
    base = {"group_referral_id": rid, "group_id": group["group_id"], "group_trajectory_id": f"{group['group_id']}t"}
    pid, actor = ctx.provider_id(module), f"provider:{ctx.provider_id(module)}"
    ctx.emitter.add(at, "GroupTrajectoryDispatched", f"group-dispatched:{group['group_id']}", DESK,
                    {**base, "provider_id": pid, "module": requested})  # fmt: skip
    places = ctx.places_of(module)
    start = places.earliest_start(later(rng, at, 5, 25))
    give_up = min(at + 120 * DAY, ctx.close_stamp)
    reason = ""
    if rng.random() < 0.08:
        reason, end = NOT_STARTED.pick(rng), later(rng, at, 7, 40)
    elif (
        crisis
        and stamp_crisis
        and (start is None or start >= stamp_crisis)
        and rng.random() < (crisis.group_not_started_share)
    ):
        reason, end = "corona_crisis", later(rng, max(at, stamp_crisis), 0, 20)
    elif start is None or start > give_up:
        reason = "too_late_in_year" if give_up == ctx.close_stamp else "provider_capacity"
        end = max(office_time(rng, give_up // DAY), at + 15)
    if reason:
        ctx.emitter.add(ctx.clamp_to_year(end, at), "GroupTrajectoryNotStarted",
                        f"group-not-started:{group['group_id']}", DESK, {**base, "reason": reason})  # fmt: skip
        return
    assert start is not None
    planned = office_time(rng, start // DAY + 7 * randint(rng, *module.weeks) - 7 + randint(rng, 0, 4))
    end, stop = min(max(planned, start + 60), ctx.close_stamp), ""
    if crisis and stamp_crisis and start < stamp_crisis < end and rng.random() < crisis.group_stopped_share:
        end, stop = later(rng, stamp_crisis, 0, 14), "corona_crisis"
    elif rng.random() < 0.03 and end > start + DAY:
        end, stop = max(office_time(rng, (start + end) // 2 // DAY), start + 30), STOPPED.pick(rng)
    low, high, mode = CLASS_HOURS[requested]
    hours = round(rng.triangular(low, high, mode) * 2) / 2
    ctx.emitter.add(start, "GroupTrajectoryStarted", f"group-started:{group['group_id']}", actor, base)
    if stop:
        spent = round(hours * rng.uniform(0.1, 0.6) * 2) / 2 if rng.random() > 0.2 else None
        ctx.emitter.add(end, "GroupTrajectoryStoppedEarly", f"group-stopped:{group['group_id']}", actor,
                        {**base, "reason": stop, "class_hours": spent})  # fmt: skip
    else:
        reached = group["pupil_count"] - (randint(rng, 0, 2) if group["group_kind"] == "class_group" else 0)
        ctx.emitter.add(end, "GroupTrajectoryCompleted", f"group-completed:{group['group_id']}", actor,
                        {**base, "class_hours": hours, "pupils_reached": max(1, reached)})  # fmt: skip
    places.occupy(start, end, dispatched=at)
