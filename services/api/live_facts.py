"""What the live views need beyond the projections, for a process that holds no warehouse (the live process, `kans
serve live`): the providers' and modules' display names, and the referrer of each referral and group referral (a
CLB may see the status of a trajectory of its own referrals only). In the API process the same two come from the
warehouse (`provider_names.py`, `queries.referral_in_scope`); both implement `LiveLookups`.

Folded from the event log (read from its beginning, then followed: `core.log_follower`), from the events that set
them, the latest of a stream winning (a stream's events share one partition: the later offset):
- ProviderRegistered: the provider's name; ModuleOffered: the module's name and kind (a module offered again with
  another name is renamed; a withdrawn module keeps its name, as the warehouse's names do);
- ReferralSubmitted, GroupReferralSubmitted: the referrer; a ReferralAmended that changes `referrer_id`: the new one.

Only records whose `event_type` header names one of these are parsed (a record without the header is tried): the
referrals' with the slim reader of who owns a stream (`schemas.stream_owners.facts_in_record`, the fields that say it
and nothing else: a referral's full parse, privacy guards included, cost this process a tenth of a core at 1,000
events/s), the providers' (rare) with the contract's own parser (`core.dead_letters.read_event`). A record that is
not a valid event sets nothing and is counted (`unreadable`), it never stops the index. Pupils are not kept:
only ids of referrals, referrers, providers and modules, and the providers' and modules' public names.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from core.dead_letters import BadRecord, read_event
from core.log_follower import LogFollower
from core.settings import Settings
from core.topics import events_topic
from schemas.codelists import label
from schemas.envelope import Envelope
from schemas.stream_owners import Fact, facts_in_record, facts_of

log = logging.getLogger(__name__)
NAME_TYPES = frozenset({"ProviderRegistered", "ModuleOffered"})
REFERRER_TYPES = frozenset({"ReferralSubmitted", "ReferralAmended", "GroupReferralSubmitted"})
_NAME_HEADERS = frozenset(name.encode() for name in NAME_TYPES)
_REFERRER_HEADERS = frozenset(name.encode() for name in REFERRER_TYPES)


class LiveLookups(Protocol):
    """The two things a live view asks beyond the projections."""

    async def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with provider_name, module_name, module_kind and module_kind_label_nl (null when unknown)."""
        ...

    async def referral_in_scope(self, referral_id: str, referrers: frozenset[str]) -> bool:
        """Whether the referral (or group referral) is one of `referrers`' (its referrer as amended)."""
        ...


def with_names(rows: list[dict[str, Any]], providers: dict[str, str],
               modules: dict[tuple[str, str], tuple[str, str]]) -> list[dict[str, Any]]:  # fmt: skip
    """`rows` (each with provider_id and module_id) with their display names; null where unknown."""
    named = []
    for row in rows:
        name, kind = modules.get((row["provider_id"], row["module_id"]), (None, None))
        named.append({**row, "provider_name": providers.get(row["provider_id"]), "module_name": name or None,
                      "module_kind": kind or None,
                      "module_kind_label_nl": label("module_kind", kind) if kind else None})  # fmt: skip
    return named


class LiveFacts:
    """The fold (pure, no Kafka): `apply` each event with its offset; readers see the latest of each stream."""

    def __init__(self) -> None:
        self.providers: dict[str, tuple[str, int]] = {}  # provider -> (name, offset)
        # (provider, module) -> ((name, kind), offset)
        self.modules: dict[tuple[str, str], tuple[tuple[str, str], int]] = {}
        self.referrers: dict[str, tuple[str, int]] = {}  # referral or group referral -> (referrer, offset)
        self.names_version = 0  # bumped when a name changes: the pushed views are sent again, named

    def apply_owners(self, facts: list[Fact], offset: int) -> None:
        """The referrers a record sets (`schemas.stream_owners.facts_in_record`)."""
        for (kind, stream, *_), owner in facts:
            if kind in ("referral", "group"):
                _latest(self.referrers, stream, owner, offset)

    def apply(self, event: Envelope, offset: int) -> None:
        payload: Any = event.payload
        kind = event.event_type
        if kind == "ProviderRegistered":
            self._name(self.providers, payload.provider_id, payload.name, offset)
        elif kind == "ModuleOffered":
            self._name(self.modules, (payload.provider_id, payload.module_id), (payload.name, payload.kind), offset)
        else:  # the referrers: the ingest's own rule of who owns a stream
            self.apply_owners(facts_of(kind, payload), offset)

    def _name(self, names: dict[Any, tuple[Any, int]], key: Any, value: Any, offset: int) -> None:
        before = names.get(key)
        if _latest(names, key, value, offset) and (before is None or before[0] != value):
            self.names_version += 1

    def referrer(self, stream_id: str) -> str | None:
        found = self.referrers.get(stream_id)
        return None if found is None else found[0]

    def name_maps(self) -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, str]]]:
        return ({p: name for p, (name, _) in self.providers.items()},
                {key: value for key, (value, _) in self.modules.items()})  # fmt: skip


