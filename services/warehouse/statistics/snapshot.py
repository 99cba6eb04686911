"""A snapshot of the folds for a whole report: the referrals, trajectories, round tables and groups of the years in
scope are folded once into Memory tables, the report's statistics then read those (same SQL as inline folds). The
ids in scope are looked up once, into Set tables the folds probe (`folds.Scope`).

The tables live only while the report is computed (named by a token of their own: reports run side by side) and are
dropped after. With embedded ClickHouse the folds run side by side on sibling connections (`parallel.py`).
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

MEMORY = "Memory"
SET = "Set SETTINGS persistent = 0"  # the right side of IN, kept in memory only (never written to disk)


@contextmanager
def snapshot(clients: Sequence[ClickHouseClient], database: str, years: list[str], as_of: date | None,
             detail_years: list[str] | None = None) -> Iterator[Sources]:  # fmt: skip
    """Referrals and groups of `years`, trajectories and round tables of `detail_years` (default the same): a report
    compares a few referral and group figures with the year before, but trajectories only within its year. The
    folds run side by side on `clients`: first the ids in scope (`folds.Scope`: the referrals submitted in `years`
    and in `detail_years`, the group referrals of `years`, each a `Set` table), then referrals and groups, then what
    joins the referrals."""
    token = uuid.uuid4().hex[:12]
    names = {kind: f"{database}._snapshot_{token}_{kind}" for kind in ("ids", "detail_ids", "group_ids", "r", "t",
                                                                       "rt", "g")}  # fmt: skip
    params = {"years": sorted(years), "as_of_ms": as_of_ms(as_of)}
    detail = {**params, "years": sorted(detail_years or years)}
    referrals = f"SELECT * FROM {names['r']}"
    of_years = folds.Scope(referral_set=names["ids"], group_set=names["group_ids"])
    of_detail_years = folds.Scope(referral_set=names["detail_ids"])
    stages = [
        {"ids": (folds.submitted_referrals(database), params, SET),
         "detail_ids": (folds.submitted_referrals(database), detail, SET),
         "group_ids": (folds.requested_groups(database), params, SET)},
        {"r": (folds.referrals_fold(database, of_years), params, MEMORY),
         "g": (folds.groups_fold(database, of_years), params, MEMORY)},
        {"t": (folds.trajectories_fold(database, referrals, of_detail_years), detail, MEMORY),
         "rt": (folds.round_tables_fold(database, referrals, of_detail_years), detail, MEMORY)},
    ]  # fmt: skip
    settings = {**QUERY_SETTINGS, "allow_suspicious_low_cardinality_types": 1}

    def create(kind: str, select: str, bound: dict[str, Any], engine: str) -> Callable[[ClickHouseClient], str]:
        def run(client: ClickHouseClient) -> str:
            client.command(f"CREATE TABLE {names[kind]} ENGINE = {engine} AS {select}", parameters=bound,
                           settings=settings)  # fmt: skip
            return names[kind]

        return run

    try:
        for stage in stages:
            run_all(clients, [create(kind, *made) for kind, made in stage.items()])
        yield Sources(referrals=names["r"], trajectories=names["t"], round_tables=names["rt"], groups=names["g"])
    finally:
        for name in names.values():
            clients[0].command(f"DROP TABLE IF EXISTS {name}")

