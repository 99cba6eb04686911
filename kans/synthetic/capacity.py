"""Places at a provider module, simulated: the waiting list that makes waiting times grow when a module is full.

Each place is the moment it is free again; dispatches are taken in time order, so the earliest free place goes to
the longest waiting trajectory (first come, first served). A trajectory starts when a place is free (and not before
it is ready), or gives up when that is later than the desk is willing to wait. Capacity changes during the year
(Tigo from 12 to 9 places on 1 January 2020) apply from their day: a lower capacity keeps the places that free up
last, so nobody starts before fewer than the new capacity are running.
"""

from __future__ import annotations

import heapq


class Places:
    """The places of one module. Times are stamps (see `calendar`)."""

    def __init__(self, steps: list[tuple[int, int]]) -> None:
        first_stamp, capacity = steps[0]
        self.free: list[int] = [first_stamp] * capacity
        self.steps = sorted(steps[1:])
        self.waits: list[int] = []  # dispatch -> start, in minutes, of every start booked (for the summary)

    @property
    def capacity(self) -> int:
        return len(self.free)

    def _apply_steps(self, until: int) -> None:
        while self.steps and self.steps[0][0] <= until:
            at, capacity = self.steps.pop(0)
            if capacity > len(self.free):
                self.free.extend([at] * (capacity - len(self.free)))
            else:
                self.free = sorted(self.free)[len(self.free) - capacity :]
            heapq.heapify(self.free)

    def earliest_start(self, ready: int) -> int | None:
        """When a trajectory ready at `ready` can start: at `ready` if a place is free, else when one frees up.
        None when the module has no places at all."""
        while True:
            if not self.free:
                self._apply_steps(ready)
                if not self.free:
                    return None
            start = max(ready, self.free[0])
            if not self.steps or self.steps[0][0] > start:
                return start
            self._apply_steps(start)

    def occupy(self, start: int, end: int, dispatched: int | None = None) -> None:
        """Take the earliest free place from `start` (as returned by `earliest_start`) until `end`."""
        heapq.heapreplace(self.free, max(end, start + 1))
        if dispatched is not None:
            self.waits.append(start - dispatched)

    def free_at(self, start: int) -> bool:
        """Is a place free at `start` without waiting (a carried-over trajectory only continues if so)?"""
        self._apply_steps(start)
        return bool(self.free) and self.free[0] <= start
