"""A batch of submissions read straight from the request's bytes: keys given twice are refused, then pydantic-core
validates the bytes against the contract in one pass (no `json.loads` into Python objects and a second validation
of those). Refusals are the ones FastAPI raises for a declared body, so the 422 (and 400) answers stay the same."""

from __future__ import annotations

import email.message
import json
from typing import Annotated, Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from schemas.envelope import SubmissionBase
from schemas.registry import SUBMISSION_ADAPTER, Submission
from services.ingest.strict_json import duplicate_keys

MAX_BATCH = 10_000
BATCH_ADAPTER: TypeAdapter[Any] = TypeAdapter(Annotated[list[Submission], Field(max_length=MAX_BATCH)])  # type: ignore[valid-type]


def batch_schema(examples: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of the batch route, as FastAPI documents a declared `list[Submission]` body (the
    submission models are components through the single-event route)."""
    refs = SUBMISSION_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")["oneOf"]
    schema = {"items": {"oneOf": refs}, "type": "array", "maxItems": MAX_BATCH, "title": "Submissions"}
    content = {"application/json": {"schema": schema, "examples": examples}}
    return {"requestBody": {"required": True, "content": content}}


def _is_json(content_type: str | None) -> bool:
    """What FastAPI reads as JSON: `application/json` or `application/*+json`."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _refusal(errors: list[Any]) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def batch_from(body: bytes, content_type: str | None) -> list[SubmissionBase]:
    """The submissions of a batch request, or the refusal FastAPI would raise: 422 naming each key given twice, each
    field (`body[3].payload.level`) or the JSON error; 400 for a body it cannot read (not UTF-8)."""
    if found := duplicate_keys(body):
        raise RequestValidationError([
            {"type": "json_duplicate_key", "loc": ("body", *path), "input": path[-1],
             "msg": f"key {path[-1]!r} is given more than once in one object: which value counts is ambiguous"}
            for path in found
        ])  # fmt: skip
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    if not _is_json(content_type):  # FastAPI validates such a body as the bytes themselves: not a list
        return _validated(body)
    try:
        return BATCH_ADAPTER.validate_json(body)  # type: ignore[no-any-return]
    except ValidationError:
        pass
    # Refused (the rare case): read again as FastAPI reads a body (Python's json module) and validate what that gives,
    # so the answer is word for word the one a declared body got (pydantic's JSON mode words some errors otherwise).
    try:
        data = json.loads(body)
    except json.JSONDecodeError as err:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", err.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": err.msg}}]) from None  # fmt: skip
    except Exception:  # noqa: BLE001 - FastAPI answers 400 to any body it cannot decode (not UTF-8, too deep)
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from None
    return _validated(data)


def _validated(data: Any) -> list[SubmissionBase]:
    try:
        return BATCH_ADAPTER.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as err:
        raise _refusal(err.errors(include_url=False)) from None
