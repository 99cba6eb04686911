"""The report's charts: which statistics have one (the report's own "Grafiek" numbers, G1-G41), the data drawn
from the table layout, and the drawing with matplotlib as inline SVG (self-contained: no files, no network)."""

from __future__ import annotations

import io
import math
import re
import textwrap
import threading
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any, Literal

from cycler import cycler

from services.api.report.tables import UNIT_NL, column_dimension, grid
from services.warehouse.statistics.model import StatisticResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_SERIES = 12  # more codes than this in the series dimension: one bar per cell instead
NOT_APPLICABLE = "Niet van toepassing"
PALETTE = ["#1f5f8b", "#e07b39", "#5b9b47", "#8e4c9e", "#c9a227", "#3fa7c4", "#b04a4a", "#7f7f7f", "#2e8b7a",
           "#d46fa0", "#8c6d31", "#4a5fc1"]  # fmt: skip
RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "kans-report", "font.family": "DejaVu Sans", "font.size": 8,
          "axes.spines.top": False, "axes.spines.right": False, "axes.prop_cycle": cycler(color=PALETTE)}  # fmt: skip
WIDTH_IN, CHAR_IN = 6.6, 0.062  # figure width; width of one character of an 8-point label (inches)
_DRAWING = threading.Lock()  # matplotlib's state (rcParams, font cache) is not meant for concurrent use


@dataclass(frozen=True)
class ChartSpec:
    """What one chart shows: categories along one axis, one or more series of numbers."""

    kind: Literal["bar", "line"]
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    value_label: str
    subtitle: str = ""
    stacked: bool = False  # parts of a whole (offer types, reasons ...) stack; measures and years stand side by side


def has_chart(result: StatisticResult) -> bool:
    """The report draws this statistic (its reference names a "Grafiek", e.g. G5 or "T8, G33")."""
    return any(ref.strip().startswith("G") for ref in result.report_ref.split(","))


def chart_specs(result: StatisticResult) -> list[ChartSpec]:
    """The statistic's charts: none, one, or one per aspect (the report's G26/G27, G31/G32, G34/G35)."""
    if not has_chart(result) or not result.rows:
        return []
    if result.dimensions[0] != "aspect" or len(result.dimensions) == 1:
        return [spec for spec in [_spec(result)] if spec]
    out = []
    for code in dict.fromkeys((row.model_extra or {}).get("aspect") for row in result.rows):
        rows = [row for row in result.rows if (row.model_extra or {}).get("aspect") == code]
        label = str((rows[0].model_extra or {}).get("aspect_label_nl", code))
        part = result.model_copy(update={"rows": rows, "dimensions": result.dimensions[1:]})
        spec = _spec(part, label)
        out += [spec] if spec else []
    return out


def _spec(result: StatisticResult, subtitle: str = "") -> ChartSpec | None:
    columns = column_dimension(result) or (result.dimensions[-1] if len(result.dimensions) >= 2 else None)
    layout = grid(result, columns)
    if len(layout.column_codes) > MAX_SERIES:
        layout = grid(result, None)
    value_label = f"Aantal {UNIT_NL.get(result.unit, '')}".strip()
    categories = [" · ".join(x for x in layout.row_labels[key] if x != NOT_APPLICABLE) or NOT_APPLICABLE
                  for key in layout.row_keys]  # fmt: skip
    series = []
    for code in layout.column_codes:
        cells = [layout.cells.get((key, code)) for key in layout.row_keys]
        values = tuple(float(cell.value) if cell is not None and cell.value is not None else 0.0 for cell in cells)
        series.append((layout.column_labels[code] or value_label, values))
    if not any(v for _, values in series for v in values):
        return None  # nothing counted: the table says so, a chart of zeros does not help
    kind: Literal["bar", "line"] = "line" if layout.row_dimensions == ["month"] else "bar"
    stacked = len(series) > 1 and layout.column_dimension not in ("measure", "school_year")
    return ChartSpec(kind, tuple(categories), tuple(series), value_label, subtitle, stacked)


