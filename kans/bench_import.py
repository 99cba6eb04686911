"""`kans bench-import`: a spreadsheet import end to end (file -> ingest -> Kafka -> ClickHouse, until every row is
counted by the API) on its own isolated platform, in rows/s, with the import process's peak memory.

Also the synthetic LARS export the benchmark and the e2e test import: realistic Dutch values, deterministic.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import platform as host
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer

from core.auth import development_headers
from core.settings import get_settings
from core.topics import ensure_topics
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, isolated_settings, settings_env

LARS_COLUMNS = [
    "Aanmeldingsnummer", "Datum aanmelding", "CLB-code", "Leerling-ID", "Geslacht", "Geboortejaar",
    "Geboortemaand", "Aanbod", "Onderwijsniveau", "Leerjaar", "Onderwijsvorm", "Type BuBaO", "Type BuSO",
    "Opleidingsvorm", "Instellingsnummer school", "Ligging school", "Postcode", "Gemeente", "Thuistaal",
    "Schoolse vertraging", "Aantal lagere scholen", "Aantal secundaire scholen", "Halve dagen B-code",
    "Halve dagen Z-code", "Halve dagen andere codes", "Risicogedrag", "Tucht", "Bijzonderheden schoolsituatie",
    "Ambulante hulpverlening", "Residentiële setting", "Ondersteuningsnetwerk", "Opmerking",
]  # fmt: skip
_PLACES = [("1000", "Brussel"), ("1020", "Laken"), ("1030", "Schaarbeek"), ("1070", "Anderlecht"),
           ("1080", "Sint-Jans-Molenbeek"), ("1120", "Neder-Over-Heembeek"), ("1210", "Sint-Joost-ten-Node"),
           ("1700", "Dilbeek")]  # fmt: skip
_LANGUAGES = ["Frans", "Nederlands", "Arabisch", "Frans", "Turks", "Engels", "Frans"]
_RISKS = ["Demotivatie", "Spijbelen", "Gedragsproblemen", "Demotivatie;Spijbelen", "Internaliserend gedrag", ""]
_CARE = ["", "", "CGG", "Psychologische begeleiding;CAW/JAC", "OCJ", "Contextbegeleiding"]
_FORMS = ["ASO", "TSO", "BSO", "BSO", "A-stroom", "B-stroom", "OKAN", "KSO"]


def lars_row(n: int, school_year_start: int) -> dict[str, Any]:
    """Row `n` of a valid LARS export for a school year (text cells as LARS writes them)."""
    referred = date(school_year_start, 9, 1) + timedelta(days=n % 300)
    secondary = n % 4 != 0
    grade = 1 + n % 6
    age = (11 + grade) if secondary else (5 + grade)
    postcode, town = _PLACES[n % len(_PLACES)]
    return {
        "Aanmeldingsnummer": f"{school_year_start}-{n:06d}", "Datum aanmelding": referred.strftime("%d/%m/%Y"),
        "CLB-code": f"clb-brussel-{1 + n % 5}", "Leerling-ID": f"LL{7_000_000 + n}",
        "Geslacht": "Meisje" if n % 4 == 1 else "Jongen", "Geboortejaar": str(school_year_start - age),
        "Geboortemaand": str(1 + n % 12), "Aanbod": "Corona" if n % 10 == 3 else "Regulier",
        "Onderwijsniveau": "Secundair onderwijs" if secondary else "Basisonderwijs", "Leerjaar": str(grade),
        "Onderwijsvorm": _FORMS[n % len(_FORMS)] if secondary else "", "Type BuBaO": "", "Type BuSO": "",
        "Opleidingsvorm": "", "Instellingsnummer school": str(100_000 + n % 250),
        "Ligging school": "Buiten Brussel" if n % 25 == 0 else "Brussel", "Postcode": postcode, "Gemeente": town,
        "Thuistaal": _LANGUAGES[n % len(_LANGUAGES)], "Schoolse vertraging": ["0", "1", "2", "3+"][n % 4],
        "Aantal lagere scholen": str(1 + n % 3), "Aantal secundaire scholen": str(1 + n % 2) if secondary else "",
        "Halve dagen B-code": str(n % 41), "Halve dagen Z-code": str(n % 7), "Halve dagen andere codes": "0",
        "Risicogedrag": _RISKS[n % len(_RISKS)], "Tucht": ["Geen", "Geen", "Dreigt", "In tuchtprocedure"][n % 4],
        "Bijzonderheden schoolsituatie": "Zittenblijven" if secondary and n % 3 == 0 else "",
        "Ambulante hulpverlening": _CARE[n % len(_CARE)], "Residentiële setting": "Geen",
        "Ondersteuningsnetwerk": "Ja" if n % 5 == 0 else "Nee", "Opmerking": "",
    }  # fmt: skip


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: list[str] = LARS_COLUMNS) -> Path:
    """A CSV as Belgian Excel writes it: `;`-separated, UTF-8 with BOM."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, columns, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def as_spreadsheet_cells(row: dict[str, Any]) -> dict[str, Any]:
    """What a user's Excel makes of a LARS row: real date cells and numbers instead of text."""
    out = dict(row)
    with contextlib.suppress(TypeError, ValueError):  # an invalid date stays text, as Excel keeps it
        out["Datum aanmelding"] = datetime.strptime(row["Datum aanmelding"], "%d/%m/%Y")
    for column in ("Geboortejaar", "Geboortemaand", "Halve dagen B-code", "Halve dagen Z-code"):
        if str(row.get(column, "")).isdigit():
            out[column] = int(row[column])
    return out


