"""Import an export: read rows, map them, post valid records to the ingest in batches, report invalid rows.

A record's events always travel in one batch (all of a row or none). A batch the ingest cannot take now (503,
connection refused) is retried with backoff: safe, because the ingest deduplicates on (source_system,
source_ref). A row whose source record was imported before with different content (409), or whose event the
ingest refuses as it is (422 naming `body[i]`: a date outside the plausible window), is reported, and the rest of
its batch is posted again without it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.ingest.spreadsheets.conversion import MappedRecord, RowError, map_record, map_row
from services.ingest.spreadsheets.mapping import Mapping
from services.ingest.spreadsheets.reader import Row, SpreadsheetError, open_sheet

BATCH_EVENTS = 1000
IN_FLIGHT = 1  # batches posted at once by default (in order: a scripted ingest sees them one after the other)
# What the command and the upload route post at once: while the ingest waits for the broker's acknowledgement of
# one batch it validates the next (measured: 708 -> 987 rows/s end to end; a third batch in flight gained nothing).
POSTS_IN_FLIGHT = 2
REPORT_COLUMNS = ("row", "column", "reason")
BATCH_ITEM = re.compile(r"^body\[(\d+)\]\.(.+)$")


class IngestUnavailable(RuntimeError):
    """The ingest did not take the batch now (503, 5xx, no connection): retry later."""


class ImportFailed(RuntimeError):
    """The import cannot go on (wrong file, key refused, contract mismatch); what was posted stays posted. `type`
    is the error's code in the 422 answer (`not_csv`, `cell_too_long`, `xlsx_too_large` ...)."""

    def __init__(self, message: str, type: str = "import_failed") -> None:
        super().__init__(message)
        self.type = type


@dataclass(frozen=True)
class BatchReply:
    """What the ingest answered to one batch: status code and JSON body."""

    status: int
    body: dict[str, Any]


Poster = Callable[[list[dict[str, Any]]], BatchReply]


@dataclass
class ImportSummary:
    """Counts of one import; `errors` lists every row not imported, with its column and reason."""

    mapping: str
    rows: int = 0
    imported_rows: int = 0
    invalid_rows: int = 0
    events: int = 0
    created: int = 0
    duplicates: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "errors"}


def _records(mapping: Mapping, rows: Iterator[Row]) -> Iterator[MappedRecord]:
    if mapping.group_by is None:
        yield from (map_row(mapping, row) for row in rows)
        return
    groups: dict[Any, list[Row]] = {}  # a group tool export is small: its groups may be spread over the file
    for row in rows:
        groups.setdefault(row.cells.get(mapping.group_by), []).append(row)
    for key, members in groups.items():
        yield from (map_record(mapping, [row]) for row in members) if key is None else [map_record(mapping, members)]


def _digest(record: MappedRecord) -> bytes:
    # Keys unsorted: one mapping fills a record's fields in one order, so the same values give the same JSON.
    return hashlib.blake2b(json.dumps(record.submissions).encode(), digest_size=8).digest()


