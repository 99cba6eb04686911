"""The annual report as a document: the report's parts and sections, every statistic with its numbered table
("Tabel n") and charts ("Grafiek n"), and what the figures are based on (as-of, filters, audience). Pure: the same
document feeds the HTML (and so the PDF) and the XLSX."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.api.report.charts import ChartSpec, chart_specs
from services.api.report.tables import ReportTable, build_table
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.model import SECTION_LEVEL, StatisticResult
from services.warehouse.statistics.responses import YearReport

LEVEL_TITLES_NL = {"primary": "Basisonderwijs", "secondary": "Secundair onderwijs"}
EN_DASH = "\u2013"
SOURCE_NL = "Bron: KANS-gebeurtenissenlog (aanmeldingen, trajecten en groepen zoals geregistreerd)"


@dataclass
class ChartView:
    number: int
    caption: str
    spec: ChartSpec
    anchor: str


@dataclass
class StatisticView:
    """One statistic in the report: its heading, table and charts, population and notes."""

    number: str
    result: StatisticResult
    table: ReportTable
    table_number: int
    table_caption: str
    charts: list[ChartView] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return self.result.statistic


@dataclass
class SectionView:
    number: str
    anchor: str
    title: str
    statistics: list[StatisticView]


@dataclass
class PartView:
    """A part of the report: basis- or secundair onderwijs, each with its individual and group sections."""

    number: str
    title: str
    sections: list[SectionView]


@dataclass
class ReportDocument:
    title: str
    school_year: str
    basis: list[tuple[str, str]]  # (Dutch label, value): as-of, population filters, audience, computed in
    parts: list[PartView]
    generated_at: datetime

    @property
    def statistics(self) -> list[StatisticView]:
        return [s for part in self.parts for section in part.sections for s in section.statistics]

    @property
    def sections(self) -> list[SectionView]:
        return [section for part in self.parts for section in part.sections]


def caption(kind: str, number: int, title: str, school_year: str, subtitle: str = "") -> str:
    """The report's caption style: "Tabel 1: Aanmeldingen ... , schooljaar 2019-2020"."""
    return f"{kind} {number}: {title}{f' {EN_DASH} {subtitle}' if subtitle else ''}, schooljaar {school_year}"


def basis_of(report: YearReport, threshold: int | None) -> list[tuple[str, str]]:
    """What every figure of the report rests on, in Dutch."""
    as_of = (f"zoals geregistreerd tot en met {report.as_of:%d/%m/%Y}" if report.as_of
             else "alles wat tot nu geregistreerd is")  # fmt: skip
    if report.audience == "policy":
        audience = f"beleid: aantallen kleiner dan {threshold or 5} (en wat ze zou verraden) zijn onderdrukt ('x')"
    else:
        audience = "KANS-team: alle cellen zichtbaar"
    return [
        ("Schooljaar", report.school_year),
        ("Gegevens", as_of),
        ("Populatie", Filters(**report.filters).describe_nl()),
        ("Publiek", audience),
        ("Berekend in", f"{report.elapsed_ms:.0f} ms uit het ClickHouse-magazijn"),
    ]


def build_document(report: YearReport, threshold: int | None = None, now: datetime | None = None) -> ReportDocument:
    """Number the report: parts 1-2, sections 1.1-2.2, statistics 1.1.1 ..., tables and charts in order."""
    tables = charts = 0
    parts: dict[str, PartView] = {}
    for report_section in report.sections:
        level = SECTION_LEVEL[report_section.section]
        part = parts.setdefault(level, PartView(str(len(parts) + 1), LEVEL_TITLES_NL[level], []))
        number = f"{part.number}.{len(part.sections) + 1}"
        views = []
        for i, result in enumerate(report_section.statistics, start=1):
            tables += 1
            title = result.title_nl
            view = StatisticView(f"{number}.{i}", result, build_table(result), tables,
                                 caption("Tabel", tables, title, report.school_year))  # fmt: skip
            for spec in chart_specs(result):
                charts += 1
                view.charts.append(ChartView(charts, caption("Grafiek", charts, title, report.school_year,
                                                             spec.subtitle), spec, f"grafiek-{charts}"))  # fmt: skip
            views.append(view)
        part.sections.append(SectionView(number, report_section.section.value, report_section.title_nl, views))
    return ReportDocument(
        title=f"KANS Centraal Meldpunt Brussel {EN_DASH} Jaarrapport schooljaar {report.school_year}",
        school_year=report.school_year,
        basis=basis_of(report, threshold),
        parts=list(parts.values()),
        generated_at=now or datetime.now().astimezone(),
    )
