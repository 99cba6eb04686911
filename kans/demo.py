"""The demo data: a few school years of synthetic history up to today, through the public ingest API.

A thin wrapper over the generator (`kans.synthetic`). The demo's history is always simulated from the desk's first
school year (2017-2018) with a fixed seed, so a school year's events are the same whichever window is loaded: a
second `kans demo load` (another day, or after 1 September) only adds what is new, never conflicts. Events after
today are not there yet, so running trajectories are open in the live views.

The last weeks go through the dispatch service (issue 15): the generator's own dispatches of the last
`DESK_DECIDES_DAYS` days (and what followed them) are left out, so the dispatch service proposes those placements or
puts them on waiting lists; the demo then plays the desk (`decide_as_the_desk`): it confirms the proposals older
than `DESK_TAKES_DAYS` through the decision API, overriding every eighth to another offered module of the same kind
with a reason, and leaves the newest open, so `make up` shows open proposals, waiting lists and decisions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from core.progress import progress
from kans.synthetic.generator import generate
from kans.synthetic.output import DEMO_API_KEY, post_to_ingest
from kans.synthetic.params import GeneratorParams, year_range
from schemas.envelope import school_year_of

DEMO_ORIGIN = "2017-2018"  # KANS' first working year (2019-2020 was its third)
DEMO_SEED = 42
DESK_DECIDES_DAYS = 28  # the generator's dispatches of the last four weeks are left to the dispatch service
DESK_TAKES_DAYS = 7  # the desk has decided on proposals for pupils referred more than a week ago
DESK_API_KEY = "kans-dev-desk"  # development key of the desk (core/dev-api-keys.yaml)
OVERRIDE_EVERY = 8

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


_TRAJECTORY_ID = {"TrajectoryDispatched": "trajectory_id", "GroupTrajectoryDispatched": "group_trajectory_id"}


def left_to_the_dispatch_service(submissions: Iterable[dict[str, Any]], today: date,
                                 days: int = DESK_DECIDES_DAYS) -> list[dict[str, Any]]:  # fmt: skip
    """The submissions without the dispatches of the last `days` days before `today` and every later event of
    those trajectories and group trajectories (started, progress, endings): the dispatch service places them."""
    cutoff = (today - timedelta(days=days)).isoformat()
    events = list(submissions)
    left_out = {e["payload"][_TRAJECTORY_ID[e["event_type"]]] for e in events
                if e["event_type"] in _TRAJECTORY_ID and e["occurred_at"][:10] > cutoff}  # fmt: skip
    return [e for e in events
            if e["payload"].get("trajectory_id", e["payload"].get("group_trajectory_id")) not in left_out]  # fmt: skip


def _processed(dispatch_url: str) -> dict[str, int]:
    """How many records each of the dispatch worker's agents has taken in since it started (empty: no answer)."""
    try:
        body = httpx.get(f"{dispatch_url}/ready", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return {str(agent): int(n) for agent, n in (body.get("processed") or {}).items()}


def _settled(dispatch_url: str, timeout_s: float, events: int = 0) -> list[dict[str, Any]]:
    """The open proposals once the dispatch worker has caught up: it took in at least `events` events of the log
    since it started (the events this demo run created), and neither its agents' counts nor its proposals moved in
    two seconds. Same proposals twice alone was not enough: a worker still starting, or whose deciding agent was
    still behind the routing one, answered no proposals twice, and `make up` decided on nothing."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        processed = _processed(dispatch_url)
        if processed.get("dispatch.route_events", 0) < events:
            time.sleep(1)
            continue
        try:
            response = httpx.get(f"{dispatch_url}/proposals", timeout=10)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            proposals: list[dict[str, Any]] = response.json()["proposals"]
            now = ([p["proposal_id"] for p in proposals], processed)
            if now == last:
                return proposals
            last = now
        time.sleep(2)
    raise TimeoutError(f"the dispatch worker did not settle within {timeout_s:.0f} s")


def _alternative(dispatch_url: str, proposal: dict[str, Any]) -> dict[str, Any] | None:
    """Another offered module of the proposed module's kind, at another provider (what an override would pick)."""
    modules = httpx.get(f"{dispatch_url}/catalogue", timeout=10).json()["modules"]
    kind = next((m["kind"] for m in modules if (m["provider_id"], m["module_id"]) == (
        proposal["provider_id"], proposal["module_id"])), None)  # fmt: skip
    return next((m for m in modules if m["kind"] == kind and m["offered"]
                 and m["provider_id"] != proposal["provider_id"]), None)  # fmt: skip


def decide_as_the_desk(ingest_url: str, dispatch_url: str, today: date, timeout_s: float = 300.0,
                       api_key: str = DESK_API_KEY, events: int = 0) -> dict[str, int]:  # fmt: skip
    """Confirm (every `OVERRIDE_EVERY`th: override) the open proposals of pupils referred more than
    `DESK_TAKES_DAYS` days before `today`, through the desk's decision API; the rest stay open. `events`: how many
    events this run created, which the dispatch worker must have taken in before its proposals count (0 when the
    demo was loaded before: nothing new to wait for)."""
    proposals = _settled(dispatch_url, timeout_s, events)
    due = (today - timedelta(days=DESK_TAKES_DAYS)).isoformat()
    taken = [p for p in proposals if p["waiting_since"] <= due]
    totals = {"confirmed": 0, "overridden": 0, "refused": 0}
    with (httpx.Client(base_url=ingest_url, timeout=30, headers={"X-API-Key": api_key}) as desk,
          progress("demo: the desk's decisions on proposals", len(taken), "decisions") as decided):  # fmt: skip
        for n, proposal in enumerate(taken):
            body: dict[str, Any] = {"proposal_id": proposal["proposal_id"], "decision": "confirm"}
            other = _alternative(dispatch_url, proposal) if n % OVERRIDE_EVERY == OVERRIDE_EVERY - 1 else None
            if other is not None:
                reason = "closer to the school, agreed with the CLB"
                body = {**body, "decision": "override", "provider_id": other["provider_id"],
                        "module_id": other["module_id"], "reason": reason}  # fmt: skip
            response = desk.post(f"/v1/dispatch/trajectories/{proposal['trajectory_id']}/decision", json=body)
            # 409: the rules proposed again meanwhile (a decision freed or took a place); the fresh one stays open.
            key = "refused" if response.status_code != 202 else "overridden" if other else "confirmed"
            totals[key] += 1
            decided.advance(1)
    return totals


def load_demo(ingest_url: str, today: date | None = None, batch: int = 1000,
              dispatch_url: str | None = None, years: int = 3) -> dict[str, int]:  # fmt: skip
    """Post the demo set in batches; returns how many events were created and how many were already there. With
    `dispatch_url` (the dispatch worker), the last weeks' dispatches are left to the dispatch service and the demo
    decides on its proposals as the desk (see the module's docstring)."""
    today = today or datetime.now().date()
    events = list(demo_events(today, years))
    if dispatch_url is not None:
        events = left_to_the_dispatch_service(events, today)
    with progress("demo: events posted to the ingest", len(events)) as posted:
        totals = post_to_ingest(events, ingest_url, DEMO_API_KEY, batch, on_batch=posted.advance)
    if dispatch_url is None:
        return totals
    return {**totals, **decide_as_the_desk(ingest_url, dispatch_url, today, events=totals["created"])}
