"""Refold the current-state facts after 0010: withdrawn referrals are back (they count as received), retracted ones
stay out."""

from __future__ import annotations

from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient


def apply(client: ClickHouseClient, database: str) -> None:
    state.rebuild(client, database)
