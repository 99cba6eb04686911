"""One statistic as a report table: Dutch headers, rows of labels and formatted figures (pure, no I/O).

A statistic with a "column-like" dimension (school year, measure, offer type, gender) is laid out as a cross table
with that dimension's codes as columns, as the report does (Tabel 1: offer types by gender; Tabel 5: the years side
by side); any other statistic is one row per cell. `grid` is shared with the charts, so both order rows the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from services.warehouse.statistics.labels import sort_key
from services.warehouse.statistics.model import StatisticResult, StatisticRow
from services.warehouse.statistics.registry import STATISTICS

DIMENSION_NL = {
    "absence_bucket": "Aantal halve dagen", "absence_code": "Soort code", "advice_kind": "Advies",
    "age": "Leeftijd", "aspect": "Onderdeel", "bubao_type": "Type (buitengewoon basisonderwijs)",
    "buso_training_form": "Opleidingsvorm", "buso_type": "Type (buitengewoon secundair onderwijs)",
    "cancel_reason": "Reden annulering", "category": "Categorie", "channel": "Kanaal",
    "class_hours_bucket": "Aantal lesuren", "discipline": "Tucht", "duration_bucket": "Duurtijd",
    "early_stop_reason": "Reden vroegtijdige stopzetting", "education_form": "Onderwijsvorm", "gender": "Geslacht",
    "grade": "Leerjaar", "group_kind": "Soort groep", "group_module": "Module", "half_days_per_week": "Dagdelen",
    "home_language": "Thuistaal", "measure": "Gegeven", "module": "Module", "month": "Maand",
    "not_started_reason": "Reden niet opgestart", "offer_type": "Aanbod", "part_time": "Leren en Werken",
    "perspective": "Perspectief bij afronding", "provider": "Aanbieder", "reason": "Reden", "region": "Regio",
    "requested_module": "Aangevraagde module", "residence_postcode": "Woonplaats", "risk_behaviour": "Risicogedrag",
    "school_delay": "Schoolse vertraging", "school_location": "Ligging school", "school_year": "Schooljaar",
    "schools_attended": "Aantal scholen", "scope": "Populatie", "stage": "Graad", "status": "Status",
    "trajectories_per_pupil": "Trajecten per leerling", "variant": "Telling",
    "referrals_per_school": "Aanmeldingen per school", "referrer": "CLB (verwijzer)",
    "class_action_theme": "Thema van de klasactie", "round_table_outcome": "Advies van de rondetafel",
    "combination": "Samen met traject(en)?",
}  # fmt: skip
UNIT_NL = {"referrals": "aanmeldingen", "pupils": "leerlingen", "trajectories": "trajecten", "groups": "groepen",
           "round_tables": "rondetafels", "class_hours": "lesuren", "schools": "scholen", "households": "adressen",
           "coach_settings": "schoolwerkingen"}  # fmt: skip
COLUMN_DIMENSIONS = ("school_year", "measure", "gender", "offer_type")  # laid out as columns, in this preference
SUPPRESSED = "x"
NOTHING = "\u2013"  # en dash: a figure that cannot be computed
Kind = Literal["count", "pct"]
Key = tuple[str | None, ...]


def format_figure(value: float | None, kind: Kind = "count", suppressed: bool = False) -> str:
    """Dutch notation: 1.234 · 12,5 · 35,1% ; `x` for a suppressed cell, a dash for nothing to show."""
    if suppressed:
        return SUPPRESSED
    if value is None:
        return NOTHING
    if kind == "pct":
        return f"{value:.1f}".replace(".", ",") + "%"
    text = f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


@dataclass(frozen=True)
class Value:
    """One figure of a table: the number (None: suppressed or nothing) and how to show it."""

    value: float | None
    kind: Kind = "count"
    suppressed: bool = False

    @property
    def text(self) -> str:
        return format_figure(self.value, self.kind, self.suppressed)


@dataclass
class TableRow:
    labels: list[str]
    values: list[Value]


@dataclass
class ReportTable:
    """What the HTML, PDF and XLSX show of one statistic."""

    statistic: str
    headers: list[str]
    label_columns: int
    rows: list[TableRow] = field(default_factory=list)
    column_dimension: str | None = None
    total: Value | None = None
    summary: list[tuple[str, Value]] = field(default_factory=list)


@dataclass
class Grid:
    """The rows of a statistic keyed by (row codes, column code), both in report order."""

    row_dimensions: list[str]
    column_dimension: str | None
    row_keys: list[Key]
    row_labels: dict[Key, list[str]]
    column_codes: list[str | None]
    column_labels: dict[str | None, str]
    cells: dict[tuple[Key, str | None], StatisticRow]


def column_dimension(result: StatisticResult) -> str | None:
    """The dimension shown as columns, or None for a one-row-per-cell table."""
    if len(result.dimensions) < 2:
        return None
    return next((d for d in COLUMN_DIMENSIONS if d in result.dimensions), None)


def _extra(row: StatisticRow) -> dict[str, object]:
    return row.model_extra or {}


def grid(result: StatisticResult, columns: str | None) -> Grid:
    """Rows keyed by the codes of every dimension but `columns`, and by the code of `columns`."""
    own = STATISTICS[result.statistic].labels if result.statistic in STATISTICS else {}
    dims = [d for d in result.dimensions if d != columns]
    row_labels: dict[Key, list[str]] = {}
    column_labels: dict[str | None, str] = {}
    cells: dict[tuple[Key, str | None], StatisticRow] = {}
    for row in result.rows:
        extra = _extra(row)
        key: Key = tuple(_code(extra.get(d)) for d in dims)
        row_labels.setdefault(key, [str(extra.get(f"{d}_label_nl", "")) for d in dims])
        column = _code(extra.get(columns)) if columns else None
        column_labels.setdefault(column, str(extra.get(f"{columns}_label_nl", "")) if columns else "")
        cells[(key, column)] = row

    def row_order(key: Key) -> list[tuple[int, float, str]]:
        return [sort_key(d, code, label, own) for d, code, label in zip(dims, key, row_labels[key], strict=True)]

    def column_order(code: str | None) -> tuple[int, float, str]:
        return sort_key(columns, code, column_labels[code], own) if columns else (0, 0.0, "")

    return Grid(dims, columns, sorted(row_labels, key=row_order), row_labels,
                sorted(column_labels, key=column_order), column_labels, cells)  # fmt: skip


def _code(value: object) -> str | None:
    return None if value is None else str(value)


def _values(row: StatisticRow | None, with_pct: bool) -> list[Value]:
    if row is None:  # a combination nothing was counted in
        return [Value(0), Value(None, "pct")] if with_pct else [Value(0)]
    values = [Value(row.value, "count", row.suppressed)]
    return [*values, Value(row.pct, "pct", row.suppressed)] if with_pct else values


def build_table(result: StatisticResult) -> ReportTable:
    """The table of one statistic: label columns (one per row dimension), then the figures."""
    columns = column_dimension(result)
    layout = grid(result, columns)
    with_pct = any(row.pct is not None for row in result.rows)
    headers = [DIMENSION_NL.get(d, d) for d in layout.row_dimensions]
    if columns is None:
        headers.append(f"Aantal {UNIT_NL.get(result.unit, '')}".strip())
        headers += ["%"] if with_pct else []
    else:
        for code in layout.column_codes:
            headers.append(layout.column_labels[code])
            headers += [f"{layout.column_labels[code]} (%)"] if with_pct else []
    rows = [
        TableRow(layout.row_labels[key],
                 [v for code in layout.column_codes for v in _values(layout.cells.get((key, code)), with_pct)])
        for key in layout.row_keys
    ]  # fmt: skip
    hidden = result.audience == "policy"  # only the policy audience gets null for a suppressed figure
    total = Value(result.total, "count", hidden and result.total is None)
    summary = [(f.label_nl, Value(f.value, "count", hidden and f.value is None)) for f in result.summary]
    return ReportTable(result.statistic, headers, len(layout.row_dimensions), rows, columns, total, summary)
