"""The annual report's rendering on hand-made statistics (no engine): table layout and Dutch notation, which
statistics get charts and what they draw, the SVG, and a small report as HTML and XLSX."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import load_workbook

from services.api.report.charts import chart_specs, render_svg
from services.api.report.document import build_document
from services.api.report.render_html import render_html
from services.api.report.render_xlsx import render_xlsx
from services.api.report.tables import build_table, format_figure
from services.warehouse.statistics.model import Section, StatisticResult, StatisticRow
from services.warehouse.statistics.responses import ReportSection, YearReport

YEAR = "2019-2020"
OFFER = {"regular": "Regulier aanbod", "corona": "Corona-aanbod"}
GENDER = {"boy": "Jongen", "girl": "Meisje"}


def result(code: str, ref: str, dims: list[str], rows: list[dict[str, Any]], **extra: Any) -> StatisticResult:
    defaults = {"statistic": code, "title_nl": f"Titel van {code}", "section": Section.primary_individual,
                "report_ref": ref, "school_year": YEAR, "population": "individuele aanmeldingen basisonderwijs",
                "filters": {}, "unit": "referrals", "dimensions": dims, "total": 71}  # fmt: skip
    return StatisticResult(**{**defaults, **extra, "rows": [StatisticRow(**row) for row in rows]})


def by_gender(suppressed: bool = False) -> StatisticResult:
    """R02 as the report's Tabel 1: 27/8 regular, 18/18 corona (listed out of order on purpose)."""
    counts = {("corona", "boy"): 18, ("regular", "girl"): 8, ("regular", "boy"): 27, ("corona", "girl"): 18}
    rows = [{"offer_type": o, "offer_type_label_nl": OFFER[o], "gender": g, "gender_label_nl": GENDER[g],
             "value": None if suppressed and n < 10 else n, "suppressed": suppressed and n < 10}
            for (o, g), n in counts.items()]  # fmt: skip
    return result("R02", "T1", ["offer_type", "gender"], rows, audience="policy" if suppressed else "desk")


def by_month() -> StatisticResult:
    months = (("2019-09", "september 2019", 14), ("2019-10", "oktober 2019", 5))
    rows = [{"month": m, "month_label_nl": label, "offer_type": "regular", "offer_type_label_nl": OFFER["regular"],
             "value": n} for m, label, n in months]  # fmt: skip
    return result("R01", "G1", ["month", "offer_type"], rows)


def schools() -> StatisticResult:
    aspects = {"primary": "Aantal basisscholen", "secondary": "Aantal secundaire scholen"}
    rows = [{"aspect": a, "aspect_label_nl": aspects[a], "schools_attended": n, "schools_attended_label_nl": f"{n} "
             "scholen", "value": v, "pct": p} for a, n, v, p in (("primary", "1", 117, 43.5), ("primary", "2", 58,
             21.6), ("secondary", "1", 121, 45.0))]  # fmt: skip
    return result("R41", "G26, G27", ["aspect", "schools_attended"], rows, section=Section.secondary_individual)


def test_figures_are_written_the_dutch_way() -> None:
    assert [format_figure(1234), format_figure(12.5), format_figure(35.14, "pct"), format_figure(0)] == [
        "1.234", "12,5", "35,1%", "0"]  # fmt: skip
    assert (format_figure(None, suppressed=True), format_figure(None)) == ("x", "\u2013")


def test_offer_by_gender_is_a_cross_table_like_the_reports_tabel_1() -> None:
    table = build_table(by_gender())
    assert table.headers == ["Aanbod", "Jongen", "Meisje"] and table.column_dimension == "gender"
    assert [(row.labels, [v.text for v in row.values]) for row in table.rows] == [
        (["Regulier aanbod"], ["27", "8"]),
        (["Corona-aanbod"], ["18", "18"]),
    ]
    assert table.total is not None and table.total.text == "71"
    hidden = build_table(by_gender(suppressed=True))
    assert [[v.text for v in row.values] for row in hidden.rows] == [["27", "x"], ["18", "18"]]


def test_a_statistic_with_percentages_gets_a_percentage_column() -> None:
    table = build_table(schools())
    assert table.headers == ["Onderdeel", "Aantal scholen", "Aantal aanmeldingen", "%"]
    assert [v.text for v in table.rows[0].values] == ["117", "43,5%"]


