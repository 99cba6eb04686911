"""The ingest's one wiring place: its collaborators built once from Settings, for every entrypoint of the service
(the REST app's lifespan, the inbound faust worker), and started and stopped here.

The spreadsheet import builds nothing of its own: it posts its batches to the REST entrypoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from prometheus_client import CollectorRegistry

from core.broker import broker_problem
from core.metrics import new_registry
from core.pupil_vault import PupilVault
from core.settings import Settings
from services.ingest.credentials import KeyRing, load_key_ring
from services.ingest.metrics import IngestMetrics
from services.ingest.owner_index import OwnerIndex
from services.ingest.ownership import KnownOwners, OwnerLog
from services.ingest.plausibility import DateWindow
from services.ingest.publisher import EventPublisher
from services.ingest.sealing import SealingPool
from services.ingest.service import IngestService
from services.ingest.source_index import SourceIndex


@dataclass
class Ingest:
    """The collaborators one ingest process works with. Built by `bootstrap`; tests may assemble one from fakes.
    `broker_problem`: asks the broker for metadata now; None when it answered, else what is wrong (readiness)."""

    keys: KeyRing
    index: SourceIndex
    publisher: EventPublisher
    service: IngestService
    pupil_secret: bytes
    broker_problem: Callable[[], Awaitable[str | None]]
    metrics: IngestMetrics | None = None
    owners: OwnerLog = field(default_factory=KnownOwners)  # the ownership index (the same the service judges on)
    _started: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Load the idempotency and ownership indexes from Kafka in the background; until both are loaded,
        submissions get 503 (REST) or wait (inbound). The producer connects on first use, so a process starts while
        Kafka is down."""
        self.index.start()
        self.owners.start()
        if self.service.sealing is not None:
            self.service.sealing.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self.index.stop()
            self.owners.stop()
            if self.service.sealing is not None:
                self.service.sealing.stop()
        self.publisher.close()
        self.service.vault.close()


def bootstrap(settings: Settings, registry: CollectorRegistry | None = None, sealing_processes: int = 0) -> Ingest:
    """Read the key file and build the index, the publisher and the use case on top of them (no I/O yet). Their
    metrics go to `registry`, the one the process serves on /metrics (a registry of their own without one).
    `sealing_processes`: workers that seal large batches (started with the ingest), none by default."""
    keys = load_key_ring(settings.api_keys_file, production=settings.environment == "production")
    index = SourceIndex(settings)
    metrics = IngestMetrics(registry or new_registry())
    publisher = EventPublisher(settings, metrics)
    pupil_secret = settings.pupil_key_secret.get_secret_value().encode()
    owners = OwnerIndex(settings)
    vault = PupilVault(settings.pupil_vault_path)
    sealing = SealingPool(settings.pupil_vault_path, pupil_secret, sealing_processes) if sealing_processes else None
    service = IngestService(publisher, index, pupil_secret, vault, DateWindow.from_settings(settings), metrics,
                            owners=owners, sealing=sealing)  # fmt: skip
    return Ingest(keys, index, publisher, service, pupil_secret, partial(broker_problem, settings),
                  metrics=metrics, owners=owners)
