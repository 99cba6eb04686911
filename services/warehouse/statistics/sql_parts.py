"""SQL expressions shared by the statistic definitions: codes derived from folded columns (buckets, grades ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from services.warehouse.statistics.model import Cell, Cells
from services.warehouse.statistics.query import StatisticQuery

REFERRALS = "count()"
PUPILS = "uniqExact(pupil_key)"
TRAJECTORIES = "count()"
GROUPS = "count()"
GROUP_REFERRALS = "uniqExact(group_referral_id)"
ROUND_TABLES = "count()"

AGE = "toString(age)"
STAGE = (
    "multiIf(grade IN ('grade_1', 'grade_2'), 'stage_1', grade IN ('grade_3', 'grade_4'), 'stage_2', "
    "grade IN ('grade_5', 'grade_6', 'grade_7'), 'stage_3', grade = 'not_applicable', 'not_applicable', 'unknown')"
)
REGION = (
    "multiIf(residence_postcode IS NULL, 'unknown', toUInt16OrZero(residence_postcode) < 1300, 'brussels', "
    "'outside_brussels')"
)
PART_TIME = "if(education_form = 'secondary_part_time', 'yes', 'no')"
SUPPORT_NETWORK = "multiIf(support_network IS NULL, 'not_registered', support_network = 1, 'yes', 'no')"


def multi(column: str) -> str:
    """A multi-select as one code per row: [] -> 'none', null was stored as ['not_registered']."""
    return f"if(empty({column}), ['none'], {column})"


def bucket(value: str) -> str:
    """Absence half-days in the report's buckets."""
    return (
        f"multiIf({value} IS NULL, 'not_registered', {value} <= 5, '0-5', {value} <= 15, '6-15', "
        f"{value} <= 30, '16-30', 'over_30')"
    )


def by_aspects(dims: tuple[str, str], many: Mapping[str, str], one: Mapping[str, str],
               ) -> Callable[[StatisticQuery], Cells]:  # fmt: skip
    """Referrals of the population per (aspect, category), `dims` naming the two: a multi-select aspect (`many`: its
    SQL array of codes) counts a referral once per code it holds, a single-valued aspect (`one`: its SQL code) once.
    Each aspect is a GROUP BY of its own, so in a report the single-valued ones merge with the population's other
    GROUP BYs and the multi-selects ARRAY JOIN one column; the total is the population's referrals (every referral
    has a category in a single-valued aspect, so `one` must not be empty)."""
    if not one:
        raise ValueError("by_aspects needs a single-valued aspect: it gives the population total")

    def compute(q: StatisticQuery) -> Cells:
        source = q.referrals()
        out = Cells(dimensions=dims)
        parts = [(aspect, q.count(source, {dims[1]: "code"}, REFERRALS, array_join=f"{codes} AS code"))
                 for aspect, codes in many.items()]  # fmt: skip
        parts += [(aspect, q.count(source, {dims[1]: code}, REFERRALS)) for aspect, code in one.items()]
        for aspect, part in parts:
            out.cells += [Cell(c.school_year, (aspect, *c.key), c.value, c.base) for c in part.cells]
        out.totals = parts[-1][1].totals
        return out

    return compute


def by_referrals(dims: Mapping[str, str], *, value: str = REFERRALS, array_join: str | None = None,
                 where: tuple[str, ...] = ()) -> Callable[[StatisticQuery], Cells]:  # fmt: skip
    """A statistic counting referrals (or pupils) of the filtered population by `dims`."""

    def compute(q: StatisticQuery) -> Cells:
        return q.count(q.referrals(*where), dims, value, array_join=array_join)

    return compute


def by_trajectories(dims: Mapping[str, str], *, where: tuple[str, ...] = (), value: str = TRAJECTORIES,
                    summary: Mapping[str, str] | None = None) -> Callable[[StatisticQuery], Cells]:  # fmt: skip
    """A statistic counting trajectories by `dims`; `summary`: figures over all trajectories of the population."""

    def compute(q: StatisticQuery) -> Cells:
        cells = q.count(q.trajectories(*where), dims, value)
        return q.summary(cells, q.trajectories(), summary) if summary else cells

    return compute
