"""Pure rule: one dispatch decision. Given the trajectory to place, its offer's rules, the catalogue's candidate
modules on the day, their occupancy and the dispatches so far this school year, say what to do (propose a module,
join the waiting lists of the best candidates that are full, or nothing fits) and why: the whole trace.

1. Candidates: the modules whose kind or id fits the offer. None: blocked.
2. Eligibility: every candidate through every eligibility rule; a candidate that fails one is out.
3. The school's named provider, when it can take the placement, is the only one left.
4. Ranking: each ranking rule of the offer, in order, then provider and module id (so the order is total).
5. Capacity: the first ranked candidate with room is proposed; all full: the trajectory waits at each of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from schemas.dispatch import RuleVerdict
from services.dispatch.catalogue import ModuleOnDay
from services.dispatch.rules import (
    ELIGIBILITY,
    RANKING,
    Occupancy,
    Placement,
    capacity,
    has_room,
    named_provider,
    verdict,
)
from services.dispatch.ruleset import Offer

Outcome = Literal["proposal", "waiting", "blocked"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    trace: tuple[RuleVerdict, ...]
    chosen: ModuleOnDay | None = None  # the proposal
    waiting_at: tuple[ModuleOnDay, ...] = ()  # the places it waits for, best first

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(m.place for m in self.waiting_at)


def decide(placement: Placement, offer: Offer, candidates: Sequence[ModuleOnDay], occupancy: Mapping[str, Occupancy],
           counts: Mapping[str, int], day: date) -> Decision:  # fmt: skip
    """The decision for `placement` on `day` (candidates: the modules that fit the offer, see `catalogue.modules_on`;
    occupancy by place key; counts: dispatches this school year by `rules.balance_key_of`)."""
    trace: list[RuleVerdict] = [verdict("candidates", None, "passed" if candidates else "no_candidate",
                                        offer=offer.name, module_kinds=offer.modules.kinds,
                                        module_ids=offer.modules.ids, count=len(candidates))]  # fmt: skip
    eligible: list[ModuleOnDay] = []
    for module in candidates:
        verdicts = [rule(module, placement, day) for rule in ELIGIBILITY]
        trace.extend(verdicts)
        if all(v.verdict == "passed" for v in verdicts):
            eligible.append(module)
    eligible = _named(placement, eligible, trace)
    ranked = _ranked(offer, eligible, counts, trace)
    chosen: ModuleOnDay | None = None
    for module in ranked:
        load = occupancy.get(module.place, Occupancy())
        trace.append(capacity(module, load))
        if has_room(module, load):
            chosen = module
            break
    if chosen is not None:
        trace.append(verdict("decision", chosen, "chosen", rank=ranked.index(chosen) + 1, eligible=len(ranked)))
        return Decision("proposal", tuple(trace), chosen=chosen)
    if ranked:
        trace.append(verdict("decision", None, "waiting_list", eligible=len(ranked)))
        return Decision("waiting", tuple(trace), waiting_at=tuple(ranked))
    trace.append(verdict("decision", None, "no_candidate", candidates=len(candidates), eligible=0))
    return Decision("blocked", tuple(trace))


def _named(placement: Placement, eligible: list[ModuleOnDay], trace: list[RuleVerdict]) -> list[ModuleOnDay]:
    named = placement.named_provider
    if named is None:
        return eligible
    if not any(m.provider_id == named for m in eligible):
        trace.append(verdict("named_provider", None, "not_preferred", named_provider=named, can_take=False))
        return eligible
    verdicts = [named_provider(m, named) for m in eligible]
    trace.extend(verdicts)
    return [m for m, v in zip(eligible, verdicts, strict=True) if v.verdict == "preferred"]


def _ranked(offer: Offer, eligible: list[ModuleOnDay], counts: Mapping[str, int],
            trace: list[RuleVerdict]) -> list[ModuleOnDay]:  # fmt: skip
    keys: dict[str, list[int]] = {m.place: [] for m in eligible}
    for rule in offer.order:
        scored = [(m, *RANKING[rule](m, offer, counts)) for m in eligible]
        best = min((key for _, key, _ in scored), default=0)
        for module, key, facts in scored:
            keys[module.place].append(key)
            extra = {"fewest": best} if rule == "balance" else {}
            trace.append(verdict(rule, module, "preferred" if key == best else "not_preferred", **facts, **extra))
    return sorted(eligible, key=lambda m: (keys[m.place], m.provider_id, m.module_id))
