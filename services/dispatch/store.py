"""The dispatch state's tables, and an overlay that holds one event's writes until its outputs are in the log.

The worker's tables are faust tables (in memory, rebuilt from their changelogs); a what-if replay uses plain dicts.
The engine reads and writes through `Overlay`s: the agent first sends what the event made the engine write to the
event log and waits for the broker's acknowledgement, and only then commits the writes to the tables. So any state a
table holds was preceded by its outputs; a crash in between makes the event be read again, decided again from the
same state, and its outputs written again with the same ids (a duplicate, which every consumer collapses)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

TABLES = ("providers", "referrals", "placements", "trajectories", "places", "counts")
_GONE = object()


class Overlay(MutableMapping[str, Any]):
    """`base` as it will be once `writes` are committed; reads see the writes."""

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self.writes:
            value = self.writes[key]
            if value is _GONE:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes[key] = _GONE

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for key in self.base:
            seen.add(key)
            if self.writes.get(key) is not _GONE:
                yield key
        for key, value in self.writes.items():
            if key not in seen and value is not _GONE:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def commit(self) -> None:
        for key, value in self.writes.items():
            if value is _GONE:
                if key in self.base:
                    del self.base[key]
            else:
                self.base[key] = value
        self.writes.clear()


def overlays(tables: Mapping[str, MutableMapping[str, Any]]) -> dict[str, Overlay]:
    return {name: Overlay(tables[name]) for name in TABLES}


def commit_all(staged: Mapping[str, Overlay]) -> None:
    for overlay in staged.values():
        overlay.commit()


def new_tables() -> dict[str, MutableMapping[str, Any]]:
    """Plain in-memory tables (tests, the what-if replay)."""
    return {name: {} for name in TABLES}
