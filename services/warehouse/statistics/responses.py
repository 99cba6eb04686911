"""Response shapes beyond the single statistic: the whole report of a year, a statistic over a range of years,
and the comparison with exclusions (T5)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from services.warehouse.statistics.comparison import ExclusionColumn
from services.warehouse.statistics.model import Section, StatisticResult


class ReportSection(BaseModel):
    section: Section
    title_nl: str
    statistics: list[StatisticResult]


class YearReport(BaseModel):
    """Every statistic R01-R59 of one school year, grouped by report section."""

    school_year: str
    as_of: date | None
    audience: str
    filters: dict[str, Any]
    sections: list[ReportSection]
    elapsed_ms: float = Field(description="Time the warehouse took to compute the report.")


class ComparedRow(BaseModel):
    """One combination of dimension codes, with its value in each year (null: suppressed)."""

    model_config = {"extra": "allow"}
    values: dict[str, int | float | None]


class YearComparison(BaseModel):
    """One statistic over a range of school years, side by side (`table`), and each year in full (`results`)."""

    statistic: str
    title_nl: str
    years: list[str]
    dimensions: list[str]
    table: list[ComparedRow]
    totals: dict[str, int | float | None]
    results: list[StatisticResult]


class ExclusionRow(BaseModel):
    column: str = Field(description="The column's code.")
    label_nl: str
    values: dict[str, int | float | None] = Field(description="Referrals per school year (null: suppressed).")


class ExclusionComparison(BaseModel):
    """Referrals per school year after each column's exclusions (the report's T5 by default)."""

    title_nl: str = "Vergelijking van het aantal aanmeldingen, rekening houdend met uitsluitingen"
    level: str
    population: str
    years: list[str]
    filters: dict[str, Any]
    as_of: date | None
    audience: str
    columns: list[ExclusionColumn]
    rows: list[ExclusionRow]
    suppressed_cells: int = 0


class ExclusionRequest(BaseModel):
    """A comparison with exclusions: the years, the level and the columns (default: the report's T5)."""

    from_year: str = Field(pattern=r"^\d{4}-\d{4}$", examples=["2018-2019"])
    to_year: str = Field(pattern=r"^\d{4}-\d{4}$", examples=["2019-2020"])
    level: str = Field("secondary", pattern=r"^(primary|secondary)$")
    columns: list[ExclusionColumn] | None = Field(None, min_length=1, max_length=12)
