"""A trajectory agreed at a round table and not started before any dispatch (TrajectoryNotStarted without a
TrajectoryDispatched, issue 14) is a row of `trajectory_state` with `dispatched` 0, so it counts among what became of
its referral (R14/R47) instead of being dropped; every dispatched row has `dispatched` 1. The column, then a refold."""

from __future__ import annotations

from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient


def apply(client: ClickHouseClient, database: str) -> None:
    client.command(f"ALTER TABLE {database}.trajectory_state ADD COLUMN IF NOT EXISTS dispatched UInt8 DEFAULT 1 "
                   "AFTER carried_over")  # fmt: skip
    state.rebuild(client, database)
