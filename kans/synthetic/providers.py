"""The provider network of the desk (DOMAIN §7, report tables 8 and 9) and how it changes over time.

`CATALOGUE` is data: each module with its capacity, who it serves, how intense and how long its trajectories are
and how often the desk chooses it. `ProviderYear` turns it into one school year's facts (as provider events,
emitted by `events_for_year`) and answers the dispatch rules' questions: which modules are open on a day for this
pupil, and what capacity holds. Changes over time: Groep INTRO joins in September 2019 (NAFT widening), Abrusco
withdraws its individual primary module then, Tigo goes from 12 to 9 places and out of the desk's reach on
1 January 2020, class actions are not accepted after Easter, the corona offer opens in a crisis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from kans.synthetic.calendar import DAY

ALL_LEVELS = ("primary", "secondary")
NAFT_WIDENING = date(2019, 9, 1)
TIGO_CHANGE = date(2020, 1, 1)
Emit = Callable[[int, str, str, dict[str, Any]], None]  # (stamp, event type, ref, payload)


@dataclass(frozen=True, eq=False)  # identity: each module object is unique, and `in` stays fast
class Module:
    provider_id: str
    module_id: str
    kind: str  # module_kind code
    name: str
    levels: tuple[str, ...]
    capacity: int  # concurrent trajectories (groups for group modules) at scale 1
    weights: tuple[float, float, float] = (0, 0, 0)  # how often chosen: primary, secondary, part-time (L&W)
    half_days: tuple[float, ...] = (1, 2)  # dagdelen per week the module runs
    weeks: tuple[int, int] = (6, 16)  # duration range
    offer: str = "regular"  # regular | corona | group
    minimum_age: int | None = None
    since: date | None = None
    until: date | None = None  # withdrawn from this day
    patience_days: int = 60  # how long the desk waits for a place before giving up (not started: capacity)
    day_care: bool = False  # a place outside Brussels: only where travel is feasible


PROVIDERS: dict[str, tuple[str, str | None]] = {  # id -> (public name, postcode)
    "abrusco": ("Abrusco", "1080"), "groep-intro": ("Groep INTRO", "1000"), "tigo": ("Tigo", "1090"),
    "try-out": ("Try-out", "1000"), "tito": ("Tito", "1200"), "frambozenhof": ("'t FramboZENHOF", "1770"),
    "wereld-van-indra": ("De Wereld van Indra", "1840"), "huppeldepup": ("Zorgboerderij Huppeldepup", "1851"),
    "joert": ("Joert", "1750"), "hoeve-heierveld": ("Hoeve Heierveld", None), "groene-zorg": ("Groene zorg", None),
    "atelier-groot-eiland": ("Atelier Groot Eiland", "1080"),
}  # fmt: skip
_S, _SO, _P = ("secondary",), ("secondary",), ("primary",)
CATALOGUE: tuple[Module, ...] = (
    Module("abrusco", "individual", "individual", "Individueel traject", _SO, 13, (0, 54, 10), (1, 1, 2)),
    Module("abrusco", "individual-primary", "individual", "Individueel traject basisonderwijs", _P, 2, (1, 0, 0),
           (1, 2), (8, 20), until=NAFT_WIDENING),
    Module("abrusco", "group-offer", "group_offer", "Groepsaanbod Weer-Staan", _S, 8, (0, 15, 3), (1,), (5, 5)),
    Module("abrusco", "workplace-learning", "workplace_learning", "Leerplekleren", _S, 4, (0, 5, 4), (2, 4, 6)),
    Module("abrusco", "coach-op-school", "school_coach", "Coach op school", _S, 3, (0, 2, 0), (1, 2), (4, 10)),
    Module("groep-intro", "individual", "individual", "Individueel traject", _S, 12, (0, 44, 18), (1, 2),
           since=NAFT_WIDENING),
    Module("groep-intro", "group-formation", "group_offer", "Groepsvorming", _S, 10, (0, 20, 45), (4, 6, 6),
           (4, 12), since=NAFT_WIDENING),
    Module("groep-intro", "diverse-learning", "workplace_learning", "Divers leren", _S, 4, (0, 8, 6), (2, 4, 6),
           since=NAFT_WIDENING),
    Module("groep-intro", "long-break", "short_trajectory", "Long Break", _S, 3, (0, 7, 6), (8, 10), (2, 6),
           since=NAFT_WIDENING),
    Module("tigo", "therapeutic-day-care", "therapeutic_day_care", "Therapeutische dagopvang", ALL_LEVELS, 12,
           (11, 1, 0), (2,), (16, 40), patience_days=150),
    Module("try-out", "five-week", "short_trajectory", "Vijfweekse trajecten", _S, 4, (0, 10, 3), (4, 6, 8), (5, 5)),
    Module("tito", "autism", "autism_support", "Begeleiding leerlingen met autisme", _S, 3, (0, 8, 1), (2, 4),
           (8, 24)),
    Module("frambozenhof", "day-care", "day_care", "Dagbesteding", ALL_LEVELS, 3, (6, 3, 1), (2,), (12, 30),
           day_care=True),
    Module("wereld-van-indra", "day-care", "day_care", "Dagbesteding", ALL_LEVELS, 2, (2, 1, 0), (2,), (12, 30),
           day_care=True),
    Module("huppeldepup", "day-care", "day_care", "Zorgboerderij", ALL_LEVELS, 2, (2, 1, 0), (2,), (12, 30),
           minimum_age=10, day_care=True),
    Module("joert", "day-care", "day_care", "Dagbesteding", ALL_LEVELS, 2, (1, 2, 1), (2,), (12, 30),
           minimum_age=10, day_care=True),
    Module("hoeve-heierveld", "day-care", "day_care", "Dagbesteding", _S, 1, (0, 1, 1), (2,), (12, 30),
           day_care=True),
    Module("groene-zorg", "day-care", "day_care", "Groene zorg", _S, 2, (0, 4, 2), (2,), (12, 30), day_care=True),
    Module("atelier-groot-eiland", "atelier", "day_care", "Atelier", _S, 2, (0, 2, 2), (2, 4), (8, 20)),
    Module("groep-intro", "corona", "other", "Corona-aanbod", ALL_LEVELS, 60, offer="corona", half_days=(1, 2),
           weeks=(3, 9), since=NAFT_WIDENING, patience_days=10),
    Module("abrusco", "corona", "other", "Corona-aanbod", ALL_LEVELS, 20, offer="corona", half_days=(1, 2),
           weeks=(3, 9), patience_days=10),
    # Group modules (report table 9): capacity = groups worked with at the same time.
    Module("abrusco", "class-action", "class_action", "Klasactie", ALL_LEVELS, 10, offer="group", weeks=(4, 10)),
    Module("abrusco", "theme-workshop", "theme_workshop", "Themawerking", ALL_LEVELS, 24, offer="group",
           weeks=(1, 1)),
    Module("abrusco", "restorative", "restorative", "Herstel", ALL_LEVELS, 3, offer="group", weeks=(2, 8)),
    Module("abrusco", "school-composed-group", "group_offer", "Zelf samengestelde groep Weer-Staan", ALL_LEVELS, 2,
           offer="group", weeks=(4, 10)),
    Module("groep-intro", "class-action", "class_action", "Klasactie", _S, 4, offer="group", weeks=(4, 10),
           since=NAFT_WIDENING),
    Module("groep-intro", "restorative", "restorative", "Herstel", _S, 1, offer="group", weeks=(2, 8),
           since=NAFT_WIDENING),
)  # fmt: skip
MODULES: dict[tuple[str, str], Module] = {(m.provider_id, m.module_id): m for m in CATALOGUE}
GROUP_MODULE_IDS = {"class_action": "class-action", "theme_workshop": "theme-workshop", "restorative": "restorative",
                    "school_composed_group": "school-composed-group"}  # fmt: skip


# Day-care farms outside Brussels that a pupil can reach only from some communes (public transport): Joert in Lennik
# from the west of Brussels, Huppeldepup in Humbeek from the north (and from outside the region, by car).
_WEST = ("anderlecht", "berchem_sainte_agathe", "forest", "koekelberg", "molenbeek_saint_jean", "outside_brussels")
_NORTH = ("brussels_city", "evere", "ganshoren", "jette", "schaerbeek", "outside_brussels")
TRAVEL_REGIONS: dict[str, tuple[str, ...]] = {"joert": _WEST, "huppeldepup": _NORTH}


def region_provider(provider_id: str, region: int) -> str:
    """Scale above 1 simulates several desks, each with its own providers: region 0 keeps the real ids."""
    return provider_id if region == 0 else f"{provider_id}-r{region}"


def base_provider(provider_id: str) -> str:
    head, _, tail = provider_id.rpartition("-r")
    return head if head and tail.isdigit() else provider_id


class ProviderYear:
    """The facts of one school year for one region: which modules are open when, and their capacities."""

    def __init__(self, start_year: int, easter: date, capacity_factor: float,
                 corona: tuple[date, date] | None) -> None:  # fmt: skip
        self.first_day, self.last_day = date(start_year, 9, 1), date(start_year + 1, 8, 31)
        self.easter_monday = date.fromordinal(easter.toordinal() + 1)
        self.corona = corona
        self.modules = [m for m in CATALOGUE if self._exists(m) and (m.offer != "corona" or corona)]
        self.capacity_factor = capacity_factor

    def _exists(self, module: Module) -> bool:
        return (module.since is None or module.since <= self.last_day) and (
            module.until is None or module.until > self.first_day
        )

    def capacity_steps(self, module: Module) -> list[tuple[date, int]]:
        """(from day, capacity) of the module in this year, scaled."""
        factor = self.capacity_factor * (
            1.6 if module.provider_id == "abrusco" and self.first_day < NAFT_WIDENING else 1
        )
        base = max(1, round(module.capacity * factor))  # Abrusco held every NAFT place until Groep INTRO came
        steps = [(self.first_day, base)]
        if module.provider_id == "tigo" and self.first_day < TIGO_CHANGE <= self.last_day:
            steps.append((TIGO_CHANGE, max(1, round(9 * self.capacity_factor))))
        elif module.provider_id == "tigo" and self.first_day > TIGO_CHANGE:
            steps = [(self.first_day, max(1, round(9 * self.capacity_factor)))]
        return steps

    def open_on(self, module: Module, day: date) -> bool:
        """Offered, reachable via the desk and accepting referrals on `day`."""
        if (module.since and day < module.since) or (module.until and day >= module.until):
            return False
        if module.provider_id == "tigo" and day >= TIGO_CHANGE:
            return False  # only via youth care's access gate from 1 January 2020
        if module.offer == "corona":
            return self.corona is not None and self.corona[0] <= day <= self.corona[1]
        return not (module.module_id == "class-action" and day >= self.easter_monday)

    def continues_next_year(self, module: Module) -> bool:
        """Can a trajectory in `module` be carried over into the next school year (still offered, via the desk)?"""
        next_first = date(self.last_day.year, 9, 1)
        return (
            module.offer == "regular"
            and self.open_on(module, next_first)
            and (module.since is None or module.since <= next_first)
        )

    def candidates(self, offer: str, level: str, part_time: bool, age: int, travel_ok: bool,
                   day: date) -> list[tuple[Module, float]]:  # fmt: skip
        """The modules the desk may dispatch this pupil to on `day`, with their choice weights."""
        column = 0 if level == "primary" else 2 if part_time else 1
        result = []
        for module in self.modules:
            if module.offer != offer or level not in module.levels or not self.open_on(module, day):
                continue
            if (module.minimum_age and age < module.minimum_age) or (module.day_care and not travel_ok):
                continue
            weight = 1.0 if offer == "corona" else module.weights[column]
            if weight > 0:
                result.append((module, weight))
        return result


def _joined(provider_id: str, origin_day: date) -> date:
    """The day a provider joins the network: its first regular module's start, not before the origin."""
    starts = [m.since or origin_day for m in CATALOGUE if m.provider_id == provider_id and m.offer != "corona"]
    return max(origin_day, min(starts))


