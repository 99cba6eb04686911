"""The annual report's statistics over HTTP: the catalogue, every statistic R01-R59 of a school year, one statistic,
a statistic over a range of years, the comparison with exclusions (T5), and R01 per month for the dashboard.
Common filters, as-of and audience on each; every figure comes from the registry's definitions."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Hashable
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from schemas.codelists import Code, allowed
from services.api.deps import YEAR, QuestionDep, WarehouseDep, checked_year
from services.api.referrals_per_month import ReferralsPerMonth, per_month
from services.api.warehouse import Warehouse
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.model import StatisticResult
from services.warehouse.statistics.registry import STATISTICS
from services.warehouse.statistics.report_cache import Served
from services.warehouse.statistics.responses import ExclusionComparison, ExclusionRequest, YearComparison, YearReport

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["statistics"])
StatisticCode = StrEnum("StatisticCode", {code: code for code in STATISTICS})  # type: ignore[misc]
FromYear = Annotated[str, Query(pattern=YEAR, examples=["2018-2019"])]
ToYear = Annotated[str, Query(pattern=YEAR, examples=["2019-2020"])]
SchoolYear = Annotated[str, Path(pattern=YEAR, examples=["2019-2020"])]
MONTHLY = "R01"  # the statistic per month and offer type (R31 is the same definition for secondary)


def for_the_audience(code: str, q: engine.Question) -> str:
    """A per-school statistic (desk_only) asked alone for any audience but the desk's is refused, not answered
    empty: the caller learns why (a whole report shows it withheld, with the same note)."""
    if STATISTICS[code].desk_only and q.audience.name != "desk":
        raise HTTPException(403, f"{code} gives figures per school: for the desk only (privacy, DOMAIN §9); the "
                            f"{q.audience.name} audience does not get them")  # fmt: skip
    return code


@router.get("/statistics", tags=["statistics"])
async def catalogue() -> list[dict[str, object]]:
    """Every statistic: code, Dutch title, report section and table/chart, unit, dimensions, population; R01-R59
    and the figures the report gives in its text beside them (R22a after R22); `desk_only`: per-school figures, for
    the desk only (403 alone, withheld in a report, for any other audience)."""
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
            "desk_only": d.desk_only,
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
    code = for_the_audience(statistic.value, q)
    return await warehouse.run(engine.compare, code, first, last, q)  # type: ignore[no-any-return]


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


MAX_STALE_CAP_S = 300.0  # `max-stale` without a value ("any age"), or more than this: this
_MAX_STALE = re.compile(r"(?:^|,)\s*max-stale\s*(?:=\s*\"?(\d{1,9})\"?)?\s*(?:,|$)", re.IGNORECASE)
CACHE_CONTROL = (
    "`max-stale=N` (RFC 9111): the caller accepts a report computed up to N seconds ago (at most 300) although events "
    "were stored since. It is then answered from the kept report, with its `Age`, and the report is computed again in "
    "the background. Without it, a report reflects every event stored when it was asked."
)


def max_stale_s(cache_control: str | None) -> float:
    """The staleness a `Cache-Control` request header accepts, in seconds (0: none; a value that is not a number of
    seconds is ignored, as caches ignore a directive they cannot read)."""
    found = _MAX_STALE.search(cache_control or "")
    if found is None:
        return 0.0
    return MAX_STALE_CAP_S if found.group(1) is None else min(MAX_STALE_CAP_S, float(found.group(1)))


def _refresh_in_background(app: Any, warehouse: Warehouse, year: str, q: engine.Question) -> None:
    """Compute the report again for the next ask (once at a time per report); a failure is logged, not raised."""
    refreshing: dict[Hashable, asyncio.Task[Any]] = app.state.__dict__.setdefault("report_refreshes", {})
    key = (warehouse.database, year, q)
    if key in refreshing:
        return

    def done(task: asyncio.Task[Any]) -> None:
        refreshing.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("refreshing the %s report in the background failed: %s", year, task.exception())

    refreshing[key] = task = asyncio.create_task(warehouse.run(engine.report, year, q))
    task.add_done_callback(done)


@router.get("/stats/{school_year}", response_model=YearReport)
async def year_report(
    request: Request,
    response: Response,
    warehouse: WarehouseDep,
    q: QuestionDep,
    school_year: SchoolYear,
    cache_control: Annotated[str | None, Header(description=CACHE_CONTROL)] = None,
) -> YearReport | Response:
    """Every statistic R01-R59 of a school year, grouped by report section (the whole annual report's figures)."""
    year = checked_year(school_year, "school_year")
    accepted = max_stale_s(cache_control)
    if not accepted:
        return await warehouse.run(engine.report, year, q)  # type: ignore[no-any-return]
    # Young enough: answered from memory, without a ClickHouse client or query; the background refresh asks the store
    # whether it changed (and computes the report again if it did).
    kept: Served | None = engine.kept_report(warehouse.database, year, q, accepted)
    if kept is None:  # none, or too old: computed now (or kept, the store unchanged), as without the header
        served: Served = await warehouse.run(engine.report_served, year, q)
        response.headers["Age"] = str(int(served.age_s))
        return served.report
    _refresh_in_background(request.app, warehouse, year, q)
    return Response(kept.json(), media_type="application/json", headers={"Age": str(int(kept.age_s))})


@router.get("/stats/{school_year}/referrals-per-month", response_model=ReferralsPerMonth)
async def referrals_per_month(
    warehouse: WarehouseDep,
    school_year: SchoolYear,
    level: Annotated[Code("level") | None, Query(description="primary or secondary; default both")] = None,  # type: ignore[valid-type]
) -> ReferralsPerMonth:
    """The dashboard's chart: R01 for both levels (or one), by month from September to August, regular vs corona
    offer. The registry's R01, nothing else: the same figures as `/v1/stats/{school_year}/R01?level=primary&level=
    secondary` (withdrawn referrals left out, the offer type as amended)."""
    year = checked_year(school_year, "school_year")
    question = engine.Question(Filters(level=(level,) if level else tuple(allowed("level"))))
    result = await warehouse.run(engine.statistic, MONTHLY, year, question)
    return per_month(result)


@router.get("/stats/{school_year}/{statistic}", response_model=StatisticResult)
async def one_statistic(
    warehouse: WarehouseDep,
    q: QuestionDep,
    statistic: StatisticCode,
    school_year: SchoolYear,
) -> StatisticResult:
    """One statistic of a school year (e.g. R02: referrals by gender and offer, primary), with filters, as-of and
    audience. The response says which population is counted. A per-school statistic (desk_only: R05a, R22a, R37a,
    R54a) for any audience but the desk's: 403."""
    year = checked_year(school_year, "school_year")
    code = for_the_audience(statistic.value, q)
    return await warehouse.run(engine.statistic, code, year, q)  # type: ignore[no-any-return]
