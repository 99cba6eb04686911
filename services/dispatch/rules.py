"""The dispatch rules, as plain functions over one candidate (a provider's module as the catalogue held it on the
day) and the trajectory to place. Each returns its verdict with the facts it read (`RuleVerdict`, the contract's
trace entry), so a decision can be explained from the log: `explain` turns a verdict into the sentence the desk reads.

Eligibility (every one must pass): module offered, level, minimum age, accepting referrals on the day, reachable via
the desk. Then the school's named provider, if it can take the group, is the only one left. Ranking rules give each
eligible candidate a key (lower first); capacity says whether it has room.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from schemas.dispatch import FactValue, RuleVerdict
from services.dispatch.catalogue import ModuleOnDay
from services.dispatch.ruleset import Offer

UNRANKED = 10_000


@dataclass(frozen=True)
class Placement:
    """A trajectory (or a group) to place, with what the rules read about the pupil (or group) and the referral."""

    trajectory_id: str
    referral_id: str
    offer_type: str
    level: str
    pupil_age: int | None  # at referral; None for a group
    waiting_since: date  # the referral's day
    group_module: str | None = None
    named_provider: str | None = None
    municipality: str | None = None  # the pupil's commune of residence; None or "unknown": not known


@dataclass(frozen=True)
class Occupancy:
    """Trajectories holding a place at a provider's module: dispatched and not ended, and proposed (open)."""

    occupied: int = 0
    proposed: int = 0


def age_at(birth_year: int, birth_month: int, day: date) -> int:
    """Age in whole years on `day` of a pupil born in that month (no birth day is known: the 1st is assumed)."""
    return day.year - birth_year - (1 if day.month < birth_month else 0)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def verdict(rule: str, m: ModuleOnDay | None, outcome: str, **facts: FactValue) -> RuleVerdict:
    return RuleVerdict(rule=rule, provider_id=None if m is None else m.provider_id,
                       module_id=None if m is None else m.module_id, verdict=outcome, facts=facts)  # fmt: skip


def _passed(ok: bool) -> str:
    return "passed" if ok else "excluded"


