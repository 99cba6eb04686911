"""The providers of the desk's 2019-2020 report as provider-fact events, for the dispatch tests (unit and
integration): Tigo (therapeutic day care, 12 places, 9 and out of the desk's reach from 1 January 2020), the day-care
farms (Huppeldepup and Joert from age 10), the corona offer of Groep INTRO and Abrusco, class actions of both (closed
after Easter), and the NAFT individual module of both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.envelope import Envelope
from schemas.registry import SUBMISSION_ADAPTER, seal
from tests.factories import TEST_PUPIL_SECRET, TEST_VAULT

NOW = datetime(2020, 6, 30, 12, 0, tzinfo=UTC)
YEAR_START = "2019-09-01"
EASTER_MONDAY = "2020-04-13"


def submission(event_type: str, payload: dict[str, Any], occurred_at: str, ref: str,
               source_system: str = "desk", **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"event_type": event_type, "occurred_at": occurred_at, "source_system": source_system, "source_ref": ref,
            "actor": "desk:kans", "payload": payload, **extra}  # fmt: skip


def provider_fact(event_type: str, provider_id: str, valid_from: str = YEAR_START, **payload: Any) -> dict[str, Any]:
    ref = f"{event_type}:{provider_id}:{payload.get('module_id', '*')}:{valid_from}"
    return submission(event_type, {"provider_id": provider_id, "valid_from": valid_from, **payload},
                      f"{valid_from}T07:30:00+02:00" if valid_from < "2019-10-27" else f"{valid_from}T07:30:00+01:00",
                      ref)  # fmt: skip


def module(provider_id: str, module_id: str, kind: str, levels: list[str], capacity: int,
           valid_from: str = YEAR_START, minimum_age: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    facts = [
        provider_fact("ModuleOffered", provider_id, valid_from, module_id=module_id, kind=kind, name="Module",
                      levels=levels),
        provider_fact("ProviderCapacitySet", provider_id, valid_from, module_id=module_id, capacity=capacity),
    ]  # fmt: skip
    if minimum_age is not None:
        facts.append(provider_fact("ProviderMinimumAgeSet", provider_id, valid_from, module_id=module_id,
                                   minimum_age=minimum_age))  # fmt: skip
    return facts


def report_catalogue(corona_intro: int = 3, corona_abrusco: int = 2, class_actions: int = 10) -> list[dict[str, Any]]:
    """The 2019-2020 providers as submissions, in the order a desk would register them."""
    both = ["primary", "secondary"]
    return [
        *module("tigo", "therapeutic-day-care", "therapeutic_day_care", both, 12),
        provider_fact("ProviderCapacitySet", "tigo", "2020-01-01", module_id="therapeutic-day-care", capacity=9),
        provider_fact("ProviderReachabilitySet", "tigo", "2020-01-01", reachable_via_desk=False),
        *module("frambozenhof", "day-care", "day_care", both, 3),
        *module("huppeldepup", "day-care", "day_care", both, 2, minimum_age=10),
        *module("joert", "day-care", "day_care", both, 2, minimum_age=10),
        *module("abrusco", "individual", "individual", ["secondary"], 13),
        *module("groep-intro", "individual", "individual", ["secondary"], 12),
        *module("groep-intro", "corona", "other", both, corona_intro, valid_from="2020-04-20"),
        *module("abrusco", "corona", "other", both, corona_abrusco, valid_from="2020-04-20"),
        *module("abrusco", "class-action", "class_action", both, class_actions),
        *module("groep-intro", "class-action", "class_action", ["secondary"], class_actions),
        provider_fact("ProviderAcceptingReferralsSet", "abrusco", EASTER_MONDAY, module_id="class-action",
                      accepting=False, valid_until="2020-08-31"),
        provider_fact("ProviderAcceptingReferralsSet", "groep-intro", EASTER_MONDAY, module_id="class-action",
                      accepting=False, valid_until="2020-08-31"),
    ]  # fmt: skip


def sealed(submissions: list[dict[str, Any]], recorded_at: datetime = NOW) -> list[Envelope]:
    return [seal(SUBMISSION_ADAPTER.validate_python(s), recorded_at, TEST_PUPIL_SECRET, TEST_VAULT)
            for s in submissions]


def at(day_text: str, time: str = "10:00") -> str:
    """A moment of that day in Brussels (summer or winter time)."""
    moment = datetime.fromisoformat(f"{day_text}T{time}:00+01:00")
    summer = date(moment.year, 3, 25) <= moment.date() < date(moment.year, 10, 25)
    return f"{day_text}T{time}:00{'+02:00' if summer else '+01:00'}"


def referral(rid: str, on: str, offer_type: str = "regular", level: str = "secondary",
             born: tuple[int, int] = (2005, 3), **overrides: Any) -> dict[str, Any]:  # fmt: skip
    payload = {"referral_id": rid, "pupil_id": f"LARS-PUPIL-{rid}", "channel": "lars", "referrer_id": "clb-brussel-1",
               "offer_type": offer_type, "level": level, "gender": "boy", "birth_year": born[0],
               "birth_month": born[1], **overrides}  # fmt: skip
    return submission("ReferralSubmitted", payload, at(on, "09:00"), f"ref:{rid}", "lars", schema_version=2)


def round_table(rid: str, on: str, trajectories: int = 1) -> dict[str, Any]:
    payload = {"referral_id": rid, "round_table_id": f"RT-{rid}", "outcomes": ["trajectories_to_start"],
               "trajectories_to_start": trajectories}  # fmt: skip
    return submission("RoundTableHeld", payload, at(on, "11:00"), f"rt:{rid}")


def ended(event_type: str, rid: str, tid: str, on: str, **payload: Any) -> dict[str, Any]:
    reason = {"TrajectoryStoppedEarly": {"reason": "pupil_drops_out"}, "TrajectoryClosed": {
        "perspective": "back_full_time_current_school"}, "TrajectoryNotStarted": {"reason": "pupil_unwilling"}}
    body = {"referral_id": rid, "trajectory_id": tid, **reason[event_type], **payload}
    return submission(event_type, body, at(on, "15:00"), f"{event_type}:{tid}", "provider_portal")


def withdrawn(rid: str, on: str) -> dict[str, Any]:
    payload = {"referral_id": rid, "kind": "withdrawn", "reason": "no_longer_needed"}
    return submission("ReferralWithdrawn", payload, at(on, "12:00"), f"withdrawn:{rid}", "lars", schema_version=2)


def decision(rid: str, tid: str, provider: str, module: str, on: str, proposal_id: str | None,
             override_reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The desk's TrajectoryDispatched (version 2): on a proposal (confirmed, or overridden with a reason), or without
    one (proposal_id None: a dispatch decided outside the dispatch service)."""
    payload = {"referral_id": rid, "trajectory_id": tid, "provider_id": provider, "module_id": module,
               "offer_type": "regular", "proposal_id": proposal_id,
               "overridden": None if proposal_id is None else override_reason is not None,
               "override_reason": override_reason}  # fmt: skip
    return submission("TrajectoryDispatched", payload, at(on, "14:00"), f"dispatched:{tid}", schema_version=2)


