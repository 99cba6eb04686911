"""Pure rule: the provider catalogue as it held on a day. A provider's facts (modules offered and withdrawn, capacity,
minimum age, accepting referrals, reachable via the desk) are folded into one JSON record per provider, each fact
kept under the day it holds from (`valid_from`), so the catalogue of any past day can be read back: replaying 2019-2020
gives Tigo 12 places in December and 9, out of the desk's reach, in January.

A fact for a module beats a fact for the whole provider (module_id null) from the same day; otherwise the fact with
the latest `valid_from` on or before the day holds. Folding a fact twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.envelope import Envelope

ALL_MODULES = "*"
PROVIDER_FACTS = frozenset({
    "ModuleOffered", "ModuleWithdrawn", "ProviderCapacitySet", "ProviderMinimumAgeSet",
    "ProviderAcceptingReferralsSet", "ProviderReachabilitySet", "ProviderTravelRegionSet",
})  # fmt: skip


@dataclass(frozen=True)
class ModuleOnDay:
    """One provider's module as the catalogue held it on a day: what the dispatch rules read."""

    provider_id: str
    module_id: str
    kind: str | None  # None: never offered (only other facts about it are known)
    levels: tuple[str, ...]
    offered: bool
    offered_from: date | None
    withdrawn_from: date | None
    capacity: int | None
    minimum_age: int
    minimum_age_from: date | None
    accepting: bool
    accepting_from: date | None
    accepting_until: date | None
    reachable: bool
    reachable_from: date | None
    regions: tuple[str, ...] | None = None  # communes of residence it takes pupils from; None: anywhere
    regions_from: date | None = None

    @property
    def place(self) -> str:
        return place_key(self.provider_id, self.module_id)


def place_key(provider_id: str, module_id: str) -> str:
    return f"{provider_id}|{module_id}"


def empty_record(provider_id: str) -> dict[str, Any]:
    return {"provider_id": provider_id, "modules": {}, "capacity": {}, "minimum_age": {}, "accepting": {},
            "reachable": {}, "regions": {}}  # fmt: skip


def _put(record: dict[str, Any], fact: str, scope: str, valid_from: date, value: Any) -> dict[str, Any]:
    by_scope = dict(record.get(fact, {}))  # a record kept before the fact existed has none
    by_scope[scope] = {**by_scope.get(scope, {}), valid_from.isoformat(): value}
    return {**record, fact: by_scope}


def fold_fact(record: dict[str, Any], event: Envelope) -> dict[str, Any]:
    """The provider's record with one provider fact applied (the record of `event.stream_id`)."""
    p: Any = event.payload
    scope = getattr(p, "module_id", None) or ALL_MODULES
    if event.event_type == "ModuleOffered":
        return _put(record, "modules", p.module_id, p.valid_from, {"kind": p.kind, "levels": list(p.levels)})
    if event.event_type == "ModuleWithdrawn":
        return _put(record, "modules", p.module_id, p.valid_from, None)
    if event.event_type == "ProviderCapacitySet":
        return _put(record, "capacity", p.module_id, p.valid_from, p.capacity)
    if event.event_type == "ProviderMinimumAgeSet":
        return _put(record, "minimum_age", scope, p.valid_from, p.minimum_age)
    if event.event_type == "ProviderAcceptingReferralsSet":
        until = None if p.valid_until is None else p.valid_until.isoformat()
        return _put(record, "accepting", scope, p.valid_from, [p.accepting, until])
    if event.event_type == "ProviderReachabilitySet":
        return _put(record, "reachable", scope, p.valid_from, p.reachable_via_desk)
    if event.event_type == "ProviderTravelRegionSet":
        regions = None if p.municipalities is None else sorted(p.municipalities)
        return _put(record, "regions", scope, p.valid_from, regions)
    return record


def _applicable(by_day: dict[str, Any], day: date, *, windowed: bool = False) -> tuple[date, Any] | None:
    """The fact with the latest valid_from on or before `day` (windowed: whose valid_until, if any, is not past)."""
    best: tuple[date, Any] | None = None
    for start, value in by_day.items():
        since = date.fromisoformat(start)
        if since > day or (windowed and value[1] is not None and date.fromisoformat(value[1]) < day):
            continue
        if best is None or since > best[0]:
            best = (since, value)
    return best


def _scoped(record: dict[str, Any], fact: str, module_id: str, day: date, windowed: bool = False) -> Any:
    """The fact holding for `module_id` on `day`: its own, or the whole provider's, the later one winning."""
    own = _applicable(record.get(fact, {}).get(module_id, {}), day, windowed=windowed)
    provider = _applicable(record.get(fact, {}).get(ALL_MODULES, {}), day, windowed=windowed)
    if own is None:
        return provider
    return provider if provider is not None and provider[0] > own[0] else own


def module_on(record: dict[str, Any], module_id: str, day: date) -> ModuleOnDay:
    offers = record["modules"].get(module_id, {})
    offer = _applicable(offers, day)
    ever = [v for _, v in sorted(offers.items()) if v is not None]
    shape = offer[1] if offer is not None and offer[1] is not None else (ever[-1] if ever else None)
    capacity = _applicable(record["capacity"].get(module_id, {}), day)
    minimum_age = _scoped(record, "minimum_age", module_id, day)
    accepting = _scoped(record, "accepting", module_id, day, windowed=True)
    reachable = _scoped(record, "reachable", module_id, day)
    regions = _scoped(record, "regions", module_id, day)
    offered = offer is not None and offer[1] is not None
    return ModuleOnDay(
        provider_id=record["provider_id"], module_id=module_id,
        kind=None if shape is None else shape["kind"], levels=() if shape is None else tuple(shape["levels"]),
        offered=offered, offered_from=offer[0] if offered and offer else None,
        withdrawn_from=offer[0] if offer is not None and not offered else None,
        capacity=None if capacity is None else int(capacity[1]),
        minimum_age=0 if minimum_age is None else int(minimum_age[1]),
        minimum_age_from=None if minimum_age is None else minimum_age[0],
        accepting=True if accepting is None else bool(accepting[1][0]),
        accepting_from=None if accepting is None else accepting[0],
        accepting_until=None if accepting is None or accepting[1][1] is None else date.fromisoformat(accepting[1][1]),
        reachable=True if reachable is None else bool(reachable[1]),
        reachable_from=None if reachable is None else reachable[0],
        regions=None if regions is None or regions[1] is None else tuple(regions[1]),
        regions_from=None if regions is None else regions[0],
    )  # fmt: skip


def kind_of(record: dict[str, Any], module_id: str) -> str | None:
    """The kind the module was last offered as (whenever), None if it never was."""
    shapes = [v for _, v in sorted(record["modules"].get(module_id, {}).items()) if v is not None]
    return None if not shapes else str(shapes[-1]["kind"])


def modules_on(records: Iterable[dict[str, Any]], day: date,
               fits: Callable[[str, str], bool] = lambda kind, module_id: True) -> list[ModuleOnDay]:  # fmt: skip
    """The modules of every provider on `day` whose kind and id `fits` (offered or not: the rules say why one is
    not a candidate), ordered by provider and module."""
    found = []
    for record in records:
        for module_id in record["modules"]:
            kind = kind_of(record, module_id)
            if kind is not None and fits(kind, module_id):
                found.append(module_on(record, module_id, day))
    return sorted(found, key=lambda m: (m.provider_id, m.module_id))
