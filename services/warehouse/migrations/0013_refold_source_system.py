"""Refold the current-state facts after 0012: every row carries the system its referral was registered in."""

from __future__ import annotations

from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient


def apply(client: ClickHouseClient, database: str) -> None:
    state.rebuild(client, database)