def provider_events(year: ProviderYear, origin_day: date, region: int, emit: Emit) -> None:
    """Every provider fact of the year as events: registrations and modules offered when a provider joins (or at
    the origin), capacities from the first day (and the Tigo change), minimum ages, class actions closed after
    Easter, Tigo out of reach, the corona offer opened and withdrawn, modules withdrawn."""

    def fact(
        event_type: str, ref: str, provider_id: str, valid_from: date, shift_days: int = 0, **payload: Any
    ) -> None:
        stamp = (valid_from.toordinal() - shift_days) * DAY + 450  # 07:30, before the day's office work
        emit(stamp, event_type, ref, {"provider_id": provider_id, **payload, "valid_from": valid_from.isoformat()})

    first, last = year.first_day, year.last_day
    for provider_id, (name, postcode) in PROVIDERS.items():
        if first <= (joined := _joined(provider_id, origin_day)) <= last:
            pid = region_provider(provider_id, region)
            fact("ProviderRegistered", f"registered:{pid}", pid, joined, name=name, postcode=postcode)
    for module in year.modules:
        pid, mid = region_provider(module.provider_id, region), module.module_id
        offered = year.corona[0] if module.offer == "corona" and year.corona else max(module.since or origin_day,
                                                                                      origin_day)  # fmt: skip
        if first <= offered <= last:
            fact("ModuleOffered", f"offered:{pid}:{mid}:{offered}", pid, offered, module_id=mid, kind=module.kind,
                 name=module.name, levels=list(module.levels))  # fmt: skip
            if module.minimum_age:
                fact("ProviderMinimumAgeSet", f"minimum-age:{pid}:{mid}:{offered}", pid, offered, module_id=mid,
                     minimum_age=module.minimum_age)  # fmt: skip
            if module.provider_id in TRAVEL_REGIONS:
                fact("ProviderTravelRegionSet", f"travel-region:{pid}:{mid}:{offered}", pid, offered, module_id=mid,
                     municipalities=list(TRAVEL_REGIONS[module.provider_id]))  # fmt: skip
        for day, capacity in year.capacity_steps(module):
            valid_from = max(day, offered)
            fact("ProviderCapacitySet", f"capacity:{pid}:{mid}:{valid_from}", pid, valid_from,
                 0 if valid_from == first else 14, module_id=mid, capacity=capacity)  # fmt: skip
        if module.offer == "corona" and year.corona:
            _withdraw(emit, pid, module, date.fromordinal(year.corona[1].toordinal() + 1))
        if mid == "class-action":  # the message every year: no class actions after Easter
            fact("ProviderAcceptingReferralsSet", f"closed-after-easter:{pid}:{mid}:{first.year}", pid,
                 year.easter_monday, 14, module_id=mid, accepting=False, valid_until=last.isoformat())  # fmt: skip
    for module in CATALOGUE:  # a module ending on a year's first day was offered in the years before
        if module.until and first <= module.until <= last and module.until > origin_day:
            _withdraw(emit, region_provider(module.provider_id, region), module, module.until)
    if first <= TIGO_CHANGE <= last:
        pid = region_provider("tigo", region)
        fact("ProviderReachabilitySet", f"reachability:{pid}:{TIGO_CHANGE}", pid, TIGO_CHANGE, 31,
             reachable_via_desk=False)  # fmt: skip


def _withdraw(emit: Emit, provider_id: str, module: Module, day: date) -> None:
    emit(
        day.toordinal() * DAY + 450,
        "ModuleWithdrawn",
        f"withdrawn:{provider_id}:{module.module_id}:{day}",
        {"provider_id": provider_id, "module_id": module.module_id, "valid_from": day.isoformat()},
    )
