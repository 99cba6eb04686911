"""Scanners for personal data in what the platform stored: Kafka topics and ClickHouse tables.

Looks for Belgian national register numbers (11 digits as one token, valid date part and mod-97 check),
e-mail addresses, and the canary values the tests submit on purpose to check they are refused.
Run as `python -m tests.privacy_scan <chdb dir>` to scan a chDB directory from a separate process.
"""

from __future__ import annotations

import re
import sys
from typing import Any

# Values the tests deliberately put into submissions that must be refused or pseudonymised.
CANARIES = ("Jan Janssens", "Fatima El Amrani", "LARS-PUPIL-")
_RRN = re.compile(r"(?<![0-9A-Za-z])(\d{2})\.?(\d{2})\.?(\d{2})-?(\d{3})\.?(\d{2})(?![0-9A-Za-z])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def is_national_register_number(match: re.Match[str]) -> bool:
    yy, mm, dd, serial, check = match.groups()
    if not (0 <= int(mm) <= 12 or 20 <= int(mm) <= 32 or 40 <= int(mm) <= 52) or int(dd) > 31:
        return False
    base = int(yy + mm + dd + serial)
    return int(check) in (97 - base % 97, 97 - (2_000_000_000 + base) % 97)


def findings(text: str) -> list[str]:
    found = [f"canary {c!r}" for c in CANARIES if c in text]
    found += [f"national register number {m.group(0)}" for m in _RRN.finditer(text) if is_national_register_number(m)]
    if "@" in text:  # the e-mail pattern costs half the scan; most records have no @ at all
        found += [f"e-mail {m.group(0)}" for m in _EMAIL.finditer(text)]
    return found


def scan_clickhouse(client: Any) -> dict[str, list[str]]:
    """Every row of every table of every non-system database, as text."""
    out: dict[str, list[str]] = {}
    tables = client.query(
        "SELECT database, name FROM system.tables WHERE database NOT IN "
        "('system', 'INFORMATION_SCHEMA', 'information_schema') AND engine NOT LIKE '%View%'"
    ).result_rows
    for database, table in tables:
        text = client.command(f"SELECT * FROM `{database}`.`{table}` FORMAT TSV") or ""
        if found := findings(str(text)):
            out[f"{database}.{table}"] = found[:5]
    return out


def main(path: str) -> int:
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    problems = scan_clickhouse(client)
    for table, found in problems.items():
        print(f"{table}: {found}")
    print(f"scanned; {len(problems)} table(s) with findings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
