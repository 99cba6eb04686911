"""What the generators of one region-year share (`YearContext`), and what a region carries from one school year
into the next (`RegionState`): carried-over trajectories and pupils who will be referred again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kans.synthetic.calendar import DAY, SchoolCalendar, office_time, stamp_of
from kans.synthetic.capacity import Places
from kans.synthetic.events import Emitter, Ids
from kans.synthetic.params import CrisisParams, YearParams
from kans.synthetic.profiles import Pupil
from kans.synthetic.providers import Module, ProviderYear, region_provider

BRUSSELS_CLBS = ("clb-go-brussel", "clb-vrij-brussel-noord", "clb-vrij-brussel-zuid", "clb-brussel-1",
                 "clb-brussel-2")  # fmt: skip
EXTERNAL_CLBS = ("clb-kompas-mechelen", "clb-halle-vilvoorde", "clb-pajottenland", "clb-vlaams-brabant-oost")


@dataclass(slots=True)
class CarriedTrajectory:
    """A trajectory closed at the year's end with perspective `continues_next_year`: it goes on next year."""

    pupil: Pupil
    referral_id: str
    trajectory_id: str
    module: Module
    remaining_days: int


@dataclass
class RegionState:
    """One region's memory between school years."""

    pupil_serial: int = 0
    carried: list[CarriedTrajectory] = field(default_factory=list)
    returning: list[Pupil] = field(default_factory=list)  # referred again next year (not carried over)
    households: dict[str, dict[str, Any]] = field(default_factory=dict)  # postcode -> the latest new address there

    def carry(self, trajectory: CarriedTrajectory) -> None:
        """Remember a carried-over trajectory; its pupil comes back through it, not as a separate re-referral."""
        self.carried.append(trajectory)
        self.returning = [p for p in self.returning if p is not trajectory.pupil]

    def next_pupil_serial(self) -> int:
        self.pupil_serial += 1
        return self.pupil_serial


@dataclass
class YearContext:
    """One region in one school year: parameters, calendar, providers and their places, and the event buffer."""

    params: YearParams
    rng: random.Random
    calendar: SchoolCalendar
    providers: ProviderYear
    emitter: Emitter
    ids: Ids
    volume: float  # this region's share of the scale (1.0 = Brussels 2019-2020)
    state: RegionState
    places: dict[tuple[str, str], Places] = field(default_factory=dict)
    referral_serial: int = 0

    @property
    def start_year(self) -> int:
        return self.params.start_year

    @property
    def crisis(self) -> CrisisParams | None:
        return self.params.crisis

    @property
    def crisis_stamp(self) -> int | None:
        return None if self.crisis is None else stamp_of(self.crisis.start)

    @property
    def close_stamp(self) -> int:
        """The administrative close of the year: every running trajectory ends here (16:00)."""
        return stamp_of(self.calendar.close_day, 960)

    @property
    def year_end_stamp(self) -> int:
        return stamp_of(self.calendar.last_day, 1050)  # 31 August, 17:30

    def clamp_to_year(self, stamp: int, after: int | None = None) -> int:
        """`stamp`, but not after the school year's last day (and, given `after`, still later than that)."""
        stamp = min(stamp, self.year_end_stamp)
        return stamp if after is None or stamp > after else after + 1

    def provider_id(self, module: Module) -> str:
        return region_provider(module.provider_id, self.ids.region)

    def places_of(self, module: Module) -> Places:
        key = (module.provider_id, module.module_id)
        if key not in self.places:
            steps = [(stamp_of(day), capacity) for day, capacity in self.providers.capacity_steps(module)]
            self.places[key] = Places(steps)
        return self.places[key]

    def next_referral_id(self, group: bool = False) -> str:
        self.referral_serial += 1
        make = self.ids.group_referral if group else self.ids.referral
        return make(self.start_year, self.referral_serial)

    def clb(self, external: bool = False) -> str:
        return self.ids.clb(self.rng.choice(EXTERNAL_CLBS if external else BRUSSELS_CLBS))

    def day_between(self, first: date, last: date, power: float = 1.0) -> int:
        """A working-day office stamp between two days; power < 1 leans towards the end of the period."""
        span = (last - first).days
        return office_time(self.rng, (first + timedelta(days=int(span * self.rng.random() ** power))).toordinal())


def age_at(pupil: Pupil, stamp: int) -> int:
    """Age in whole years on the day of `stamp` (birth month only: the 1st of that month counts as birthday)."""
    day = date.fromordinal(stamp // DAY)
    return day.year - pupil.birth_year - (1 if day.month < pupil.birth_month else 0)
