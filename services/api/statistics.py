"""The annual report's statistics over HTTP: every statistic R01-R59 of a school year, one statistic, a statistic
over a range of years, and the comparison with exclusions (T5). Common filters, as-of and audience on each."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.api.deps import SettingsDep, WarehouseDep
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.model import StatisticResult
from services.warehouse.statistics.registry import STATISTICS
from services.warehouse.statistics.responses import ExclusionComparison, ExclusionRequest, YearComparison, YearReport

router = APIRouter(prefix="/v1", tags=["statistics"])
StatisticCode = StrEnum("StatisticCode", {code: code for code in STATISTICS})  # type: ignore[misc]
YEAR = r"^\d{4}-\d{4}$"
Codes = list[str] | None  # checked against their code lists by Filters (a 422 lists the allowed values)


def checked_year(value: str, field: str) -> str:
    if int(value[5:]) != int(value[:4]) + 1:
        raise RequestValidationError(
            [
                {
                    "loc": ("path", field),
                    "msg": "a school year is two consecutive years, e.g. 2019-2020",
                    "type": "value_error",
                }
            ]
        )
    return value


def question(
    settings: SettingsDep,
    level: Annotated[Codes, Query(description="Override the statistic's level.")] = None,
    offer_type: Annotated[Codes, Query(description="regular, corona.")] = None,
    channel: Annotated[Codes, Query(description="Only these channels.")] = None,
    exclude_channel: Annotated[
        Codes,
        Query(description="Leave these channels out (the report's LARS-only charts: external_clb and intake)."),
    ] = None,
    education_form: Annotated[Codes, Query(description="Only these education forms.")] = None,
    exclude_education_form: Annotated[Codes, Query(description="e.g. secondary_part_time (L&W).")] = None,
    provider: Annotated[list[str] | None, Query(description="Provider ids.", max_length=20)] = None,
    until: Annotated[str | None, Query(pattern=r"^\d{2}-\d{2}$", description="Cut-off day MM-DD, e.g. 03-31.")] = None,
    as_of: Annotated[date | None, Query(description="As known at the end of this day (recorded_at).")] = None,
    audience: Annotated[Literal["desk", "policy"], Query(description="policy: small cells suppressed.")] = "desk",
) -> engine.Question:
    """The common filters, as-of and audience of every statistics endpoint."""
    try:
        filters = Filters(
            level=_t(level),
            offer_type=_t(offer_type),
            channel=_t(channel),
            exclude_channel=_t(exclude_channel),
            education_form=_t(education_form),
            exclude_education_form=_t(exclude_education_form),
            provider=_t(provider),
            until=until,
        )
    except ValidationError as err:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in err.errors()]) from err
    return engine.Question(filters, as_of, engine.Audience(audience, settings.suppression_threshold))


def _t(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


QuestionDep = Annotated[engine.Question, Depends(question)]
FromYear = Annotated[str, Query(pattern=YEAR, examples=["2018-2019"])]
ToYear = Annotated[str, Query(pattern=YEAR, examples=["2019-2020"])]


@router.get("/statistics", tags=["statistics"])
async def catalogue() -> list[dict[str, object]]:
    """Every statistic: code, Dutch title, report section and table/chart, unit, dimensions, population."""
    return [
        {
            "code": d.code,
            "title_nl": d.title_nl,
            "section": d.section.value,
            "report_ref": d.report_ref,
            "unit": d.unit,
            "dimensions": list(d.dimensions),
            "population_nl": d.population_nl,
            "previous_year": d.previous_year,
            "note_nl": d.report_note_nl,
        }
        for d in STATISTICS.values()
    ]


@router.get("/stats/compare/{statistic}", response_model=YearComparison)
async def compare(
    warehouse: WarehouseDep, q: QuestionDep, statistic: StatisticCode, from_year: FromYear, to_year: ToYear
) -> YearComparison:
    """One statistic for a range of school years side by side (`table`), and each year in full (`results`)."""
    first, last = checked_year(from_year, "from_year"), checked_year(to_year, "to_year")
    if first > last:
        raise RequestValidationError(
            [{"loc": ("query", "to_year"), "msg": "to_year is before from_year", "type": "value_error"}]
        )
    return await warehouse.run(engine.compare, statistic.value, first, last, q)  # type: ignore[no-any-return]


@router.get("/stats/comparisons/exclusions", response_model=ExclusionComparison)
async def exclusions(
    warehouse: WarehouseDep,
    q: QuestionDep,
    from_year: FromYear,
    to_year: ToYear,
    level: Annotated[Literal["primary", "secondary"], Query()] = "secondary",
) -> ExclusionComparison:
    """The report's T5: referrals per year raw; without corona; without corona and the extra part-time (L&W)
    referrals; until 31 March; until 31 March without L&W. Other columns: POST the same path."""
    years = checked_year(from_year, "from_year"), checked_year(to_year, "to_year")
    return await warehouse.run(engine.comparison_with_exclusions, *years, level, None, q)  # type: ignore[no-any-return]


@router.post("/stats/comparisons/exclusions", response_model=ExclusionComparison)
async def exclusions_with_columns(
    warehouse: WarehouseDep, q: QuestionDep, body: ExclusionRequest
) -> ExclusionComparison:
    """A comparison with exclusions of your own: each column leaves out offer types, education forms (all of them
    or only those beyond the first year's count) and referrals after a cut-off day."""
    years = checked_year(body.from_year, "from_year"), checked_year(body.to_year, "to_year")
    columns = tuple(body.columns) if body.columns else None
    return await warehouse.run(engine.comparison_with_exclusions, *years, body.level, columns, q)  # type: ignore[no-any-return]


@router.get("/stats/{school_year}", response_model=YearReport)
async def year_report(
    warehouse: WarehouseDep, q: QuestionDep, school_year: Annotated[str, Path(pattern=YEAR, examples=["2019-2020"])]
) -> YearReport:
    """Every statistic R01-R59 of a school year, grouped by report section (the whole annual report's figures)."""
    return await warehouse.run(engine.report, checked_year(school_year, "school_year"), q)  # type: ignore[no-any-return]


@router.get("/stats/{school_year}/{statistic}", response_model=StatisticResult)
async def one_statistic(
    warehouse: WarehouseDep,
    q: QuestionDep,
    statistic: StatisticCode,
    school_year: Annotated[str, Path(pattern=YEAR, examples=["2019-2020"])],
) -> StatisticResult:
    """One statistic of a school year (e.g. R02: referrals by gender and offer, primary), with filters, as-of and
    audience. The response says which population is counted."""
    year = checked_year(school_year, "school_year")
    return await warehouse.run(engine.statistic, statistic.value, year, q)  # type: ignore[no-any-return]
