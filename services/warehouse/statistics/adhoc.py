"""Ad hoc questions: measures by dimensions, filtered, over years; validated against the whitelist of
`adhoc_catalog`, compiled to SQL with every value bound, run with a row limit and a time limit.

`plan(question, audience)` is pure (validation and SQL text); `run(client, database, question, audience)` asks
ClickHouse and shapes the rows (labels, small-cell suppression for the policy audience).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.warehouse.statistics.adhoc_catalog import DIMENSIONS, MEASURES
from services.warehouse.statistics.filters import UNTIL, school_day_key
from services.warehouse.statistics.query import per_unit

MAX_ROWS = 10_000
MAX_SECONDS = 10
FilterValue = Annotated[str, StringConstraints(max_length=100)]
SchoolYearText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")]


class AdhocQuestion(BaseModel):
    """An ad hoc question. Measures of one source (referrals, trajectories, round tables or groups); dimensions
    and filters name that source's dimensions; filter values are codes (bound, never SQL). `exclude_<dimension>`
    leaves values out; `until` (MM-DD) cuts each school year at a day."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "measures": ["referrals", "pupils"], "dimensions": ["school_year", "gender"],
        "filters": {"level": ["secondary"], "exclude_offer_type": ["corona"]},
        "years": ["2018-2019", "2019-2020"], "limit": 1000,
    }]})  # fmt: skip

    measures: list[str] = Field(min_length=1, max_length=8, examples=[["referrals", "pupils"]])
    dimensions: list[str] = Field(default_factory=list, max_length=4, examples=[["gender"]])
    filters: dict[str, list[FilterValue]] = Field(default_factory=dict, max_length=12)
    years: list[SchoolYearText] = Field(min_length=1, max_length=12, examples=[["2019-2020"]])
    as_of: date | None = Field(None, description="Answer from the events recorded until the end of this day.")
    until: str | None = Field(None, description="Cut-off day of each school year (MM-DD).")
    limit: int = Field(1000, ge=1, le=MAX_ROWS, description="Row limit (the response says when it was reached).")


class AdhocError(ValueError):
    """A question naming something that does not exist (or is not allowed): becomes a 422."""

    def __init__(self, field: str, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.allowed = field, message, allowed


@dataclass(frozen=True)
class Plan:
    source: str
    measures: list[str]
    dimensions: list[str]
    sql_dimensions: list[str]
    array_joins: list[str]
    where: list[str]
    params: dict[str, Any]


def plan(question: AdhocQuestion, audience: Literal["desk", "policy"]) -> Plan:
    """Check every name against the whitelist and build the SQL parts; raises AdhocError."""
    for i, name in enumerate(question.measures):
        if name not in MEASURES:
            raise AdhocError(f"body.measures[{i}]", f"unknown measure '{name}'", sorted(MEASURES))
    sources = {MEASURES[m].source for m in question.measures}
    if len(sources) > 1:
        same = sorted(m for m, d in MEASURES.items() if d.source == MEASURES[question.measures[0]].source)
        raise AdhocError("body.measures", f"measures of different sources ({', '.join(sorted(sources))}) cannot be "
                         "combined in one question", same)  # fmt: skip
    source = sources.pop()
    allowed = DIMENSIONS[source]
    for i, name in enumerate(question.dimensions):
        if name not in allowed:
            raise AdhocError(f"body.dimensions[{i}]", f"unknown dimension '{name}' for {source}", sorted(allowed))
        if audience == "policy" and allowed[name].per_school:
            raise AdhocError(f"body.dimensions[{i}]", "per-school figures are for the desk only (privacy)")
    if len(set(question.dimensions)) != len(question.dimensions):
        raise AdhocError("body.dimensions", "a dimension may appear only once")
    sql_dims, joins = [], []
    for i, name in enumerate(question.dimensions):
        dim = allowed[name]
        if dim.multi:
            joins.append(f"{dim.sql} AS m{i}")
            sql_dims.append(f"m{i}")
        else:
            sql_dims.append(dim.sql)
    where, params = _filters(question, source, audience)
    return Plan(source, question.measures, question.dimensions, sql_dims, joins, where, params)


def _filters(question: AdhocQuestion, source: str, audience: str) -> tuple[list[str], dict[str, Any]]:
    allowed = DIMENSIONS[source]
    where: list[str] = []
    params: dict[str, Any] = {}
    for i, (key, values) in enumerate(sorted(question.filters.items())):
        name = key.removeprefix("exclude_")
        if name not in allowed:
            raise AdhocError(f"body.filters.{key}", f"unknown filter '{key}' for {source}",
                             sorted([*allowed, *(f"exclude_{d}" for d in allowed)]))  # fmt: skip
        dim = allowed[name]
        if audience == "policy" and dim.per_school:
            raise AdhocError(f"body.filters.{key}", "per-school figures are for the desk only (privacy)")
        params[f"q{i}"] = values
        if dim.multi:
            test = f"hasAny({{q{i}:Array(String)}}, {dim.sql})"
            where.append(f"NOT {test}" if key.startswith("exclude_") else test)
        else:
            where.append(f"{dim.sql} {'NOT IN' if key.startswith('exclude_') else 'IN'} {{q{i}:Array(String)}}")
    if question.until is not None:
        if not UNTIL.match(question.until):
            raise AdhocError("body.until", "until must be MM-DD, e.g. 03-31")
        params["q_until"] = school_day_key(int(question.until[:2]), int(question.until[3:]))
        where.append("date_key <= {q_until:UInt16}")
    return where, params


def compile_sql(p: Plan, relation: str, limit: int) -> str:
    """The SELECT for a plan over a folded relation (identifiers only from the whitelist; values are parameters)."""
    dims = ", ".join(f"{expr} AS d{i}" for i, expr in enumerate(p.sql_dimensions))

    def unit(expr: str) -> str:
        return per_unit(expr) if p.array_joins else expr

    values = ", ".join(f"{unit(MEASURES[m].sql)} AS v{i}, {unit(MEASURES[m].base or 'NULL')} AS b{i}"
                       for i, m in enumerate(p.measures))  # fmt: skip
    group = ", ".join(f"d{i}" for i in range(len(p.sql_dimensions)))
    return (
        f"SELECT {dims + ', ' if dims else ''}{values} FROM {relation}"
        + "".join(f" ARRAY JOIN {j}" for j in p.array_joins)
        + (f" WHERE {' AND '.join(p.where)}" if p.where else "")
        + (f" GROUP BY {group} ORDER BY {group}" if group else "")
        + f" LIMIT {int(limit) + 1}"
    )