def test_charts_where_the_report_has_one_per_aspect_and_by_month_as_a_line() -> None:
    assert chart_specs(by_gender()) == []  # T1 is a table only
    (months,) = chart_specs(by_month())
    assert months.kind == "line" and months.categories == ("september 2019", "oktober 2019")
    assert months.series == (("Regulier aanbod", (14.0, 5.0)),)
    primary, secondary = chart_specs(schools())
    assert (primary.subtitle, primary.categories, primary.series[0][1]) == (
        "Aantal basisscholen", ("1 scholen", "2 scholen"), (117.0, 58.0))  # fmt: skip
    assert secondary.series[0][1] == (121.0,)


def test_a_chart_is_an_inline_svg_with_its_labels_as_text_and_its_own_ids() -> None:
    (spec,) = chart_specs(by_month())
    first, second = render_svg(spec, "grafiek-1", "Grafiek 1: per maand"), render_svg(spec, "grafiek-2", "G2")
    root = ET.fromstring(first)
    assert root.tag.endswith("svg") and root.get("aria-label") == "Grafiek 1: per maand"
    assert "september 2019" in first and "Aantal aanmeldingen" in first  # text stays text
    ids_first, ids_second = set(re.findall(r'id="([^"]+)"', first)), set(re.findall(r'id="([^"]+)"', second))
    assert ids_first and all(i.startswith("grafiek-1-") for i in ids_first) and not ids_first & ids_second


def small_report() -> YearReport:
    sections = [
        ReportSection(section=Section.primary_individual, title_nl="Basisonderwijs: individueel",
                      statistics=[by_month(), by_gender()]),
        ReportSection(section=Section.secondary_individual, title_nl="Secundair onderwijs: individueel",
                      statistics=[schools()]),
    ]  # fmt: skip
    return YearReport(school_year=YEAR, as_of=date(2020, 8, 31), audience="desk", filters={"channel": ["lars"]},
                      sections=sections, elapsed_ms=12.0)  # fmt: skip


def test_the_html_report_numbers_tables_and_charts_and_says_what_it_is_based_on() -> None:
    html = render_html(build_document(small_report()))
    assert re.findall(r"<caption>(Tabel \d+): ", html) == ["Tabel 1", "Tabel 2", "Tabel 3"]
    assert re.findall(r"<figcaption>(Grafiek \d+): ", html) == ["Grafiek 1", "Grafiek 2", "Grafiek 3"]
    assert "Grafiek 2: Titel van R41 \u2013 Aantal basisscholen, schooljaar 2019-2020" in html
    for text in ("1 Basisonderwijs", "1.1 Basisonderwijs: individueel", "2.1 Secundair onderwijs: individueel",
                 "zoals geregistreerd tot en met 31/08/2020", "kanalen: LARS", 'href="#R02"'):  # fmt: skip
        assert text in html, text
    assert html.count("<svg") == 3  # inline: the page loads nothing
    assert not re.search(r'(src|href)="(https?:)?//|<script|<link rel="stylesheet"|url\(https?:', html)


def test_the_workbook_has_a_sheet_per_table_with_numbers_and_native_charts() -> None:
    book = load_workbook(BytesIO(render_xlsx(build_document(small_report()))))
    assert book.sheetnames == ["Inhoud", "Tabel 1 (R01)", "Tabel 2 (R02)", "Tabel 3 (R41)"]
    sheet = book["Tabel 2 (R02)"]
    assert str(sheet["A1"].value).startswith("Tabel 2: Titel van R02")
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=5, max_row=7, max_col=3)] == [
        ["Aanbod", "Jongen", "Meisje"], ["Regulier aanbod", 27, 8], ["Corona-aanbod", 18, 18]]  # fmt: skip
    assert len(book["Tabel 1 (R01)"]._charts) == 1 and len(book["Tabel 3 (R41)"]._charts) == 2
    assert not book["Tabel 2 (R02)"]._charts


def test_residence_is_headed_as_addresses_and_the_youth_coaches_as_school_workings() -> None:
    """R06 counts addresses (issue 14, rule 3) and R50 the coach settings: the table says what its numbers count."""
    rows = [{"residence_postcode": "1030", "residence_postcode_label_nl": "1030 Schaarbeek", "value": 2}]
    r06 = build_table(result("R06", "T2", ["residence_postcode"], rows, unit="households", total=2))
    assert r06.headers[-1] == "Aantal adressen"
    coach_rows = [{"provider": "abrusco", "provider_label_nl": "Abrusco", "measure": "settings",
                   "measure_label_nl": "Schoolwerkingen", "value": 14}]  # fmt: skip
    r50 = build_table(result("R50", "", ["provider", "measure"], coach_rows, unit="coach_settings", total=14))
    assert "14" in [v.text for row in r50.rows for v in row.values]
