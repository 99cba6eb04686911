"""A snapshot of the folds for a whole report: the referrals, trajectories, round tables and groups of the years in
scope are folded once into Memory tables, the report's statistics then read those (same SQL as inline folds).

The tables live only while the report is computed (the caller holds the warehouse lock) and are dropped after.
With embedded ClickHouse the folds run side by side on sibling connections (`parallel.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics import folds
from services.warehouse.statistics.filters import as_of_ms
from services.warehouse.statistics.parallel import run_all
from services.warehouse.statistics.query import QUERY_SETTINGS, Sources


@contextmanager
def snapshot(clients: Sequence[ClickHouseClient], database: str, years: list[str], as_of: date | None,
             detail_years: list[str] | None = None) -> Iterator[Sources]:  # fmt: skip
    """Referrals and groups of `years`, trajectories and round tables of `detail_years` (default the same): a report
    compares a few referral and group figures with the year before, but trajectories only within its year. The
    folds run side by side on `clients` (referrals and groups first, then what joins the referrals)."""
    token = uuid.uuid4().hex[:12]
    names = {kind: f"{database}._snapshot_{token}_{kind}" for kind in ("r", "t", "rt", "g")}
    params = {"years": sorted(years), "as_of_ms": as_of_ms(as_of)}
    detail = {**params, "years": sorted(detail_years or years)}
    referrals = f"SELECT * FROM {names['r']}"
    stages = [
        {"r": (folds.referrals_fold(database), params), "g": (folds.groups_fold(database), params)},
        {"t": (folds.trajectories_fold(database, referrals), detail),
         "rt": (folds.round_tables_fold(database, referrals), detail)},
    ]  # fmt: skip
    settings = {**QUERY_SETTINGS, "allow_suspicious_low_cardinality_types": 1}

    def create(kind: str, select: str, bound: dict[str, Any]) -> Callable[[ClickHouseClient], str]:
        def run(client: ClickHouseClient) -> str:
            client.command(f"CREATE TABLE {names[kind]} ENGINE = Memory AS {select}", parameters=bound,
                           settings=settings)  # fmt: skip
            return names[kind]

        return run

    try:
        for stage in stages:
            run_all(clients, [create(kind, select, bound) for kind, (select, bound) in stage.items()])
        yield Sources(referrals=names["r"], trajectories=names["t"], round_tables=names["rt"], groups=names["g"])
    finally:
        for name in names.values():
            clients[0].command(f"DROP TABLE IF EXISTS {name}")
