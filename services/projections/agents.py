"""The worker's two agents, in two steps because the event log is keyed by referral while load is counted per
provider and module:

1. `track_trajectories` folds each trajectory's events into table `trajectories` and sends what changed for a
   provider's module to the internal topic `load-changes`, keyed by provider|module (`load_changes.translate`);
2. `aggregate_provider_load` applies those changes to table `provider-load` (one row per provider|module).

Both parse at the boundary: events with the contract's `parse_event`, load changes with their models in
`schemas/projections.py`. Each yields one result per message it read (what it sent, the row it stored), so a test
driving it with `agent.test_context()` can wait for each message and see what came of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from faust.types import StreamT
from pydantic import ValidationError

from schemas.projections import dump_load_change, parse_load_change
from schemas.registry import parse_event
from services.projections import provider_load as rows
from services.projections.load_changes import KeyedChange, trajectory_id_of, translate
from services.projections.topology import topology_of
from services.projections.trajectory_state import TrajectoryState

log = logging.getLogger(__name__)


async def track_trajectories(stream: StreamT[bytes]) -> AsyncIterator[tuple[KeyedChange, ...]]:
    """Agent: the event log -> the trajectories' states and the load changes they cause (none for a duplicate)."""
    topology = topology_of(stream.app)
    async for value in stream:
        try:
            event = parse_event(value)
        except ValidationError as err:
            log.error("skipping an event that does not match the contract: %s", err.errors()[:3])
            yield ()
            continue
        tid = trajectory_id_of(event)
        stored = None if tid is None else topology.trajectories.get(tid.encode())
        outcome = translate(event, None if stored is None else TrajectoryState.from_dict(stored))
        if tid is not None and outcome.state is not None:
            topology.trajectories[tid.encode()] = outcome.state.to_dict()
        for key, change in outcome.changes:
            await topology.load_changes.send(key=key.encode(), value=dump_load_change(change))
        yield outcome.changes


async def aggregate_provider_load(stream: StreamT[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Agent: load changes -> the provider-load rows. A message that is not a load change is a bug: it stops the
    worker (CrashingSupervisor) rather than being skipped."""
    topology = topology_of(stream.app)
    async for key, value in stream.items():
        change = parse_load_change(value)
        row = rows.apply_change(topology.provider_load.get(key) or rows.empty_row(key.decode()), change)
        topology.provider_load[key] = row
        yield row
