"""`GET /v1/reports/annual/{school_year}`: the whole annual report rendered as HTML (default), PDF or XLSX, with
the same filters, as-of and audience as the statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from core.http_errors import ErrorBody
from services.api.deps import YEAR, QuestionDep, WarehouseDep, checked_year
from services.api.report.export import MEDIA_TYPES, ReportFormat, file_name, render_report
from services.api.report.render_pdf import PdfUnavailable
from services.warehouse.statistics import engine

router = APIRouter(prefix="/v1/reports", tags=["reports"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: an HTML page (charts inline as SVG, no external resources), a PDF (A4, "
        "printed from the same page) or an XLSX workbook (a contents sheet, one sheet per table, native charts).",
        "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in ReportFormat},
    },
    503: {"model": ErrorBody, "description": "PDF asked but Chromium is not installed on the API's machine."},
}


@router.get("/annual/{school_year}", response_class=Response, responses=RESPONSES)
async def annual_report(
    warehouse: WarehouseDep,
    q: QuestionDep,
    school_year: Annotated[str, Path(pattern=YEAR, examples=["2019-2020"])],
    report_format: Annotated[
        ReportFormat, Query(alias="format", description="html (default), pdf or xlsx.")
    ] = ReportFormat.html,
) -> Response:
    """The whole annual report of a school year as the desk publishes it: basis- and secundair onderwijs, individual
    and group sections, every statistic R01-R59 as a table ("Tabel n") and, where the report has one, a chart
    ("Grafiek n"), with its population, the filters and as-of used and a table of contents. `audience=policy`
    suppresses small cells. PDF and XLSX come as downloads."""
    year = checked_year(school_year, "school_year")
    report = await warehouse.run(engine.report, year, q)
    try:
        body = await run_in_threadpool(render_report, report, report_format, q.audience.threshold)
    except PdfUnavailable as err:
        raise HTTPException(503, str(err)) from err
    headers = {}
    if report_format is not ReportFormat.html:
        headers["Content-Disposition"] = f'attachment; filename="{file_name(year, report_format)}"'
    return Response(body, media_type=MEDIA_TYPES[report_format], headers=headers)
