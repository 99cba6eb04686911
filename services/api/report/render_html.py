"""The report document as one self-contained HTML page (Jinja2 template, charts inlined as SVG, no external
resources): what `GET /v1/reports/annual/{school_year}` shows and what the PDF is printed from."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from services.api.report.charts import render_svg
from services.api.report.document import SOURCE_NL, ChartView, ReportDocument
from services.api.report.tables import SUPPRESSED

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(SOURCE_NL=SOURCE_NL, SUPPRESSED=SUPPRESSED)
    return env


def chart_svgs(document: ReportDocument) -> dict[str, Markup]:
    """Every chart of the document drawn, by its anchor (our own SVG from matplotlib: safe to inline)."""
    charts: list[ChartView] = [chart for s in document.statistics for chart in s.charts]
    return {chart.anchor: Markup(render_svg(chart.spec, chart.anchor, chart.caption)) for chart in charts}


def render_html(document: ReportDocument) -> str:
    """The whole report as HTML."""
    template = environment().get_template("annual_report.html.j2")
    return template.render(doc=document, svgs=chart_svgs(document))
