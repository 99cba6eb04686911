"""Refold the current-state facts after 0017: every referral row carries its household key (and 0016's rebuild, on a
store whose logs lacked the column, is done here)."""

from __future__ import annotations

from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient


def apply(client: ClickHouseClient, database: str) -> None:
    state.rebuild(client, database)