@lru_cache(maxsize=512)  # the same report asked again (or as HTML, then as PDF) draws nothing again
def render_svg(spec: ChartSpec, chart_id: str, caption: str) -> str:
    """The chart as an `<svg>` element to inline in HTML (ids prefixed with `chart_id`, so charts don't clash).
    matplotlib is imported here, on the first chart drawn: a second of CPU at every start of the API otherwise."""
    import matplotlib

    with _DRAWING, matplotlib.rc_context(RC):
        figure = _draw(spec)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue(), chart_id, caption)


def is_horizontal(spec: ChartSpec) -> bool:
    """Bars lie down when there are many categories or long labels (providers, modules, reasons)."""
    return spec.kind == "bar" and (len(spec.categories) > 6 or max(len(c) for c in spec.categories) > 14)


def _draw(spec: ChartSpec) -> Figure:
    """Margins are computed from the labels (in inches) instead of a tight bounding box: half the drawing time."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n_categories, n_series = len(spec.categories), len(spec.series)
    labels = [textwrap.fill(c, 40) for c in spec.categories]
    longest = max(len(line) for label in labels for line in label.splitlines())
    horizontal, stacked = is_horizontal(spec), spec.stacked
    legend = 0.1 + 0.2 * math.ceil(n_series / 3) if n_series > 1 else 0.0
    rotation = 0
    if horizontal:
        lines = sum(label.count("\n") + 1 for label in labels)
        plot = min(12.0, max(1.2, 0.2 * max(lines, n_categories * (1 if stacked else n_series))))
        left, bottom = min(3.4, 0.15 + CHAR_IN * longest), 0.45 + legend
    else:
        rotation = 45 if spec.kind == "line" else (30 if n_categories > 3 else 0)
        plot, left = 2.3, 0.6
        bottom = 0.4 + (CHAR_IN * longest * math.sin(math.radians(rotation)) if rotation else 0.15) + legend
    height = plot + bottom + 0.25
    figure = Figure(figsize=(WIDTH_IN, height))
    figure.subplots_adjust(left=left / WIDTH_IN, right=1 - 0.35 / WIDTH_IN, bottom=bottom / height,
                           top=1 - 0.25 / height)  # fmt: skip
    ax = figure.add_subplot()
    positions = list(range(n_categories))
    if spec.kind == "line":
        for name, values in spec.series:
            ax.plot(positions, values, marker="o", label=name)
        ax.set_xticks(positions, labels, rotation=rotation, ha="right")
        ax.set_ylim(bottom=0)
    else:
        width = 0.8 if stacked else 0.8 / n_series
        base = [0.0] * n_categories
        bar = ax.barh if horizontal else ax.bar
        for i, (name, values) in enumerate(spec.series):
            offset = [p if stacked else p - 0.4 + width * (i + 0.5) for p in positions]
            bars = bar(offset, values, width, base, label=name) if stacked else bar(offset, values, width, label=name)
            base = [b + v for b, v in zip(base, values, strict=True)]
            if n_series == 1:
                ax.bar_label(bars, fmt=lambda v: f"{v:g}".replace(".", ","), padding=2, fontsize=7)
        if horizontal:
            ax.set_yticks(positions, labels)
            ax.invert_yaxis()  # the first category on top, as in the table
        else:
            ax.set_xticks(positions, labels, rotation=rotation, ha="right" if rotation else "center")
    (ax.set_xlabel if horizontal else ax.set_ylabel)(spec.value_label)
    (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    if n_series > 1:
        figure.legend(loc="lower center", ncol=min(n_series, 3), frameon=False, bbox_to_anchor=(0.5, 0.0))
    return figure


def _inline(svg: str, chart_id: str, caption: str) -> str:
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)  # RDF boilerplate, nothing to show
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{chart_id}-\1"', svg)
    attributes = f'<svg role="img" aria-label="{escape(caption)}" class="chart" '
    return svg.replace("<svg ", attributes, 1)
