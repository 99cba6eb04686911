"""Fill the current-state facts (0007) from the fact logs already stored: a full rebuild."""

from __future__ import annotations

from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient


def apply(client: ClickHouseClient, database: str) -> None:
    state.rebuild(client, database)
