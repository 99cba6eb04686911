"""Spreadsheet import over HTTP: upload an export, get the summary and a link to the error report.

The upload's events go through this service's own public batch endpoint (in process, with the caller's API
key), so an import is authorised, validated, deduplicated and published exactly like any other batch.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio.from_thread
import anyio.lowlevel
import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.http_errors import FieldError, responses, validation_refusal
from core.settings import Settings
from services.ingest.deps import CallerDep, SettingsDep, get_caller
from services.ingest.spreadsheets.importer import (
    POSTS_IN_FLIGHT,
    BatchReply,
    ImportFailed,
    ImportSummary,
    IngestUnavailable,
    Poster,
    import_file,
    write_error_report,
)
from services.ingest.spreadsheets.mapping import Mapping, MappingError, load_mapping
from services.ingest.spreadsheets.reader import CSV_SUFFIXES, XLSX_SUFFIXES

# The caller's key is checked before the upload is read; each batch is then posted with that same key.
router = APIRouter(prefix="/v1/imports", tags=["imports"], dependencies=[Depends(get_caller)],
                   responses=responses(401, 422))
SHOWN_ERRORS = 20


class RowProblem(BaseModel):
    row: int = Field(description="1-based spreadsheet row number (row 1 is the header).")
    column: str = Field(description="The column at fault; empty when the whole row is.")
    reason: str


class ImportResult(BaseModel):
    """What an import did; invalid rows are in the error report at `errors_url`."""

    import_id: str
    mapping: str
    file: str
    rows: int
    imported_rows: int
    invalid_rows: int
    events: int
    created: int = Field(description="New events.")
    duplicates: int = Field(description="Events already in the log (the file, or part of it, was imported before).")
    dry_run: bool
    errors_url: str | None = Field(description="CSV (row;column;reason) of every invalid row; null when none.")
    first_errors: list[RowProblem]


class UploadRefused(Exception):
    """The upload cannot be imported (not a CSV/XLSX, too large unpacked, a cell too long, wrong columns)."""

    def __init__(self, failure: ImportFailed) -> None:
        super().__init__(str(failure))
        self.failure = failure

    def response(self) -> JSONResponse:
        """422 in the validation format: the error names the `file` and says where (row, column) and why."""
        message = str(self.failure)
        return validation_refusal([FieldError(field="file", message=message, type=self.failure.type)],
                                  f"the upload cannot be imported: {message}")  # fmt: skip


def _reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "imports"


def _owner_file(settings: Settings, import_id: str) -> Path:
    return _reports_dir(settings) / f"{import_id}.owner.json"


def _owner(settings: Settings, import_id: str) -> str | None:
    """Who uploaded the import (the caller's name), or None when that is not recorded (nobody may read it)."""
    try:
        owner = json.loads(_owner_file(settings, import_id).read_text(encoding="utf-8")).get("owner")
    except (OSError, ValueError, AttributeError):
        return None
    return owner if isinstance(owner, str) else None


def _mapping(name: str) -> Mapping:
    try:
        return load_mapping(name)
    except MappingError as err:
        raise HTTPException(status_code=404, detail=str(err)) from err


def _in_process_poster(client: httpx.AsyncClient) -> Poster:
    """A poster for the importer's threads: each batch is posted on this event loop, to this very app."""
    loop = anyio.lowlevel.current_token()
    return lambda submissions: anyio.from_thread.run(_post, client, submissions, token=loop)


async def _post(client: httpx.AsyncClient, submissions: list[dict[str, Any]]) -> BatchReply:
    response = await client.post("/v1/events/batch", json=submissions)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return BatchReply(response.status_code, body if isinstance(body, dict) else {"detail": body})


async def _import_upload(request: Request, upload: Path, spec: Mapping, dry_run: bool) -> ImportSummary:
    """Import a saved upload, its batches posted to this very app with the caller's credential (API key or bearer
    token); 422 or 503 if it fails."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("x-api-key", "authorization")}
    transport = httpx.ASGITransport(app=request.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", headers=headers) as client:
            poster = None if dry_run else _in_process_poster(client)
            return await run_in_threadpool(import_file, upload, spec, poster, in_flight=POSTS_IN_FLIGHT)
    except ImportFailed as err:
        raise UploadRefused(err) from err
    except IngestUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err), headers={"Retry-After": "30"}) from err


@router.post("/{mapping}", response_model=ImportResult, responses=responses(
    404, 415, 503, s404="No mapping of this name (the detail lists the available ones).",
    s503="The ingest could not publish the upload's events now; import the same file again later (nothing is "
    "imported twice)."))  # fmt: skip
async def import_spreadsheet(
    request: Request,
    settings: SettingsDep,
    caller: CallerDep,
    mapping: Annotated[str, PathParam(pattern=r"^[a-z0-9-]+$", examples=["lars-individual"])],
    file: UploadFile,
    dry_run: Annotated[bool, Query(description="Only validate: post nothing.")] = False,
) -> ImportResult | JSONResponse:
    """Import a CSV or XLSX export (multipart field `file`) with a mapping of services/ingest/mappings/.

    Valid rows become events (a row's events all or none; importing the same file again adds nothing);
    invalid rows are listed with row number, column and reason in the error report at `errors_url`.
    """
    spec = _mapping(mapping)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        raise HTTPException(status_code=415, detail=f"upload a .csv or .xlsx file, not {suffix or 'no extension'}")
    import_id = uuid.uuid4().hex
    folder = _reports_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    upload = folder / f"{import_id}.upload{suffix}"
    try:
        with upload.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out)
        summary = await _import_upload(request, upload, spec, dry_run)
    except UploadRefused as refused:
        return refused.response()
    finally:
        upload.unlink(missing_ok=True)
    errors_url = None
    if summary.errors:
        _owner_file(settings, import_id).write_text(json.dumps({"owner": caller.name}), encoding="utf-8")
        with (folder / f"{import_id}.errors.csv").open("w", encoding="utf-8", newline="") as out:
            write_error_report(summary.errors, out)
        errors_url = str(request.url_for("import_errors", import_id=import_id).path)
    return ImportResult(
        import_id=import_id, file=file.filename or "", errors_url=errors_url, **summary.counts(),
        first_errors=[RowProblem(row=e.row, column=e.column, reason=e.reason) for e in summary.errors[:SHOWN_ERRORS]],
    )  # fmt: skip


@router.get("/{import_id}/errors.csv", name="import_errors", response_class=FileResponse, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The error report (CSV)."},
    **responses(404, s404="No error report for this import (it had no invalid row, or the id is unknown)."),
})  # fmt: skip
async def import_errors(
    settings: SettingsDep, caller: CallerDep, import_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
) -> FileResponse:
    """The error report of an import: `row;column;reason`, one line per problem. It belongs to the caller who
    uploaded the file: anyone else gets 404, as for an import that does not exist."""
    path = _reports_dir(settings) / f"{import_id}.errors.csv"
    if not path.is_file() or _owner(settings, import_id) != caller.name:
        raise HTTPException(status_code=404, detail=f"no error report for import {import_id}")
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"import-{import_id}-errors.csv")
