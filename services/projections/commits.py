"""Commit what the agents processed, not what faust acknowledged.

faust commits a partition up to the first gap among the offsets it acknowledged, and it acknowledges messages its
stream never handed to an agent: those fetched before a rebalance finished (stale generation, flow control off) are
"skipped" and acknowledged all the same (faust-streaming #221, #606), and a jump in the offsets it read counts as
acknowledged too (its gap bookkeeping, meant for compacted topics). A crash after such a commit loses those events
for good. The agents record the offset after each message they are done with (`Progress.positions`, in order:
`agents.in_order`), so for the agents' topics that position is the one offset that may be committed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from faust.types import TP

from services.projections.progress import Progress


def commit_offset(position: int | None, committed: int | None) -> int | None:
    """The offset to commit for a partition whose agent reached `position` (None: nothing processed since it was
    assigned), `committed` being the group's committed offset: only forward, only what was processed."""
    if position is None or (committed is not None and position <= committed):
        return None
    return position


def commit_processed_only(consumer: Any, progress: Progress, topics: Collection[str]) -> None:
    """Make faust's `consumer` commit `progress.positions` for `topics` (its own rule for any other topic). Its
    acknowledgement bookkeeping for these topics is dropped at each commit, so it cannot grow or stall."""
    own: Callable[[TP], int | None] = consumer._new_offset
    ours = frozenset(topics)

    def new_offset(tp: TP) -> int | None:
        if tp.topic not in ours:
            return own(tp)
        consumer._acked[tp].clear()
        consumer._acked_index[tp].clear()
        consumer._gap[tp].clear()
        return commit_offset(progress.positions.get(tp), consumer._committed_offset.get(tp))

    consumer._new_offset = new_offset
