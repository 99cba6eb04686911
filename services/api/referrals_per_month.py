"""R01 on the dashboard's axis: the registry's monthly statistic reshaped into one entry per month of the school
year (September -> August) with a count per offer type. Pure: it counts nothing itself, so the dashboard cannot
drift from `/v1/stats/{year}/R01`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.codelists import allowed, label
from services.warehouse.statistics.labels import MONTHS_NL, domain
from services.warehouse.statistics.model import StatisticResult

DIMENSIONS = ["month", "offer_type"]


class OfferType(BaseModel):
    code: str = Field(examples=["regular"])
    label_nl: str = Field(examples=["Regulier aanbod"])


class MonthCount(BaseModel):
    """One month: a count per offer type (its code as the field name: `regular`, `corona`) and their total."""

    model_config = ConfigDict(extra="allow")
    month: str = Field(examples=["2019-09"])
    label_nl: str = Field(examples=["september"])
    total: int


class ReferralsPerMonth(BaseModel):
    """Individual referrals per month of a school year and offer type, as R01 counts them."""

    statistic: str = Field(examples=["R01"], description="The registry's statistic these figures are.")
    school_year: str = Field(examples=["2019-2020"])
    population: str = Field(examples=["individuele aanmeldingen basis- en secundair onderwijs, alle "
                                      "kanalen, in en buiten LARS geregistreerd"])
    offer_types: list[OfferType]
    months: list[MonthCount] = Field(description="Twelve months, September to August.")
    total: int


def per_month(result: StatisticResult) -> ReferralsPerMonth:
    """R01's rows (month x offer type, every combination listed) as twelve months with a count per offer type."""
    if result.dimensions != DIMENSIONS:
        raise ValueError(f"{result.statistic} is by {result.dimensions}, not by {DIMENSIONS}")
    counts: dict[tuple[str, str], int] = {}
    for row in result.rows:
        extra = row.model_extra or {}
        if row.value is None:  # only a policy audience's suppressed cell; the chart is the desk's
            raise ValueError(f"{result.statistic} has a suppressed cell: {extra}")
        counts[(extra["month"], extra["offer_type"])] = int(row.value)
    offers = allowed("offer_type")
    months = []
    for month in domain("month", result.school_year, {}) or []:
        split = {offer: counts.get((month, offer), 0) for offer in offers}
        months.append(MonthCount(month=month, label_nl=MONTHS_NL[int(month[5:]) - 1], total=sum(split.values()),
                                 **split))  # fmt: skip
    return ReferralsPerMonth(
        statistic=result.statistic,
        school_year=result.school_year,
        population=result.population,
        offer_types=[OfferType(code=o, label_nl=label("offer_type", o)) for o in offers],
        months=months,
        total=int(result.total or 0),
    )