def write_xlsx(path: Path, rows: Iterable[dict[str, Any]], columns: list[str] = LARS_COLUMNS) -> Path:
    """An XLSX with one sheet (openpyxl's streaming writer), date cells formatted dd/mm/yyyy."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Aanmeldingen")
    sheet.append(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            cell = WriteOnlyCell(sheet, value=value if value != "" else None)
            if isinstance(value, datetime):
                cell.number_format = "DD/MM/YYYY"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
    return path


def _referrals_counted(api: httpx.Client, school_year: str) -> int:
    return int(api.get(f"/v1/stats/{school_year}/referrals-per-month").json()["total"])


def _rows(count: int, start: int) -> Iterator[dict[str, Any]]:
    return (lars_row(n, start) for n in range(count))


def _timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command to its end: (seconds, peak resident memory in MB of that process alone)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:5])} exited with {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def run_bench_import(rows: int, file_format: str = "csv", api_key: str = "kans-dev-lars") -> dict[str, Any]:
    """Generate a LARS export of `rows` rows, import it with `kans import` in its own process, and wait until the
    API counts every referral in ClickHouse. A dry run first measures the importer alone (read, map, validate)."""
    base = get_settings()
    kafka = LocalKafka(base)
    kafka.start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / f"import-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    settings = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING",
                                 **security_of(kafka.client_settings()))
    ensure_topics(settings)
    start_year, school_year = 2013, "2013-2014"
    source = _rows(rows, start_year)
    file = (write_xlsx(workdir / "lars-export.xlsx", map(as_spreadsheet_cells, source)) if file_format == "xlsx"
            else write_csv(workdir / "lars-export.csv", source))  # fmt: skip
    typer.echo(f"generated {rows} rows: {file} ({file.stat().st_size / 1e6:.1f} MB)")
    command = [sys.executable, "-m", "kans.cli", "import", str(file), "--mapping", "lars-individual",
               "--ingest-url", settings.ingest_base_url, "--report", str(workdir / "errors.csv")]  # fmt: skip
    env = {**settings_env(settings), "KANS_API_KEY": api_key}
    dry_run_s, dry_run_mb = _timed_process([*command, "--dry-run"], env)
    with ServiceProcesses(settings, workdir / "logs") as services:
        services.start_all()
        with httpx.Client(base_url=settings.api_base_url, timeout=30, headers=development_headers(settings)) as api:
            started = time.perf_counter()
            imported, peak_mb = _timed_process(command, env)
            deadline = time.monotonic() + 600
            while (counted := _referrals_counted(api, school_year)) < rows:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {counted} of {rows} referrals counted in ClickHouse after 600 s")
                time.sleep(0.2)
            end_to_end = time.perf_counter() - started
    result = {
        "when": stamp, "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "rows": rows, "format": file_format, "file_mb": round(file.stat().st_size / 1e6, 1),
        "dry_run_s": round(dry_run_s, 1), "dry_run_rows_per_s": round(rows / dry_run_s),
        "import_process_s": round(imported, 1), "import_rows_per_s": round(rows / imported),
        "end_to_end_s": round(end_to_end, 1), "end_to_end_rows_per_s": round(rows / end_to_end),
        "import_peak_rss_mb": round(peak_mb, 1), "dry_run_peak_rss_mb": round(dry_run_mb, 1),
    }  # fmt: skip
    out = REPO_ROOT / "bench-results" / f"import-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    typer.echo(json.dumps(result, indent=2))
    typer.echo(f"saved to {out.relative_to(REPO_ROOT)}")
    return result
