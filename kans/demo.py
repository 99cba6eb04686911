"""The demo data: a few school years of synthetic history up to today, through the public ingest API.

A thin wrapper over the generator (`kans.synthetic`). The demo's history is always simulated from the desk's first
school year (2017-2018) with a fixed seed, so a school year's events are the same whichever window is loaded: a
second `kans demo load` (another day, or after 1 September) only adds what is new, never conflicts. Events after
today are not there yet, so running trajectories are open in the live views.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from kans.synthetic.generator import generate
from kans.synthetic.output import DEMO_API_KEY, post_to_ingest
from kans.synthetic.params import GeneratorParams, year_range
from schemas.envelope import school_year_of

DEMO_ORIGIN = "2017-2018"  # KANS' first working year (2019-2020 was its third)
DEMO_SEED = 42

__all__ = ["DEMO_API_KEY", "demo_events", "demo_params", "load_demo"]


def demo_params(today: date, years: int = 3, seed: int = DEMO_SEED, scale: float = 1.0) -> GeneratorParams:
    """The generator run of the demo: the last `years` school years up to `today`, simulated from the origin."""
    last = school_year_of(today)
    first_start = max(int(last[:4]) - years + 1, int(DEMO_ORIGIN[:4]))
    emitted = year_range(f"{first_start}-{first_start + 1}..{last}")
    return GeneratorParams(years=emitted, seed=seed, scale=scale, origin=min(DEMO_ORIGIN, emitted[0]))


def demo_events(today: date, years: int = 3, seed: int = DEMO_SEED) -> Iterator[dict[str, Any]]:
    """Every demo submission with occurred_at on or before `today`, deterministic for a (today, seed)."""
    return generate(demo_params(today, years, seed), today)


def load_demo(ingest_url: str, today: date | None = None, batch: int = 1000) -> dict[str, int]:
    """Post the demo set in batches; returns how many events were created and how many were already there."""
    return post_to_ingest(demo_events(today or date.today()), ingest_url, DEMO_API_KEY, batch)