def day(text: str) -> date:
    return date.fromisoformat(text)


def group_referral(grid: str, on: str, preferred: str | None = None, module: str = "class_action",
                   level: str = "secondary", groups: int = 1) -> dict[str, Any]:  # fmt: skip
    """A group referral (the group tool) of `groups` class groups asking for `module`, naming `preferred` or not."""
    payload = {"group_referral_id": grid, "channel": "lars", "referrer_id": "clb-brussel-1", "groups": [
        {"group_id": f"{grid}-{n}", "school_id": "school-0421", "level": level, "group_kind": "class_group",
         "pupil_count": 20, "requested_module": module, "preferred_provider_id": preferred}
        for n in range(groups)]}  # fmt: skip
    return submission("GroupReferralSubmitted", payload, at(on, "09:30"), f"group:{grid}", "group_referral_tool")


def group_decision(grid: str, group_id: str, gtid: str, provider: str, on: str, proposal_id: str | None,
                   module: str = "class_action") -> dict[str, Any]:  # fmt: skip
    payload = {"group_referral_id": grid, "group_id": group_id, "group_trajectory_id": gtid, "provider_id": provider,
               "module": module, "proposal_id": proposal_id, "overridden": None if proposal_id is None else False}
    return submission("GroupTrajectoryDispatched", payload, at(on, "14:00"), f"group-dispatched:{gtid}",
                      schema_version=2)  # fmt: skip