def _latest(facts: dict[Any, tuple[Any, int]], key: Any, value: Any, offset: int) -> bool:
    """Keep `value` unless a later offset of the stream set it already; True when kept."""
    known = facts.get(key)
    if known is not None and known[1] > offset:
        return False
    facts[key] = (value, offset)
    return True


class LiveFactsIndex:
    """`LiveFacts` read from the event log and kept current (`LiveLookups` for the live process). Not `ready` until
    the log has been read up to the end it had at start: before that a name or a referral's referrer may be
    missing, so the process's /ready answers 503."""

    def __init__(self, settings: Settings, parse: Callable[[bytes | None], Envelope] = read_event) -> None:
        self.facts = LiveFacts()
        self.unreadable = 0
        self._parse = parse
        self._lock = threading.Lock()
        # A name or a referrer may arrive 250 ms late: the follower takes the log in fewer, larger fetches.
        self._follower = LogFollower(settings, events_topic(settings), "kans-live-facts", self._fold, self._loaded,
                                     batch_wait_ms=250)
        self.ready = self._follower.ready
        self._names: tuple[int, dict[str, str], dict[tuple[str, str], tuple[str, str]]] = (-1, {}, {})

    @property
    def alive(self) -> bool:
        return self._follower.alive

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def _fold(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        events: list[tuple[Envelope, int]] = []
        owners: list[tuple[list[Fact], int]] = []
        for record in records:
            event_type = dict(record.headers).get("event_type")
            if event_type is None or event_type in _REFERRER_HEADERS:
                try:
                    owners.append((facts_in_record(record.value or b""), record.offset))
                    continue
                except (ValidationError, ValueError):  # a record without a header may be of another type
                    if event_type is not None:
                        self.unreadable += 1
                        continue
            if event_type is None or event_type in _NAME_HEADERS:
                try:
                    event = self._parse(record.value)
                except BadRecord:
                    self.unreadable += event_type is not None
                    continue
                if event.event_type in NAME_TYPES:
                    events.append((event, record.offset))
        if events or owners:
            with self._lock:
                for facts, offset in owners:
                    self.facts.apply_owners(facts, offset)
                for event, offset in events:
                    self.facts.apply(event, offset)

    def _loaded(self) -> None:
        log.info("live facts loaded: %d providers, %d modules, %d referrers from %d records in %.2f s",
                 len(self.facts.providers), len(self.facts.modules), len(self.facts.referrers),
                 self._follower.records, self._follower.loaded_s or 0.0)  # fmt: skip

    @property
    def names_version(self) -> int:
        return self.facts.names_version

    async def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        version = self.facts.names_version
        if self._names[0] != version:  # copied once per change of a name, not per read
            with self._lock:
                self._names = (self.facts.names_version, *self.facts.name_maps())
        return with_names(rows, self._names[1], self._names[2])

    async def referral_in_scope(self, referral_id: str, referrers: frozenset[str]) -> bool:
        return self.facts.referrer(referral_id) in referrers

    async def watch_names(self, changed: Callable[[], None], every_s: float = 1.0) -> None:
        """Call `changed` (on this event loop) whenever a name changed, until cancelled."""
        seen = self.facts.names_version
        while True:
            await asyncio.sleep(every_s)
            if self.facts.names_version != seen:
                seen = self.facts.names_version
                changed()
