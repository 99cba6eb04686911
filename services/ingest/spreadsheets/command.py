"""`kans import`: import an export from the command line, with a progress bar, a summary and an error report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from core.progress import RateColumn
from services.ingest.spreadsheets.importer import (
    POSTS_IN_FLIGHT,
    BatchReply,
    ImportSummary,
    IngestUnavailable,
    Poster,
    import_file,
    write_error_report,
)
from services.ingest.spreadsheets.mapping import load_mapping
from services.ingest.spreadsheets.reader import estimate_rows

SHOWN_ERRORS = 10


def http_poster(client: httpx.Client) -> Poster:
    """Post batches to the ingest's public endpoint (the client carries base URL and API-key header)."""

    def post(submissions: list[dict[str, Any]]) -> BatchReply:
        try:
            response = client.post("/v1/events/batch", json=submissions)
        except httpx.TransportError as err:
            raise IngestUnavailable(f"ingest not reachable: {err}") from err
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
        return BatchReply(response.status_code, body if isinstance(body, dict) else {"detail": body})

    return post


def run_import_command(
    file: Path,
    mapping_name: str,
    ingest_url: str,
    api_key: str | None,
    report: Path | None = None,
    dry_run: bool = False,
    console: Console | None = None,
) -> ImportSummary:
    """Import `file` with the named mapping into the ingest at `ingest_url`; raise ImportFailed/MappingError."""
    console = console or Console(stderr=True)
    mapping = load_mapping(mapping_name)
    headers = {"X-API-Key": api_key} if api_key else {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn("rows"),
               TimeRemainingColumn(), TimeElapsedColumn())  # fmt: skip
    with (
        httpx.Client(base_url=ingest_url, headers=headers, timeout=120) as client,
        Progress(*columns, console=console, transient=False) as progress,
    ):
        task = progress.add_task(f"{file.name} ({mapping.name})", total=estimate_rows(file))
        summary = import_file(
            file, mapping, None if dry_run else http_poster(client), in_flight=POSTS_IN_FLIGHT,
            progress=lambda rows: progress.advance(task, rows),
        )  # fmt: skip
        progress.update(task, total=summary.rows, completed=summary.rows)
    _print_summary(console, summary, report)
    return summary


def _print_summary(console: Console, summary: ImportSummary, report: Path | None) -> None:
    verb = "would import (dry run)" if summary.dry_run else "imported"
    console.print(
        f"{summary.rows} rows: {summary.imported_rows} {verb}, {summary.invalid_rows} invalid; "
        f"{summary.events} events: {summary.created} created, {summary.duplicates} duplicates (already imported)"
    )
    if report is not None:
        with report.open("w", encoding="utf-8", newline="") as out:
            write_error_report(summary.errors, out)
        console.print(f"error report ({len(summary.errors)} lines): {report}")
    for error in summary.errors[:SHOWN_ERRORS]:
        console.print(f"  row {error.row}, column {error.column or '(row)'}: {error.reason}", markup=False)
    if len(summary.errors) > SHOWN_ERRORS:
        hint = "see the report" if report else "write them all with --report errors.csv"
        console.print(f"  … and {len(summary.errors) - SHOWN_ERRORS} more ({hint})")
