"""What a statistic is (StatisticDef) and the one response shape every statistic answers with (StatisticResult).

A definition says what it counts (unit, population, dimensions) and how: `compute(query) -> Cells`, SQL with bound
parameters over the folded fact logs (see `query.py`). Shaping the cells into rows (labels, percentages, zero
rows, small-cell suppression) is the same for every statistic (`shaping.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from services.warehouse.statistics.query import StatisticQuery

_object_setattr = object.__setattr__  # sets a model's slots past its own __setattr__, as pydantic's constructors do


class Section(StrEnum):
    """The four parts of the desk's annual report."""

    primary_individual = "primary_individual"
    primary_groups = "primary_groups"
    secondary_individual = "secondary_individual"
    secondary_groups = "secondary_groups"


SECTION_TITLES_NL = {
    Section.primary_individual: "Basisonderwijs: aanmeldingen voor individuele leerlingen",
    Section.primary_groups: "Basisonderwijs: aanmeldingen voor groepen",
    Section.secondary_individual: "Secundair onderwijs: aanmeldingen voor individuele leerlingen",
    Section.secondary_groups: "Secundair onderwijs: aanmeldingen voor groepen",
}
SECTION_LEVEL = {
    Section.primary_individual: "primary", Section.primary_groups: "primary",
    Section.secondary_individual: "secondary", Section.secondary_groups: "secondary",
}  # fmt: skip


class Cell(NamedTuple):
    """One counted cell: a school year, the dimension codes (in the definition's order), the value, and the
    number of units behind it (`base`, for a mean; None means the value itself is a count). A named tuple: a large
    report has ~60k cells, and a tuple is the cheapest immutable record to make."""

    school_year: str
    key: tuple[str | None, ...]
    value: float | None
    base: int | None = None


@dataclass
class Cells:
    """What a statistic's SQL returns: cells (their keys follow `dimensions`), the population total per year, extra
    figures per year."""

    cells: list[Cell] = field(default_factory=list)
    dimensions: tuple[str, ...] = ()
    totals: dict[str, float] = field(default_factory=dict)
    summary: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)


@dataclass(frozen=True)
class StatisticDef:
    """A named statistic of the annual report (DOMAIN §8)."""

    code: str
    title_nl: str
    section: Section
    unit: str
    dimensions: tuple[str, ...]
    population_nl: str
    compute: Callable[[StatisticQuery], Cells]
    report_ref: str = ""
    description: str = ""
    pct_within: tuple[str, ...] | None = None  # None: no percentages; (): of the total; (dim,): within each dim value
    fill: bool = False  # list every code of the dimensions' code lists, with 0 where nothing was counted
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # labels of statistic-specific codes
    summary_labels: dict[str, str] = field(default_factory=dict)
    previous_year: bool = False  # also computes the year before (a `school_year` dimension)
    report_note_nl: str = ""
    # Per-school figures (DOMAIN §9: not published): the desk's only; any other audience gets them withheld.
    desk_only: bool = False

    @property
    def level(self) -> str:
        return SECTION_LEVEL[self.section]


class StatisticRow(BaseModel):
    """One row: per dimension its code and `<dimension>_label_nl`, then the value and its percentage."""

    model_config = ConfigDict(extra="allow")
    value: int | float | None = Field(description="The count (or a mean/sum for non-count measures); null when "
                                      "suppressed (or a mean of nothing).")  # fmt: skip
    pct: float | None = Field(None, description="Percentage (one decimal) where the report gives one, else null. "
                              "Over the known values only: a row whose value was not registered (not_registered, "
                              "unknown, null) has none and its units are left out of the base of the others.")
    pct_base: int | float | None = Field(None, description="The base of `pct`: the units of the row's group (the whole "
                                         "table, or within the dimension the percentages are taken in) with a known "
                                         "value; the not-registered units are the rows beside it without a pct.")
    suppressed: bool = Field(False, description="True when the policy audience may not see this cell.")


def trusted_row(extra: dict[str, Any], *, value: float | None, pct: float | None, suppressed: bool,
                pct_base: float | None = None) -> StatisticRow:  # fmt: skip
    """A StatisticRow of values shaping computed, without validation: the instance `StatisticRow.model_construct(
    **extra, value=..., pct=..., pct_base=..., suppressed=...)` builds (`extra`, the dimension codes and labels, becomes
    the row's own), at a fraction of its cost: a report builds ~35k rows. A function, not a classmethod: every attribute
    lookup on a pydantic model class goes through its metaclass's `__getattr__` hook, which costs more than the rest."""
    row: StatisticRow = object.__new__(StatisticRow)  # BaseModel has no __new__ of its own
    _object_setattr(row, "__dict__", {"value": value, "pct": pct, "pct_base": pct_base, "suppressed": suppressed})
    _object_setattr(row, "__pydantic_fields_set__", {"value", "pct", "pct_base", "suppressed"})
    _object_setattr(row, "__pydantic_extra__", extra)
    _object_setattr(row, "__pydantic_private__", None)
    return row


class SummaryFigure(BaseModel):
    """A figure the report quotes beside the table (e.g. pupils with at least one trajectory)."""

    measure: str
    label_nl: str
    value: int | float | None


class StatisticResult(BaseModel):
    """The one response shape of every statistic (R01-R59, and each year of a comparison)."""

    statistic: str = Field(examples=["R02"])
    title_nl: str = Field(examples=["Aanmeldingen naar geslacht en aanbod"])
    section: Section
    report_ref: str = Field("", description="The report's own table/chart number (T1, G5 ...).")
    school_year: str = Field(examples=["2019-2020"])
    population: str = Field(description="Which population is counted, in Dutch.",
                            examples=["individuele aanmeldingen basisonderwijs, alle kanalen, in en buiten "
                                      "LARS geregistreerd"])  # fmt: skip
    filters: dict[str, Any] = Field(description="The filters applied (level, offer_type, channel, provider, until, "
                                    "registration).")
    as_of: date | None = Field(None, description="Computed from the events recorded until the end of this day.")
    audience: str = Field("desk", description="desk sees every cell; policy gets small cells suppressed.")
    unit: str = Field(examples=["referrals"])
    dimensions: list[str] = Field(examples=[["offer_type", "gender"]])
    rows: list[StatisticRow]
    total: int | float | None = Field(description="Units in the population (e.g. referrals), not the sum of the rows "
                                "where a unit can fall in several rows (multi-selects).")  # fmt: skip
    summary: list[SummaryFigure] = Field(default_factory=list)
    suppressed_cells: int = Field(0, description="How many cells (rows and summary figures) were suppressed.")
    note_nl: str = Field("", description="How the report counted this figure, where it differs.")


EXAMPLE_RESULT: dict[str, Any] = {
    "statistic": "R02", "title_nl": "Aanmeldingen naar geslacht en aanbod (basisonderwijs)",
    "section": "primary_individual", "report_ref": "T1", "school_year": "2019-2020",
    "population": "individuele aanmeldingen basisonderwijs, alle kanalen, in en buiten LARS geregistreerd",
    "filters": {}, "as_of": None,
    "audience": "desk", "unit": "referrals", "dimensions": ["offer_type", "gender"],
    "rows": [{"offer_type": "regular", "offer_type_label_nl": "Regulier aanbod", "gender": "boy",
              "gender_label_nl": "Jongen", "value": 27, "pct": None, "suppressed": False}],
    "total": 71, "summary": [], "suppressed_cells": 0, "note_nl": "",
}  # fmt: skip
StatisticResult.model_config["json_schema_extra"] = {"examples": [EXAMPLE_RESULT]}
