"""The generator: complete, deterministic event histories (as submissions) of a range of school years, lazily.

Years are simulated one after the other from the origin, because a year starts with what the previous one carried
over. At scale N > 1 the run simulates N desks ("regions") of Brussels' size side by side, each with its own
providers, CLBs, schools and pupils (scale 0.5 is one region at half the volume, capacities included). A region's
year is built in memory (a few thousand events at most), sorted and handed out, so memory stays flat whatever the
scale and the number of years: submissions come out in time order per region-year (per school year at scale <= 1),
and in causal order per stream always. Years before the first emitted one are simulated silently; their provider
facts are emitted all the same, so a replay knows the provider network from the origin on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date
from functools import partial
from typing import Any

from kans.synthetic import groups, individual, lifecycle
from kans.synthetic.calendar import Clock, SchoolCalendar, stamp_of
from kans.synthetic.coaching import coaching_events
from kans.synthetic.context import RegionState, YearContext
from kans.synthetic.events import DESK, STREAM_FIELD, Emitter, Ids
from kans.synthetic.params import GeneratorParams, YearParams, derived_seed
from kans.synthetic.providers import ProviderYear, provider_events

PROVIDER_EVENTS = frozenset(t for t, stream in STREAM_FIELD.items() if stream == "provider_id")


def regions_of(scale: float) -> tuple[int, float]:
    """How many regions a scale needs, and each one's volume (1.0 = Brussels in 2019-2020)."""
    regions = max(1, math.ceil(scale - 1e-9))
    return regions, scale / regions


def generate(params: GeneratorParams, today: date | None = None) -> Iterator[dict[str, Any]]:
    """Every submission of the run, none after `today` (events still to come are simply not there yet)."""
    for chunk in generate_chunks(params, today):
        yield from chunk


def generate_chunks(params: GeneratorParams, today: date | None = None) -> Iterator[list[dict[str, Any]]]:
    """The run's submissions per region-year, each list in time order (spreadsheet exports group by these)."""
    regions, volume = regions_of(params.scale)
    states = [RegionState() for _ in range(regions)]
    origin = date(int(params.simulated_years[0][:4]), 9, 1)
    until = None if today is None else stamp_of(today, 1439)
    clock = Clock()
    for school_year in params.simulated_years:
        year = params.year(school_year)
        if today is not None and date(year.start_year, 9, 1) > today:
            return
        calendar = SchoolCalendar(year.start_year)
        emitted = school_year in params.years
        for region in range(regions):
            emitter = Emitter(params.id_namespace, params.source_system, clock)
            ctx = _context(params, year, calendar, region, volume, states[region], emitter)
            provider_events(ctx.providers, origin, region, partial(_as_desk, emitter))
            coaching_events(ctx.providers, region, partial(_as_desk, emitter))
            lifecycle.run(ctx, individual.intake(ctx))
            if emitted:
                groups.intake(ctx)
                yield emitter.drain(until)
            else:
                yield [s for s in emitter.drain(until) if s["event_type"] in PROVIDER_EVENTS]


def _as_desk(emitter: Emitter, stamp: int, event_type: str, ref: str, payload: dict[str, Any]) -> None:
    emitter.add(stamp, event_type, ref, DESK, payload)


def _context(params: GeneratorParams, year: YearParams, calendar: SchoolCalendar, region: int, volume: float,
             state: RegionState, emitter: Emitter) -> YearContext:  # fmt: skip
    crisis = year.crisis
    corona = None if crisis is None else (min(crisis.offer_from_primary, crisis.offer_from_secondary),
                                          crisis.offer_until)  # fmt: skip
    providers = ProviderYear(year.start_year, calendar.easter, year.capacity_factor * volume, corona)
    return YearContext(
        params=year,
        rng=random.Random(derived_seed(year.seed, region)),
        calendar=calendar,
        providers=providers,
        emitter=emitter,
        ids=Ids(params.id_namespace, region),
        volume=volume,
        state=state,
    )
