"""A computed year report -> the bytes of one format (HTML, PDF, XLSX): shared by the API route and `kans report`."""

from __future__ import annotations

from enum import StrEnum

from services.api.report.document import build_document
from services.api.report.render_html import render_html
from services.api.report.render_pdf import html_to_pdf
from services.warehouse.statistics.responses import YearReport


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ReportFormat.html: "text/html; charset=utf-8",
    ReportFormat.pdf: "application/pdf",
    ReportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_name(school_year: str, report_format: ReportFormat) -> str:
    return f"kans-jaarrapport-{school_year}.{report_format.value}"


def render_report(report: YearReport, report_format: ReportFormat, threshold: int | None = None) -> bytes:
    """The whole report in one format (a PDF needs Chromium: `PdfUnavailable` otherwise)."""
    document = build_document(report, threshold)
    if report_format is ReportFormat.xlsx:
        from services.api.report.render_xlsx import render_xlsx  # openpyxl: imported when a workbook is asked

        return render_xlsx(document)
    html = render_html(document)
    return html_to_pdf(html) if report_format is ReportFormat.pdf else html.encode("utf-8")
