"""Typed dependencies shared by the ingest's routers: the wired collaborators, the settings and the caller's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from core.settings import Settings
from services.ingest.bootstrap import Ingest
from services.ingest.credentials import ApiKey, Unauthenticated, authenticate
from services.ingest.strict_json import duplicate_keys

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="The source system's API key; it decides which source_system (and referrers) it may submit for.",
)  # fmt: skip


def get_ingest(request: Request) -> Ingest:
    return request.app.state.ingest  # type: ignore[no-any-return]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


IngestDep = Annotated[Ingest, Depends(get_ingest)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_caller(ingest: IngestDep, api_key: Annotated[str | None, Security(API_KEY_HEADER)]) -> ApiKey:
    # A dependency runs before the body is validated: an unauthenticated request gets 401, never a 422.
    try:
        return authenticate(ingest.keys, api_key)
    except Unauthenticated as err:
        detail = f"{err}: send your source system's API key in the X-API-Key header"
        raise HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "APIKey"}) from err


CallerDep = Annotated[ApiKey, Depends(get_caller)]


async def refuse_duplicate_keys(request: Request, _: CallerDep) -> None:
    """422 naming every key given twice in one JSON object of the body (after the caller's key was checked).

    A dependency, not a body model option: pydantic keeps the last of two values silently, and the body's schema in
    the OpenAPI document stays the contract's. The body was already read by FastAPI (cached); it is parsed again
    with a hook that sees every pair, which costs about a tenth of validating it.
    """
    if found := duplicate_keys(await request.body()):
        raise RequestValidationError([
            {"type": "json_duplicate_key", "loc": ("body", *path), "input": path[-1],
             "msg": f"key {path[-1]!r} is given more than once in one object: which value counts is ambiguous"}
            for path in found
        ])  # fmt: skip
