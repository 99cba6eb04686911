"""ClickHouse client factory and the versioned migration runner (`migrations/`, shipped as package data).

A migration is `NNNN_description.sql` (statements separated by `;`, `{db}` for the database) or, for a step that
needs the code (refolding the current-state facts), `NNNN_description.py` with `apply(client, database)`.
A materialized view only sees the rows inserted after it exists: when a .sql migration creates one
(`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.v TO {db}.t AS <select>`), the runner then fills `t` with the view's own
SELECT over what is already stored (an event inserted meanwhile lands twice: the fact logs are built for that).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias, cast

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.query import QueryResult

from core.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
_VIEW = re.compile(
    r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<view>[\w.]+) TO (?P<target>[\w.]+) AS\s+(?P<select>.*)$", re.S
)
_VERSION = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")
# What every warehouse function takes: clickhouse-connect's client, the same class for chDB and a server.
ClickHouseClient: TypeAlias = Client
Row: TypeAlias = tuple[Any, ...]


def get_client(settings: Settings) -> ClickHouseClient:
    """A clickhouse-connect client: embedded chDB (`chdb:///dir`) or a server (`http://host:8123`)."""
    url = settings.clickhouse_url
    if url.startswith("chdb://"):
        Path(url.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=url)


def result_rows(result: QueryResult) -> list[Row]:
    """A row-oriented result's rows, as a new list: clickhouse-connect types them as sequences, they are tuples."""
    return list(cast(Sequence[Row], result.result_rows))


def migration_files(directory: Path = MIGRATIONS) -> list[tuple[int, Path]]:
    found = []
    for path in sorted([*directory.glob("*.sql"), *directory.glob("*.py")]):
        match = _VERSION.match(path.name)
        if not match:
            raise ValueError(f"migration {path.name} must be named NNNN_description.sql (or .py)")
        found.append((int(match.group(1)), path))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version in {directory}")
    return found


def _apply(client: ClickHouseClient, database: str, path: Path) -> None:
    if path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(f"kans_migration_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load migration {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.apply(client, database)
        return
    for statement in split_statements(path.read_text()):
        sql = statement.replace("{db}", database)
        client.command(sql)
        view = _VIEW.match(sql)
        if view:
            client.command(f"INSERT INTO {view.group('target')}\n{view.group('select')}")
            log.info("backfilled %s from its view %s", view.group("target"), view.group("view"))


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def migrate(client: ClickHouseClient, database: str, directory: Path = MIGRATIONS) -> list[int]:
    """Apply the migrations not yet recorded in `{db}.schema_migrations`, in order. Returns versions applied."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query(f"SELECT version FROM {database}.schema_migrations").result_rows}
    applied = []
    for version, path in migration_files(directory):
        if version in done:
            continue
        _apply(client, database, path)
        client.insert(f"{database}.schema_migrations", [[version, path.name]], column_names=["version", "name"])
        log.info("applied ClickHouse migration %s", path.name)
        applied.append(version)
    return applied
