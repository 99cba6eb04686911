"""The API's one wiring place: its collaborators built once from Settings (the Warehouse's ClickHouse clients, the
optional writer threads with a client each, the projections worker's HTTP client), started and stopped here.

With embedded chDB the API process owns the engine, so it also hosts the Kafka -> ClickHouse writer
(`writer_in_api`); with a ClickHouse server the writer runs as its own process (`kans serve writer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry

from core.metrics import new_registry
from core.pupil_vault import PupilVault
from core.settings import Settings
from services.api.audit import AuditLog
from services.api.projections import ProjectionWorkers, as_workers, workers_of
from services.api.warehouse import Warehouse
from services.warehouse.audit import AuditWriter
from services.warehouse.clickhouse import ClickHouseClient, get_client, migrate
from services.warehouse.writer import ClickHouseWriter, WriterMetrics

PROJECTIONS_TIMEOUT_S = 5.0


@dataclass
class Api:
    """The collaborators one API process works with. Built by `bootstrap`, started and stopped by the app's
    lifespan; the routers reach them through the typed dependencies of `deps.py`."""

    settings: Settings
    client: ClickHouseClient
    warehouse: Warehouse
    writer: ClickHouseWriter | None
    projections: ProjectionWorkers  # an httpx client (one worker) is taken as a set of one
    audit: AuditLog | None = None  # the audit records' publisher: without it no audited read is served (503)
    audit_writer: AuditWriter | None = None  # kans.audit.v1 -> ClickHouse audit_log (with the writer)
    dispatch: httpx.AsyncClient | None = None  # the dispatch worker's pages (proposals, waiting lists)
    writer_clients: list[ClickHouseClient] = field(default_factory=list)  # the writers' own, closed after them
    _started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.projections is not None:
            self.projections = as_workers(self.projections, self.settings.event_partitions)

    def start(self) -> None:
        """Bring the warehouse's schema up to date, then start consuming the event log (if this process writes)."""
        migrate(self.client, self.settings.clickhouse_database)
        if self.writer is not None:
            self.writer.start()
        if self.audit_writer is not None:
            self.audit_writer.start()
        self._started = True

    async def stop(self) -> None:
        """Stop the writer before the client it writes with is closed; close everything even if a step fails."""
        try:
            await self.projections.aclose()
            if self.dispatch is not None:
                await self.dispatch.aclose()
        finally:
            try:
                if self.writer is not None and self._started:
                    self.writer.stop()
                if self.audit_writer is not None and self._started:
                    self.audit_writer.stop()
                if self.audit is not None:
                    self.audit.close()
            finally:
                self._close_clients()

    def _close_clients(self) -> None:
        """Every ClickHouse client (the readers', the writers'), each even when closing another failed."""
        failed: Exception | None = None
        for client in {id(c): c for c in (self.client, *self.warehouse.clients, *self.writer_clients)}.values():
            try:
                client.close()
            except Exception as err:  # noqa: BLE001 - the others are closed all the same; the first is raised
                failed = failed or err
        if failed is not None:
            raise failed


def bootstrap(settings: Settings, registry: CollectorRegistry | None = None) -> Api:
    """Open the ClickHouse clients (embedded chDB or a server, per `clickhouse_dsn`) and build the rest on them. The
    writer's metrics go to `registry`, the one the process serves on /metrics."""
    clients = [get_client(settings) for _ in range(settings.clickhouse_read_clients)]
    warehouse = Warehouse(clients, settings.clickhouse_database)
    writer = audit_writer = None
    writer_clients = []
    if settings.writer_in_api:
        writer_clients = [get_client(settings), get_client(settings)]
        writer = ClickHouseWriter(settings, writer_clients[0], WriterMetrics(registry or new_registry()),
                                  PupilVault(settings.pupil_vault_path), warehouse.writes)  # fmt: skip
        audit_writer = AuditWriter(settings, writer_clients[1])
    projections = workers_of(settings.projections_base_urls, settings.event_partitions, PROJECTIONS_TIMEOUT_S,
                             settings.live_view_max_age_ms / 1000)
    dispatch = httpx.AsyncClient(base_url=settings.dispatch_base_url, timeout=PROJECTIONS_TIMEOUT_S)
    return Api(settings, clients[0], warehouse, writer, projections, AuditLog(settings), audit_writer, dispatch,
               writer_clients)  # fmt: skip
