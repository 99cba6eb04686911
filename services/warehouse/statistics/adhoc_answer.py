"""Running an ad hoc question on the warehouse and shaping the answer (labels, suppression, truncation)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.auth import DataScope
from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics.adhoc import MAX_SECONDS, AdhocQuestion, compile_sql, plan
from services.warehouse.statistics.adhoc_catalog import MEASURES
from services.warehouse.statistics.engine import label_context
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.labels import dimension_label
from services.warehouse.statistics.query import QUERY_SETTINGS, StatisticQuery, number
from services.warehouse.statistics.suppression import CountCell, suppress


class MeasureInfo(BaseModel):
    code: str
    label_nl: str


class AdhocAnswer(BaseModel):
    """Rows of dimension codes (with `<dimension>_label_nl`) and one value per measure (null: suppressed)."""

    source: str = Field(description="referrals, trajectories, round_tables or groups.")
    measures: list[MeasureInfo]
    dimensions: list[str]
    years: list[str]
    filters: dict[str, list[str]]
    until: str | None
    as_of: date | None
    audience: str
    rows: list[dict[str, Any]]
    truncated: bool = Field(description="True when more rows exist than the limit returned.")
    suppressed_cells: int
    elapsed_ms: float


def answer(client: ClickHouseClient, database: str, question: AdhocQuestion, audience: Literal["desk", "policy"],
           threshold: int, scope: DataScope) -> AdhocAnswer:  # fmt: skip
    """Validate (AdhocError on unknown names), run with the row and time limits over the rows of the reader's `scope`
    (`Sources.scoped`), shape the rows."""
    started = time.perf_counter()
    p = plan(question, audience)
    q = StatisticQuery(client, database, question.years, Filters(), None, question.as_of, scope=scope)
    relation = {"referrals": q.referrals, "trajectories": q.trajectories, "round_tables": q.round_tables,
                "groups": q.groups}[p.source]()  # fmt: skip
    result = client.query(compile_sql(p, relation, question.limit), parameters={**q.params, **p.params},
                          settings={**QUERY_SETTINGS, "max_execution_time": MAX_SECONDS})  # fmt: skip
    found = list(result.result_rows)
    truncated = len(found) > question.limit
    found = found[: question.limit]
    n = len(p.dimensions)
    keys = [tuple(None if v is None else str(v) for v in row[:n]) for row in found]
    hidden: dict[int, set[int]] = {}
    if audience == "policy":
        for m in range(len(p.measures)):
            cells = [CountCell(key, number(row[n + 2 * m]), None if row[n + 2 * m + 1] is None
                               else int(row[n + 2 * m + 1])) for key, row in zip(keys, found, strict=True)]  # fmt: skip
            hidden[m] = suppress(cells, p.dimensions, threshold)
    ctx = label_context(client, database, question.as_of)
    rows = []
    for r, (key, row) in enumerate(zip(keys, found, strict=True)):
        out: dict[str, Any] = dict(zip(p.dimensions, key, strict=True))
        for dim, code in zip(p.dimensions, key, strict=True):
            out[f"{dim}_label_nl"] = dimension_label(dim, code, out, ctx)
        for m, measure in enumerate(p.measures):
            out[measure] = None if r in hidden.get(m, set()) else number(row[n + 2 * m])
        rows.append(out)
    return AdhocAnswer(
        source=p.source, measures=[MeasureInfo(code=m, label_nl=MEASURES[m].label_nl) for m in p.measures],
        dimensions=p.dimensions, years=sorted(set(question.years)), filters=question.filters, until=question.until,
        as_of=question.as_of, audience=audience, rows=rows, truncated=truncated,
        suppressed_cells=sum(len(h) for h in hidden.values()),
        elapsed_ms=round(1000 * (time.perf_counter() - started), 1),
    )  # fmt: skip
