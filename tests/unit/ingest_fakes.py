"""In-memory stand-ins for the ingest's two Kafka adapters (SourceIndex, EventPublisher), to drive a router or the
inbound agent alone; the real adapters are tested on the real broker in tests/integration."""

from __future__ import annotations

import threading
from typing import Any

from core.pupil_vault import PupilVault
from core.settings import Settings
from schemas.envelope import Envelope
from schemas.registry import parse_event
from services.ingest.bootstrap import Ingest
from services.ingest.credentials import load_key_ring
from services.ingest.ownership import KnownOwners
from services.ingest.publisher import BrokerUnavailable
from services.ingest.rules import IndexEntry, SourceKey
from services.ingest.sealing import SealedEvent
from services.ingest.service import IngestService
from tests.factories import TEST_PUPIL_SECRET


class FakeSourceIndex:
    """The idempotency index without its topic: loaded at once, or never (`loaded=False`)."""

    def __init__(self, loaded: bool = True) -> None:
        self.entries: dict[SourceKey, IndexEntry] = {}
        self.ready = threading.Event()
        if loaded:
            self.ready.set()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def remember(self, new: dict[SourceKey, IndexEntry]) -> None:
        self.entries.update(new)


class FakeBroker:
    """What the readiness probe hears: the broker answers, or (`away`) what is wrong with it."""

    def __init__(self, away: str | None = None) -> None:
        self.away = away

    async def problem(self) -> str | None:
        return self.away


class FakePublisher:
    """Keeps what it is asked to publish; refuses the first `unavailable` calls as Kafka being away would."""

    def __init__(self, unavailable: int = 0) -> None:
        self.events: list[Envelope] = []
        self.unavailable = unavailable

    def publish(self, events: list[SealedEvent], index: Any) -> list[int]:
        """The offsets: each event's position among all published (increasing, as in one partition)."""
        if self.unavailable:
            self.unavailable -= 1
            raise BrokerUnavailable("Kafka is away (fake)")
        self.events.extend(e.envelope if e.envelope is not None else parse_event(e.json) for e in events)
        return list(range(len(self.events) - len(events), len(self.events)))

    def close(self) -> None: ...


def fake_ingest(
    settings: Settings, index: FakeSourceIndex | None = None, publisher: FakePublisher | None = None,
    broker: FakeBroker | None = None, owners: KnownOwners | None = None,
) -> Ingest:
    """The ingest wired as `bootstrap` wires it (the development key file), on the fakes; the owners in memory."""
    index, publisher, broker = index or FakeSourceIndex(), publisher or FakePublisher(), broker or FakeBroker()
    owners = owners if owners is not None else KnownOwners()
    service = IngestService(publisher, index, TEST_PUPIL_SECRET, PupilVault(None), owners=owners)  # type: ignore[arg-type]
    return Ingest(load_key_ring(settings.api_keys_file), index, publisher, service, TEST_PUPIL_SECRET,  # type: ignore[arg-type]
                  broker.problem, owners=owners)  # fmt: skip
