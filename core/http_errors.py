"""One 422 format for every API: each error names the field (dotted path) and, for code lists, the allowed values."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": field_path(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
            **({"allowed": err["ctx"]["allowed"].split(", ")} if "allowed" in err.get("ctx", {}) else {}),
            **({"allowed": _expected_tags(err)} if err.get("type") == "union_tag_invalid" else {}),
        }
        for err in exc.errors()
    ]
    return JSONResponse(
        status_code=422,
        content=jsonable_encoder({"detail": "invalid request: nothing was accepted", "errors": errors}),
    )


def _expected_tags(err: dict[str, Any]) -> list[str]:
    return [tag.strip(" '") for tag in str(err.get("ctx", {}).get("expected_tags", "")).split(",") if tag.strip()]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error_handler)
