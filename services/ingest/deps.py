"""Typed dependencies shared by the ingest's routers: the wired collaborators, the settings and the caller.

A caller proves who it is with its source system's API key (`X-API-Key`) or with a bearer token of the identity
provider that the read API accepts too (`core/auth.py`): a `source_system` token (its `kans_scope` the source systems,
`kans_referrers` / `kans_providers` whom it acts for) or a desk token (the desk tool, as the desk). Either way the
caller is one `ApiKey` scope, so the scope and ownership rules do not care how it was proved. No other role submits
events (403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials

from core.access import BEARER, challenge, forbidden
from core.auth import ANY, IdentityProviderUnavailable, NotAuthenticated, Principal, Role, TokenVerifier
from core.settings import Settings
from services.ingest.bootstrap import Ingest
from services.ingest.credentials import ApiKey, Unauthenticated, authenticate
from services.ingest.strict_json import duplicate_keys

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="The source system's API key; it decides which source_system (and referrers) it may submit for.",
)  # fmt: skip


async def get_ingest(request: Request) -> Ingest:
    return request.app.state.ingest  # type: ignore[no-any-return]


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


IngestDep = Annotated[Ingest, Depends(get_ingest)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


REALM = "kans-ingest"
SUBMITTERS = (Role.source_system, Role.desk)


def caller_of(principal: Principal) -> ApiKey:
    """The scope a token gives, as an API key would: a source system's token its systems, referrers and providers;
    a desk token the desk tool's, acting as the desk. Its name (the identity that owns import reports and, for a
    caller limited to some referrers or providers, namespaces its source_refs) is `token:<sub>`: a key's name has
    no colon, so a token can never take a key's identity."""
    name = f"token:{principal.subject}"
    if principal.role is Role.desk:
        return ApiKey(name, frozenset({"desk"}), frozenset({ANY}), frozenset({ANY}), desk=True)
    return ApiKey(name, principal.scope, principal.referrers, principal.providers)


def _unauthenticated(err: NotAuthenticated) -> HTTPException:
    hint = "send your source system's API key in the X-API-Key header, or `Authorization: Bearer <token>`"
    return HTTPException(status_code=401, detail=f"{err.reason}: {hint}",
                         headers={"WWW-Authenticate": f'{challenge(REALM, err)}, APIKey realm="{REALM}"'})  # fmt: skip


def get_caller(
    request: Request,
    ingest: IngestDep,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> ApiKey:
    # A dependency runs before the body is validated: an unauthenticated request gets 401, never a 422. Sync: FastAPI
    # runs it in a worker thread, where fetching the identity provider's keys may block.
    if api_key or bearer is None:
        try:
            return authenticate(ingest.keys, api_key)
        except Unauthenticated as err:
            raise _unauthenticated(NotAuthenticated(str(err), error=None)) from err
    tokens: TokenVerifier = request.app.state.tokens
    try:
        principal = tokens.verify(bearer.credentials)
    except NotAuthenticated as err:
        raise _unauthenticated(err) from err
    except IdentityProviderUnavailable as err:
        raise HTTPException(503, str(err), headers={"Retry-After": "5"}) from err
    if principal.role not in SUBMITTERS:
        raise forbidden(principal, "the ingest (it takes events from source systems and the desk)", SUBMITTERS)
    return caller_of(principal)


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
