"""A small, deterministic demo history (three school years up to today), posted through the public ingest API.

Issue "synthetic school years" replaces this with the full generator; this set exercises the lifecycle core:
provider capacities, referrals, dispatches, starts, not-started, early stops and closures.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from schemas.envelope import school_year_of

# The development key of source system `demo` (infra/dev-api-keys.yaml); a production key file does not know it.
DEMO_API_KEY = "kans-dev-demo"

PROVIDERS = {  # provider -> module -> capacity
    "abrusco": {"individual": 14, "coach-op-school": 8},
    "groep-intro": {"individual": 12, "long-break": 6},
    "tigo": {"day-care": 9},
    "try-out": {"five-week": 6},
    "tito": {"autism": 4},
}
# Referrals per month, September -> August: the carry-over peak, the January peak, a quiet summer.
SEASON = [14, 9, 8, 6, 12, 9, 8, 6, 6, 4, 0, 1]
NOT_STARTED = ["pupil_unwilling", "practical", "provider_capacity", "no_longer_needed", "other_help_started"]
EARLY_STOP = ["pupil_drops_out", "conditions_not_met", "other_help_started", "other"]
PERSPECTIVES = ["back_full_time_current_school", "continues_next_year", "school_change_fresh_start",
                "alternative_learning_path", "youth_care", "unknown"]  # fmt: skip


def _at(day: date, rng: random.Random) -> str:
    moment = datetime(day.year, day.month, day.day, rng.randint(8, 16), rng.choice([0, 15, 30, 45]), tzinfo=UTC)
    return moment.isoformat()


def _submission(kind: str, ref: str, occurred: str, actor: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": occurred, "source_system": "demo", "source_ref": ref,
            "actor": actor, "payload": payload}  # fmt: skip


def demo_events(today: date, years: int = 3, seed: int = 20191) -> Iterator[dict[str, Any]]:
    """Every demo submission with occurred_at on or before `today`, deterministic for a (today, seed)."""
    rng = random.Random(seed)
    first_year = int(school_year_of(today)[:4]) - (years - 1)
    for provider, modules in PROVIDERS.items():
        for module, capacity in modules.items():
            yield _submission("ProviderCapacitySet", f"cap:{provider}:{module}:{first_year}",
                              f"{first_year}-09-01T08:00:00+02:00", "desk:kans",
                              {"provider_id": provider, "module_id": module, "capacity": capacity,
                               "valid_from": f"{first_year}-09-01"})  # fmt: skip
    yield _submission("ProviderCapacitySet", f"cap:tigo:day-care:{first_year}-jan",
                      f"{first_year}-12-15T08:00:00+01:00", "desk:kans",
                      {"provider_id": "tigo", "module_id": "day-care", "capacity": 7,
                       "valid_from": f"{first_year + 1}-01-01"})  # fmt: skip
    slots = [(p, m) for p, modules in PROVIDERS.items() for m in modules]
    for year in range(first_year, first_year + years):
        n = 0
        for month_index, count in enumerate(SEASON):
            month = 9 + month_index if month_index < 4 else month_index - 3
            cal_year = year if month >= 9 else year + 1
            for _ in range(count):
                n += 1
                day = date(cal_year, month, rng.randint(1, 28))
                if day > today:
                    continue
                rid = f"R-{year}-{n:04d}"
                pupil = f"demo-pupil-{rng.randint(1, 400)}"  # the source's pupil id; the ingest derives the key
                offer = "corona" if year == first_year + 1 and month in (5, 6) and rng.random() < 0.5 else "regular"
                clb = f"clb-{rng.choice(['brussel-1', 'brussel-2', 'go-brussel', 'vrij-brussel'])}"
                submitted = _submission("ReferralSubmitted", f"ref:{rid}", _at(day, rng), f"clb:{clb}", {
                    "referral_id": rid, "pupil_id": pupil, "channel": rng.choice(["lars"] * 8 + ["external_clb"]),
                    "referrer_id": clb, "offer_type": offer, "level": rng.choice(["primary", "secondary",
                                                                                  "secondary", "secondary"]),
                    "gender": rng.choice(["boy", "boy", "boy", "girl"]), "birth_year": year - rng.randint(8, 16),
                    "birth_month": rng.randint(1, 12)})  # fmt: skip
                yield {**submitted, "schema_version": 2}
                if rng.random() < 0.15:
                    continue  # advice only: no trajectory
                provider, module = rng.choice(slots)
                tid = f"T-{year}-{n:04d}-1"
                base = {"referral_id": rid, "trajectory_id": tid}
                steps: list[tuple[date, str, dict[str, Any]]] = []
                dispatched = day + timedelta(days=rng.randint(3, 21))
                steps.append(
                    (
                        dispatched,
                        "TrajectoryDispatched",
                        {**base, "provider_id": provider, "module_id": module, "offer_type": offer},
                    )
                )
                started = dispatched + timedelta(days=rng.randint(1, 40))
                roll = rng.random()
                if roll < 0.18:
                    steps.append((started, "TrajectoryNotStarted", {**base, "reason": rng.choice(NOT_STARTED)}))
                else:
                    steps.append((started, "TrajectoryStarted", {**base, "half_days_per_week": rng.choice([1, 2, 3])}))
                    ended = started + timedelta(days=rng.randint(20, 150))
                    if roll < 0.33:
                        steps.append((ended, "TrajectoryStoppedEarly", {**base, "reason": rng.choice(EARLY_STOP)}))
                    else:
                        steps.append((ended, "TrajectoryClosed",
                                      {**base, "perspective": rng.choice(PERSPECTIVES)}))  # fmt: skip
                for when, kind, payload in steps:
                    if when <= today:
                        yield _submission(kind, f"{kind}:{tid}", _at(when, rng), "desk:kans", payload)


def load_demo(ingest_url: str, today: date | None = None, batch: int = 500) -> dict[str, int]:
    """Post the demo set in batches; returns how many events were created and how many were already there."""
    events = list(demo_events(today or date.today()))
    totals = {"events": len(events), "created": 0, "duplicates": 0}
    with httpx.Client(base_url=ingest_url, timeout=60, headers={"X-API-Key": DEMO_API_KEY}) as client:
        for i in range(0, len(events), batch):
            response = client.post("/v1/events/batch", json=events[i : i + batch])
            response.raise_for_status()
            body = response.json()
            totals["created"] += body["created"]
            totals["duplicates"] += body["duplicates"]
    return totals
