"""The report as an XLSX workbook (openpyxl): a contents sheet, then one sheet per table ("Tabel n (Rxx)") with
Dutch headers and numbers as numbers, and a native Excel chart beside each table the report draws."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from services.api.report.charts import is_horizontal
from services.api.report.document import SOURCE_NL, ChartView, ReportDocument, StatisticView
from services.api.report.tables import Value

HEADER_ROW = 5
BOLD, TITLE = Font(bold=True), Font(bold=True, size=12)
BAND = PatternFill("solid", fgColor="F3F6F9")
NOTE = Font(italic=True, color="5B6775")


def sheet_name(view: StatisticView) -> str:
    """One sheet per table: "Tabel 2 (R02)" (Excel allows 31 characters)."""
    return f"Tabel {view.table_number} ({view.result.statistic})"


def render_xlsx(document: ReportDocument) -> bytes:
    workbook = Workbook()
    contents = workbook.active
    assert contents is not None  # a new workbook always has its first sheet
    _contents(contents, document)
    for view in document.statistics:
        _table_sheet(workbook.create_sheet(sheet_name(view)), view)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _contents(ws: Worksheet, document: ReportDocument) -> None:
    ws.title = "Inhoud"
    ws.append([document.title])
    ws["A1"].font = TITLE
    for label, value in document.basis:
        ws.append([label, value])
    ws.append(["Aangemaakt op", document.generated_at.strftime("%d/%m/%Y %H:%M")])
    ws.append([])
    ws.append(["Tabel", "Blad", "Statistiek", "Titel", "Jaarrapport", "Grafieken"])
    for cell in ws[ws.max_row]:
        cell.font, cell.fill = BOLD, BAND
    for view in document.statistics:
        name = sheet_name(view)
        charts = ", ".join(str(c.number) for c in view.charts)
        ws.append(
            [view.table_number, name, view.result.statistic, view.result.title_nl, view.result.report_ref, charts]
        )
        link = ws.cell(ws.max_row, 2)
        link.hyperlink, link.font = f"#'{name}'!A1", Font(color="1F5F8B", underline="single")
    for column, width in zip("ABCDEF", (12, 16, 10, 90, 12, 12), strict=True):
        ws.column_dimensions[column].width = width


def _put(ws: Worksheet, row: int, column: int, value: Value) -> None:
    """A figure as a number (pct in percentage points), 'x' when suppressed, empty when there is none."""
    cell = ws.cell(row, column, "x" if value.suppressed else value.value)
    if value.kind == "pct":
        cell.number_format = "0.0"
    elif isinstance(value.value, float) and not value.value.is_integer():
        cell.number_format = "#,##0.0"
    else:
        cell.number_format = "#,##0"


def _table_sheet(ws: Worksheet, view: StatisticView) -> None:
    table, result = view.table, view.result
    ws.cell(1, 1, view.table_caption).font = TITLE
    ws.cell(2, 1, f"Populatie: {result.population}. Statistiek {result.statistic}"
                  + (f", jaarrapport {result.report_ref}" if result.report_ref else "")).font = NOTE  # fmt: skip
    ws.cell(3, 1, result.note_nl).font = NOTE
    for column, header in enumerate(table.headers, start=1):
        cell = ws.cell(HEADER_ROW, column, header)
        cell.font, cell.fill = BOLD, BAND
        cell.alignment = Alignment(horizontal="left" if column <= table.label_columns else "right", wrap_text=True)
    row = HEADER_ROW
    for row, table_row in enumerate(table.rows, start=HEADER_ROW + 1):
        for column, label in enumerate(table_row.labels, start=1):
            ws.cell(row, column, label)
        for column, value in enumerate(table_row.values, start=table.label_columns + 1):
            _put(ws, row, column, value)
    if not table.rows:
        row += 1
        ws.cell(row, 1, "Geen gegevens voor deze populatie.").font = NOTE
    row += 2
    ws.cell(row, 1, "Totaal in de populatie").font = BOLD
    if table.total is not None:
        _put(ws, row, 2, table.total)
    for label, value in table.summary:
        row += 1
        ws.cell(row, 1, label)
        _put(ws, row, 2, value)
    ws.cell(row + 2, 1, SOURCE_NL).font = NOTE
    for column in range(1, len(table.headers) + 1):
        texts = [str(ws.cell(r, column).value or "") for r in range(HEADER_ROW, HEADER_ROW + len(table.rows) + 1)]
        ws.column_dimensions[ws.cell(1, column).column_letter].width = min(48, max(10, *map(len, texts)) + 2)
    row = HEADER_ROW
    for chart in view.charts:
        row = _native_chart(ws, chart, len(table.headers) + 2, row)


def _native_chart(ws: Worksheet, chart: ChartView, column: int, row: int) -> int:
    """Write the chart's numbers beside the table and draw an Excel chart beside them; the next free row."""
    spec = chart.spec
    ws.cell(row, column, f"Grafiek {chart.number}").font = BOLD
    for j, (name, values) in enumerate(spec.series, start=1):
        ws.cell(row, column + j, name).font = BOLD
        for i, value in enumerate(values, start=1):
            ws.cell(row + i, column + j, value)
    for i, category in enumerate(spec.categories, start=1):
        ws.cell(row + i, column, category)
    excel = LineChart() if spec.kind == "line" else BarChart()
    if isinstance(excel, BarChart):
        excel.type = "bar" if is_horizontal(spec) else "col"
        if spec.stacked:
            excel.grouping, excel.overlap = "stacked", 100
    data = Reference(ws, min_col=column + 1, max_col=column + len(spec.series), min_row=row,
                     max_row=row + len(spec.categories))  # fmt: skip
    excel.add_data(data, titles_from_data=True)
    excel.set_categories(Reference(ws, min_col=column, min_row=row + 1, max_row=row + len(spec.categories)))
    excel.title = chart.caption
    excel.y_axis.title = spec.value_label
    excel.x_axis.delete = excel.y_axis.delete = False
    excel.width, excel.height = 20, max(8.0, min(30.0, 0.55 * len(spec.categories) + 4))
    ws.column_dimensions[ws.cell(1, column).column_letter].width = 36
    ws.add_chart(excel, ws.cell(row, column + len(spec.series) + 2).coordinate)
    return row + max(len(spec.categories) + 3, int(2 * excel.height) + 2)
