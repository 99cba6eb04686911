"""The error bodies every service sends, as pydantic models, and what keeps the OpenAPI documents in step with them.

One 422 format for every API: each error names the field (dotted path) and, for code lists, the allowed values.
Every other refusal is `{"detail": "<why>"}` (plus the offending items where there are some: 403, 409). Routers
document the statuses their routes can answer with `responses(...)`; `install_error_handlers` also replaces
FastAPI's own 422 schema (`detail` as a list) wherever a route did not say, so no document describes a body no
service sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One refused field: where it is, why, and (for a code list or a key's scope) what would be accepted."""

    field: str = Field(description="Dotted path of the field: `body[3].payload.level`, `query.level`, `file`.")
    message: str = Field(description="Why the value is refused, in words.")
    type: str = Field(description="Kind of problem: pydantic's error type (`missing`, `string_pattern_mismatch`, …) "
                      "or ours (`code_list`, `json_duplicate_key`, `not_in_scope`, `not_allowed`, …).")  # fmt: skip
    allowed: list[str] | None = Field(None, description="The values that would be accepted, when there is a list.")
    value: str | None = Field(None, description="The refused value, when it is safe to repeat (never personal data).")


class ValidationErrorBody(BaseModel):
    """422: the request breaks its contract; nothing was accepted or run. Each error names its field."""

    detail: str = Field(examples=["invalid request: nothing was accepted"])
    errors: list[FieldError]


class ErrorBody(BaseModel):
    """A refusal without per-field errors: `detail` says why."""

    detail: str


class ForbiddenBody(BaseModel):
    """403: the caller is known but may not do this. When submissions are outside the key's scope (source system,
    referrer), `errors` names each field with the values the key allows."""

    detail: str
    errors: list[FieldError] | None = Field(None, description="Each field outside the caller's scope, if any.")


class ConflictingRecord(BaseModel):
    index: int = Field(description="Position in the submitted batch (0 for a single event).")
    source_system: str
    source_ref: str


class ConflictBody(BaseModel):
    """409: a source record already accepted comes again with different content; nothing was accepted."""

    detail: str
    conflicts: list[ConflictingRecord]


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
_STANDARD: dict[int, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be read (not UTF-8 JSON, or a malformed form)."},
    401: {
        "model": ErrorBody,
        "description": "No credentials, or credentials this service does not know.",
        "headers": {"WWW-Authenticate": {"description": "How to authenticate.", "schema": {"type": "string"}}},
    },
    403: {"model": ForbiddenBody, "description": "The credentials may not do this (`errors`: each field outside "
          "their scope)."},
    404: {"model": ErrorBody, "description": "Nothing is known under this identifier."},
    409: {"model": ConflictBody, "description": "A source record already accepted, with different content."},
    410: {"model": ErrorBody, "description": "What was here is gone for good (e.g. the pupil was erased)."},
    413: {"model": ErrorBody, "description": "The request is larger than this service accepts."},
    415: {"model": ErrorBody, "description": "The upload's type is not one this service reads."},
    422: {"model": ValidationErrorBody, "description": "Invalid request: each error names its field."},
    429: {"model": ErrorBody, "description": "Too many requests.", "headers": RETRY_AFTER},
    503: {"model": ErrorBody, "description": "Not available right now; try again later.", "headers": RETRY_AFTER},
    504: {"model": ErrorBody, "description": "The answer took longer than this service allows."},
}


def responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses=` of a router or route: each status with its body model (and headers).

    `descriptions` overrides a status's description, keyed `s503="…"`, where a route knows better what it means.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry = dict(_STANDARD[status])
        if (text := descriptions.get(f"s{status}")) is not None:
            entry["description"] = text
        out[status] = entry
    return out


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", 0, "TrajectoryClosed", "payload", "perspective")` -> `body[0].payload.perspective`."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif (i == 2 and isinstance(loc[1], int) and str(item)[:1].isupper()) or (i == 1 and str(item)[:1].isupper()):
            continue  # the union member's tag (event type) pydantic inserts into the location
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    """pydantic's errors as ours: the field's path, the message, the type and, where there is a list, the allowed."""
    out = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        allowed = ctx["allowed"].split(", ") if "allowed" in ctx else None
        if err.get("type") == "union_tag_invalid":
            allowed = _expected_tags(err)
        out.append(FieldError(field=field_path(err.get("loc", ())), message=str(err.get("msg", "")),
                              type=str(err.get("type", "")), allowed=allowed))  # fmt: skip
    return out


def validation_refusal(errors: list[FieldError], detail: str = "invalid request: nothing was accepted") -> JSONResponse:
    """The 422 answer in the one format."""
    body = ValidationErrorBody(detail=detail, errors=errors)
    return JSONResponse(status_code=422, content=jsonable_encoder(body.model_dump(exclude_none=True)))


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_refusal(validation_errors(exc))


def _expected_tags(err: dict[str, Any]) -> list[str]:
    return [tag.strip(" '") for tag in str(err.get("ctx", {}).get("expected_tags", "")).split(",") if tag.strip()]


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _document_framework_errors(schema: dict[str, Any]) -> None:
    """What FastAPI answers before a route runs, in our bodies: the 422 of a route with parameters (FastAPI documents
    its own, `detail` as a list, which no service sends) and the 400 of a route with a body it cannot read."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in {**_component_schemas(ValidationErrorBody), **_component_schemas(ErrorBody)}.items():
        components.setdefault(name, definition)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            answers = operation.setdefault("responses", {})
            content = answers.get("422", {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == _FASTAPI_422:
                answers["422"] = _openapi_response(422)
            if "requestBody" in operation and "400" not in answers:
                answers["400"] = _openapi_response(400)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _openapi_response(status: int) -> dict[str, Any]:
    ref = f"#/components/schemas/{_STANDARD[status]['model'].__name__}"
    return {"description": _STANDARD[status]["description"], "content": {"application/json": {"schema": {"$ref": ref}}}}


def _component_schemas(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema as OpenAPI components (its own and those it refers to)."""
    full = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = full.pop("$defs", {})
    return {**defs, model.__name__: full}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every validation error in the one 422 format, and document it so."""
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()  # FastAPI's, cached on the app: fixed once
        if fresh:
            _document_framework_errors(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
