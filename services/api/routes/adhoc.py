"""Ad hoc questions over HTTP: `POST /v1/query` with measures, dimensions, filters and years from a whitelist.

No SQL is accepted: unknown names get a 422 naming the field and the allowed values, filter values are bound as
parameters, the answer has a row limit and the query a time limit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from core.access import PrincipalDep
from core.http_errors import FieldError, responses, validation_refusal
from services.api.audit import note
from services.api.deps import AUDIENCE_HELP, Audience, SettingsDep, WarehouseDep, audience_for
from services.warehouse.statistics.adhoc import MAX_SECONDS, AdhocError, AdhocQuestion
from services.warehouse.statistics.adhoc_answer import AdhocAnswer, answer
from services.warehouse.statistics.adhoc_catalog import DIMENSIONS, MEASURES

router = APIRouter(prefix="/v1", tags=["ad hoc"])


@router.get("/query/catalogue")
async def query_catalogue() -> dict[str, Any]:
    """What a question may use: measures (each of one source) and the dimensions of each source."""
    return {
        "measures": {code: {"source": m.source, "label_nl": m.label_nl} for code, m in MEASURES.items()},
        "dimensions": {source: sorted(dims) for source, dims in DIMENSIONS.items()},
        "per_school_dimensions": sorted({n for dims in DIMENSIONS.values() for n, d in dims.items() if d.per_school}),
    }


@router.post(
    "/query",
    response_model=AdhocAnswer,
    responses=responses(
        422, 503, 504,
        s422="Unknown measure, dimension or filter (the error names the field and the allowed values), or not "
        "allowed for the audience.",
        s503="The desk's unsuppressed answer could not be recorded in the audit trail (Kafka away): not served.",
        s504=f"The question took longer than {MAX_SECONDS} s.",
    ),
)
async def ad_hoc(
    request: Request,
    warehouse: WarehouseDep,
    settings: SettingsDep,
    question: AdhocQuestion,
    principal: PrincipalDep,
    audience: Annotated[Audience | None, Query(description=AUDIENCE_HELP)] = None,
) -> Any:
    """Answer an ad hoc question from ClickHouse, e.g. referrals and pupils by school year and gender for secondary
    without the corona offer. Measures must share one source (referrals, trajectories, round_tables, groups);
    per-school dimensions are for the desk audience only; the policy audience gets small cells suppressed. A CLB asks
    about its own referrals only. The desk's unsuppressed answers (cells down to one pupil) are recorded in the audit
    trail before they leave."""
    chosen = audience_for(principal, audience)
    try:
        result = await warehouse.run(answer, question, chosen, settings.suppression_threshold, principal.data_scope)
    except AdhocError as err:
        error = FieldError(field=err.field, message=err.message, type="not_allowed", allowed=err.allowed or None)
        return validation_refusal([error], "invalid question: nothing was run")
    except Exception as err:
        if "TIMEOUT_EXCEEDED" in str(err):
            return JSONResponse(status_code=504, content={"detail": f"the question took longer than {MAX_SECONDS} s"})
        raise
    if chosen == "desk":
        note(request, detail=f"audience=desk measures={','.join(question.measures)} "
                             f"dimensions={','.join(question.dimensions)}")  # fmt: skip
    return result