# -- eligibility -------------------------------------------------------------------------------------------------
def module_offered(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    return verdict("module_offered", m, _passed(m.offered), offered_from=_iso(m.offered_from),
                   withdrawn_from=_iso(m.withdrawn_from), day=day.isoformat())  # fmt: skip


def level(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    return verdict("level", m, _passed(p.level in m.levels), level=p.level, levels=m.levels)


def minimum_age(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    ok = p.pupil_age is None or p.pupil_age >= m.minimum_age
    return verdict("minimum_age", m, _passed(ok), minimum_age=m.minimum_age, pupil_age=p.pupil_age)


def accepting_referrals(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    return verdict("accepting_referrals", m, _passed(m.accepting), accepting=m.accepting,
                   valid_from=_iso(m.accepting_from), valid_until=_iso(m.accepting_until))  # fmt: skip


def reachable_via_desk(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    return verdict("reachable_via_desk", m, _passed(m.reachable), reachable_via_desk=m.reachable,
                   valid_from=_iso(m.reachable_from))  # fmt: skip


def travel_region(m: ModuleOnDay, p: Placement, day: date) -> RuleVerdict:
    """The provider takes pupils from some communes only (travel is feasible): a pupil living elsewhere is excluded;
    a commune not known excludes no one (the desk decides)."""
    known = p.municipality not in (None, "unknown")
    ok = m.regions is None or not known or p.municipality in m.regions
    return verdict("travel_region", m, _passed(ok), municipality=p.municipality, municipalities=m.regions,
                   valid_from=_iso(m.regions_from))  # fmt: skip


ELIGIBILITY: tuple[Callable[[ModuleOnDay, Placement, date], RuleVerdict], ...] = (
    module_offered, level, minimum_age, accepting_referrals, reachable_via_desk, travel_region,
)  # fmt: skip


def named_provider(m: ModuleOnDay, named: str) -> RuleVerdict:
    """The school asked for `named`, which can take the group: it is the only candidate left."""
    return verdict("named_provider", m, "preferred" if m.provider_id == named else "excluded", named_provider=named)


# -- capacity ----------------------------------------------------------------------------------------------------
def has_room(m: ModuleOnDay, load: Occupancy) -> bool:
    return m.capacity is None or load.occupied + load.proposed < m.capacity


def capacity(m: ModuleOnDay, load: Occupancy) -> RuleVerdict:
    """No capacity known: room (the rules cannot say it is full)."""
    return verdict("capacity", m, "has_room" if has_room(m, load) else "full", capacity=m.capacity,
                   occupied=load.occupied, proposed=load.proposed)  # fmt: skip


# -- ranking -----------------------------------------------------------------------------------------------------
def priority_key(m: ModuleOnDay, offer: Offer, counts: Mapping[str, int]) -> tuple[int, dict[str, FactValue]]:
    position = offer.priority.index(m.provider_id) + 1 if m.provider_id in offer.priority else None
    return (UNRANKED if position is None else position), {"position": position, "priority": offer.priority}


def balance_key(m: ModuleOnDay, offer: Offer, counts: Mapping[str, int]) -> tuple[int, dict[str, FactValue]]:
    so_far = counts.get(balance_key_of(m.provider_id, m.kind or ""), 0)
    return so_far, {"so_far_this_year": so_far, "module_kind": m.kind}


def kind_order_key(m: ModuleOnDay, offer: Offer, counts: Mapping[str, int]) -> tuple[int, dict[str, FactValue]]:
    kinds = offer.modules.kinds
    position = kinds.index(m.kind) + 1 if m.kind in kinds else None
    return (UNRANKED if position is None else position), {"module_kind": m.kind, "position": position}


RANKING: dict[str, Callable[[ModuleOnDay, Offer, Mapping[str, int]], tuple[int, dict[str, FactValue]]]] = {
    "priority": priority_key, "balance": balance_key, "kind_order": kind_order_key,
}  # fmt: skip


def balance_key_of(provider_id: str, kind: str) -> str:
    """Dispatches of a module kind to a provider in one school year (the balance rule's count)."""
    return f"{provider_id}|{kind}"


# -- explanation -------------------------------------------------------------------------------------------------
def explain(v: RuleVerdict) -> str:
    """The verdict as the desk reads it, e.g. "minimum age 10: pupil is 9 -> excluded"."""
    f, outcome = v.facts, v.verdict.replace("_", " ")
    sentences = {
        "candidates": lambda: f"{f.get('count')} module(s) fit offer {f.get('offer')}",
        "module_offered": lambda: f"module offered on {f.get('day')}: {'yes' if v.verdict == 'passed' else 'no'}",
        "level": lambda: f"level {f.get('level')}, module for {', '.join(f.get('levels') or ())}",  # type: ignore[arg-type]
        "minimum_age": lambda: f"minimum age {f.get('minimum_age')}: "
        + ("a group, no age" if f.get("pupil_age") is None else f"pupil is {f.get('pupil_age')}"),
        "accepting_referrals": lambda: f"accepting referrals: {'yes' if f.get('accepting') else 'no'}"
        + (f" until {f['valid_until']}" if f.get("valid_until") else ""),
        "reachable_via_desk": lambda: f"reachable via the desk: {'yes' if f.get('reachable_via_desk') else 'no'}"
        + (f" from {f['valid_from']}" if f.get("valid_from") else ""),
        "named_provider": lambda: f"the school asked for {f.get('named_provider')}",
        "travel_region": lambda: f"lives in {f.get('municipality') or 'unknown'}, takes pupils from "
        + ("anywhere" if f.get("municipalities") is None else ", ".join(f.get("municipalities") or ())),  # type: ignore[arg-type]
        "priority": lambda: f"priority position {f.get('position') or 'none'} of {', '.join(f.get('priority') or ())}",  # type: ignore[arg-type]
        "balance": lambda: f"{f.get('so_far_this_year')} {f.get('module_kind')} dispatch(es) so far this year, "
        f"fewest {f.get('fewest')}",
        "kind_order": lambda: f"module kind {f.get('module_kind')} is choice {f.get('position') or 'none'}",
        "capacity": lambda: f"capacity {f.get('capacity')}, occupied {f.get('occupied')}, proposed {f.get('proposed')}",
        "decision": lambda: f"rank {f.get('rank')} of {f.get('eligible')} eligible",
    }
    who = f"{v.provider_id}/{v.module_id}: " if v.provider_id else ""
    text = sentences.get(v.rule, lambda: ", ".join(f"{k} {val}" for k, val in f.items()))()
    return f"{who}{text} -> {outcome}"
