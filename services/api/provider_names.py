"""Display names for the live views (issue 16, L1): the provider's name and the module's name from the provider facts
in the warehouse (ProviderRegistered, ModuleOffered), and the module kind's Dutch label from the code list.

The live views are served from the projections worker in milliseconds; the names change rarely. They are read from
ClickHouse at most once per `REFRESH_S` while every row's provider and module are known, and again (at most every
`MISS_S`) when a row names one not seen yet; a warehouse that is slow or down leaves the names as they were (or
absent), never the view unanswered. Only the very first read is waited for: later ones run in the background (a
read waits for the warehouse's lock, which the writer holds while it inserts), and `on_change` is called when they
brought new names, so the pushed views can be sent again with them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from core.auth import DataScope
from services.api.live_facts import with_names
from services.api.warehouse import Warehouse
from services.warehouse import queries
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.statistics.folds import provider_names_sql

log = logging.getLogger(__name__)
REFRESH_S, MISS_S, TIMEOUT_S = 60.0, 2.0, 2.0


class ProviderNames:
    def __init__(self, warehouse: Warehouse, on_change: Callable[[], None] | None = None) -> None:
        self.warehouse = warehouse
        self.on_change = on_change
        self.providers: dict[str, str] = {}
        self.modules: dict[tuple[str, str], tuple[str, str]] = {}  # (provider, module) -> (name, kind)
        self.read_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def _refresh_soon(self) -> None:
        if self._task is None or self._task.done():
            self.read_at = time.monotonic()  # one refresh at a time
            self._task = asyncio.create_task(self._refresh_and_tell())

    async def _refresh_and_tell(self) -> None:
        before = (self.providers, self.modules)
        await self._refresh()
        if (self.providers, self.modules) != before and self.on_change is not None:
            self.on_change()

    async def _refresh(self) -> None:
        self.read_at = time.monotonic()

        def read(client: Any, database: str) -> list[tuple[str, str, str, str]]:
            return client.query(provider_names_sql(database), parameters={"as_of_ms": as_of_ms(None)}).result_rows  # type: ignore[no-any-return]

        try:
            rows = await asyncio.wait_for(self.warehouse.run(read), TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - names are a nicety: the view is served without them
            log.warning("provider names not read from the warehouse: %r", err)
            return
        self.providers = {p: name for p, m, name, _ in rows if m == "" and name}
        self.modules = {(p, m): (name, kind) for p, m, name, kind in rows if m != ""}

    async def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with provider_name, module_name, module_kind and module_kind_label_nl (null when unknown)."""
        age = time.monotonic() - self.read_at
        missing = any(r["provider_id"] not in self.providers or (r["provider_id"], r["module_id"]) not in self.modules
                      for r in rows)  # fmt: skip
        if self.read_at == float("-inf"):
            await self._refresh()
        elif age > REFRESH_S or (missing and age > MISS_S):
            self._refresh_soon()
        return with_names(rows, self.providers, self.modules)


class WarehouseLookups:
    """`LiveLookups` in the API process: the names (cached, above) and a referral's referrer from the warehouse."""

    def __init__(self, names: ProviderNames) -> None:
        self.names = names

    async def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return await self.names.named(rows)

    async def referral_in_scope(self, referral_id: str, referrers: frozenset[str]) -> bool:
        return await self.names.warehouse.run(queries.referral_in_scope, referral_id, DataScope(referrers))
