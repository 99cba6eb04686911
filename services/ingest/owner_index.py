"""The ownership index: who owns each referral, trajectory, group referral and group trajectory, as the event log
says. Read from `kans.events.v1` from its beginning at start and kept current by following it, so it survives
restarts, and knows what any ingest process (REST or inbound, any replica) published.

Only records of the event types that establish an owner are parsed (told by the record's `event_type` header; a
record without it is tried), and only the fields that do (`schemas.stream_owners.facts_in_record`); a record where
those are not valid establishes nothing. Each owner is kept with the offset of the event that set it: a stream's
events share one partition, so the later offset wins whether a fact arrives by following the log or from this
process's own publishing (`remember`, right after the broker's acknowledgement). The log is read and followed by
`core.log_follower.LogFollower` (aiokafka, in a thread of its own).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from core.log_follower import LogFollower
from core.settings import Settings
from core.topics import events_topic
from schemas.stream_owners import FACT_EVENT_TYPES, Fact, StreamKey, facts_in_record

log = logging.getLogger(__name__)
_FACT_HEADERS = frozenset(name.encode() for name in FACT_EVENT_TYPES)
_AMENDED = b"ReferralAmended"


@dataclass
class LoadStats:
    """How the index was loaded: records read up to the end offsets seen at start, the owners known then, time."""

    records: int = 0
    parsed: int = 0
    unreadable: int = 0
    owners: int = 0
    seconds: float | None = None


class OwnerIndex:
    def __init__(self, settings: Settings) -> None:
        self._owners: dict[StreamKey, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self.stats = LoadStats()
        self._follower = LogFollower(settings, events_topic(settings), "kans-ingest-owners", self._fold, self._loaded)
        self.ready = self._follower.ready  # set once the log is read up to the end it had at start

    def __len__(self) -> int:
        return len(self._owners)

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def owner(self, key: StreamKey) -> str | None:
        found = self._owners.get(key)
        return None if found is None else found[0]

    def remember(self, facts: Iterable[Fact], offset: int) -> None:
        """Owners established by an event this process published at `offset` (its partition is its stream's)."""
        with self._lock:
            for key, owner in facts:
                self._set(key, owner, offset)

    def caught_up(self, timeout_s: float) -> bool:
        """Wait until the index has read the log up to its end as it is now (what other processes published just
        before); False if that took longer than `timeout_s`."""
        return self._follower.caught_up(timeout_s)

    def _set(self, key: StreamKey, owner: str, offset: int) -> None:
        known = self._owners.get(key)
        if known is None or known[1] < offset:
            self._owners[key] = (owner, offset)

    def _facts(self, value: bytes | None, event_type: bytes | None) -> list[Fact]:
        if value is None or (event_type is not None and event_type not in _FACT_HEADERS):
            return []
        if event_type == _AMENDED and b'"referrer_id"' not in value:  # an amendment that does not change the owner
            return []
        self.stats.parsed += 1
        try:
            return facts_in_record(value)
        except (ValidationError, ValueError):
            self.stats.unreadable += event_type is not None  # without a header it may just be another type
            return []

    def _fold(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        found = [(facts, r.offset) for r in records
                 if (facts := self._facts(r.value, dict(r.headers).get("event_type")))]  # fmt: skip
        self.stats.records += len(records)
        with self._lock:
            for facts, offset in found:
                for key, owner in facts:
                    self._set(key, owner, offset)

    def _loaded(self) -> None:
        self.stats.owners, self.stats.seconds = len(self._owners), self._follower.loaded_s
        log.info("owner index loaded: %d owners from %d records (%d parsed) in %.2f s",
                 self.stats.owners, self.stats.records, self.stats.parsed, self.stats.seconds or 0.0)  # fmt: skip