class _Run:
    """One import in progress: the batch being filled, the batches being posted (up to `in_flight` at a time, in
    worker threads, so that mapping the next batch overlaps the ingest's work on these), and the counts."""

    def __init__(self, mapping: Mapping, post: Poster | None, batch_events: int, progress: Callable[[int], None],
                 in_flight: int = IN_FLIGHT) -> None:  # fmt: skip
        self.mapping, self.post, self.batch_events, self.progress = mapping, post, batch_events, progress
        self.summary = ImportSummary(mapping.name, dry_run=post is None)
        self.pending: list[MappedRecord] = []
        self.pending_events = 0
        self.seen: dict[str, tuple[int, bytes]] = {}
        self.lock = threading.Lock()
        self.max_in_flight = max(1, in_flight)
        self.sender = ThreadPoolExecutor(max_workers=self.max_in_flight, thread_name_prefix="import-post")
        self.in_flight: deque[Future[None]] = deque()
        self.retrying = Retrying(retry=retry_if_exception_type(IngestUnavailable), reraise=True,
                                 wait=wait_exponential(multiplier=0.5, max=10), stop=stop_after_delay(180))  # fmt: skip

    def reject(self, record: MappedRecord, errors: list[RowError]) -> None:
        with self.lock:
            self.summary.errors.extend(errors)
            self.summary.invalid_rows += len(record.rows)
        self.progress(len(record.rows))

    def add(self, record: MappedRecord) -> None:
        self.summary.rows += len(record.rows)
        if record.errors:
            return self.reject(record, record.errors)
        digest = _digest(record)
        first = self.seen.setdefault(record.row_id, (record.rows[0], digest))
        if first[1] != digest:
            column = self.mapping.group_by or self.mapping.row_id
            reason = f"same natural id as row {first[0]} but other values: a correction needs its own id"
            return self.reject(record, [RowError(n, column, reason) for n in record.rows])
        if self.pending_events + len(record.submissions) > self.batch_events:
            self.flush()
        self.pending.append(record)
        self.pending_events += len(record.submissions)

    def flush(self) -> None:
        """Hand the filled batch to a sender once fewer than `max_in_flight` are being posted (the oldest batch's
        errors surface here)."""
        records, self.pending, self.pending_events = self.pending, [], 0
        if records:
            while len(self.in_flight) >= self.max_in_flight:
                self.in_flight.popleft().result()
            self.in_flight.append(self.sender.submit(self._send, records))

    def wait(self) -> None:
        while self.in_flight:
            self.in_flight.popleft().result()

    def close(self) -> None:
        self.sender.shutdown(wait=True, cancel_futures=True)

    def _send(self, records: list[MappedRecord]) -> None:
        created = duplicates = 0
        while records:
            submissions = [s for r in records for s in r.submissions]
            reply = self.retrying(self._post, submissions)
            if reply.status == 409:  # reported per row; the others go again (nothing of the batch was accepted)
                owners = [r for r in records for _ in r.submissions]
                refused = {id(owners[c["index"]]) for c in reply.body.get("conflicts", [])}
                reason = "imported before with other values: a correction needs its own id"
                for record in (r for r in records if id(r) in refused):
                    self.reject(record, [RowError(n, self.mapping.row_id, reason) for n in record.rows])
                records = [r for r in records if id(r) not in refused]
                continue
            if reply.status == 422:  # events refused as they are (dates): reported per row, the others go again
                records = self._reject_refused(records, reply.body)
                continue
            created, duplicates = int(reply.body["created"]), int(reply.body["duplicates"])
            break
        rows = sum(len(r.rows) for r in records)
        with self.lock:
            self.summary.created += created
            self.summary.duplicates += duplicates
            self.summary.imported_rows += rows
            self.summary.events += sum(len(r.submissions) for r in records)
        self.progress(rows)

    def _reject_refused(self, records: list[MappedRecord], body: dict[str, Any]) -> list[MappedRecord]:
        """Report the records whose events a 422 names (`body[i].field`); the records left to post again."""
        submissions = [(r, s) for r in records for s in r.submissions]
        problems: dict[int, list[RowError]] = {}
        for error in body["errors"]:
            index, path = _batch_item(error["field"])
            record, submission = submissions[index]
            column = self._column_of(submission, path)
            problems.setdefault(id(record), []).extend(RowError(n, column, error["message"]) for n in record.rows)
        for record in records:
            if id(record) in problems:
                self.reject(record, problems[id(record)])
        return [r for r in records if id(r) not in problems]

    def _column_of(self, submission: dict[str, Any], path: str) -> str:
        """The spreadsheet column that filled `path` of a submission, or the path itself."""
        for event in self.mapping.events:
            if event.event_type == submission.get("event_type") and path in event.record_fields:
                return event.record_fields[path].column_label or path
        return path

    def _post(self, submissions: list[dict[str, Any]]) -> BatchReply:
        if self.post is None:  # dry run: everything valid would be created or found a duplicate
            return BatchReply(202, {"created": 0, "duplicates": 0})
        reply = self.post(submissions)
        if reply.status >= 500:
            raise IngestUnavailable(f"ingest answered {reply.status}: {reply.body.get('detail', '')}")
        answered = reply.status in (202, 409) or (reply.status == 422 and _names_batch_items(reply.body))
        if not answered or (reply.status == 409 and "conflicts" not in reply.body):
            raise ImportFailed(f"ingest refused a batch with {reply.status}: {json.dumps(reply.body)[:2000]}")
        return reply


def import_file(
    path: Path,
    mapping: Mapping,
    post: Poster | None,
    *,
    batch_events: int = BATCH_EVENTS,
    in_flight: int = IN_FLIGHT,
    progress: Callable[[int], None] = lambda rows: None,
) -> ImportSummary:
    """Import every valid record of `path` through `post` (None: a dry run that only validates), posting up to
    `in_flight` batches at once (a record's events are always in one batch; records are independent)."""
    run = _Run(mapping, post, batch_events, progress, in_flight)
    try:
        with open_sheet(path) as sheet:
            if missing := mapping.missing_columns(sheet.header):
                raise ImportFailed(f"the file lacks the column(s) {', '.join(missing)} of mapping {mapping.name}")
            for record in _records(mapping, sheet.rows):
                run.add(record)
        run.flush()
        run.wait()
    except SpreadsheetError as err:
        raise ImportFailed(str(err), err.type) from err
    finally:
        run.close()
    run.summary.errors.sort(key=lambda e: (e.row, e.column))
    return run.summary


def _names_batch_items(body: dict[str, Any]) -> bool:
    """A 422 whose every error names one event of the batch (`body[i].field`): those are refused, not the batch."""
    errors = body.get("errors")
    return isinstance(errors, list) and bool(errors) and all(BATCH_ITEM.match(str(e.get("field"))) for e in errors)


def _batch_item(field: str) -> tuple[int, str]:
    """`body[3].occurred_at` -> (3, "occurred_at")."""
    index, path = BATCH_ITEM.fullmatch(field).groups()  # type: ignore[union-attr]  # checked by _names_batch_items
    return int(index), path


def write_error_report(errors: list[RowError], out: IO[str]) -> None:
    """The downloadable error report: one line per problem (row, column, reason), `;`-separated as Excel reads it
    in Belgium."""
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    writer.writerows((e.row, e.column, e.reason) for e in errors)
