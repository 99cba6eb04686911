"""Authentication and route rules on a FastAPI app: the bearer scheme both APIs accept, the 401 (with its RFC 6750
WWW-Authenticate challenge) and 403 answers, one table per app of the roles that may use each route, and the OpenAPI
`securitySchemes` so /docs can authorize.

The table is checked when the app starts: a route without a rule stops it (and is refused meanwhile), so a new route
cannot be reachable by accident. What a role may *see* on a route it may use is the data layer's business
(`Principal.data_scope`), not the table's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from core.auth import IdentityProviderUnavailable, NotAuthenticated, Principal, Role, TokenVerifier
from core.http_errors import ErrorBody

BEARER = HTTPBearer(
    auto_error=False, scheme_name="bearer", bearerFormat="JWT",
    description="An access token (JWT) of the configured identity provider, or locally `kans token --role ...`.",
)  # fmt: skip
Rule = frozenset[Role] | None
"""The roles that may use a route; None: a public route (liveness, readiness, metrics, the dashboard's page)."""
PUBLIC: Rule = None
Rules = Mapping[tuple[str, str], Rule]


def roles(*allowed: Role) -> frozenset[Role]:
    return frozenset(allowed)


def challenge(realm: str, err: NotAuthenticated | None) -> str:
    """`Bearer realm="..."`, with `error` and `error_description` when a token was sent but proves nothing."""
    text = f'Bearer realm="{realm}"'
    if err is not None and err.error:
        description = err.reason.replace('"', "'")
        text += f', error="{err.error}", error_description="{description}"'
    return text


def unauthorized(realm: str, err: NotAuthenticated, other_challenges: Iterable[str] = ()) -> HTTPException:
    hint = "send `Authorization: Bearer <token>` (locally: `kans token --role ...`)"
    challenges = ", ".join([challenge(realm, err), *other_challenges])
    return HTTPException(401, f"not authenticated: {err.reason}; {hint}", headers={"WWW-Authenticate": challenges})


def forbidden(principal: Principal, what: str, allowed: Iterable[Role]) -> HTTPException:
    names = ", ".join(sorted(r.value for r in allowed)) or "none"
    return HTTPException(403, f"role {principal.role.value} may not use {what}; allowed roles: {names}")


async def verify(tokens: TokenVerifier, token: str) -> Principal:
    """The token's principal; verified in a worker thread when that may fetch the identity provider's keys."""
    try:
        return await run_in_threadpool(tokens.verify, token) if tokens.fetches_keys else tokens.verify(token)
    except IdentityProviderUnavailable as err:
        raise HTTPException(503, str(err), headers={"Retry-After": "5"}) from err


class Access:
    """One app's rules and token verifier (on `app.state.access`)."""

    def __init__(self, rules: Rules, tokens: TokenVerifier, realm: str) -> None:
        self.rules, self.tokens, self.realm = dict(rules), tokens, realm

    def missing(self, app: FastAPI) -> list[tuple[str, str]]:
        """The app's routes that have no rule."""
        return sorted((m, str(c.path)) for c in iter_route_contexts(app.routes)
                      if isinstance(c.original_route, APIRoute) for m in c.methods or ()
                      if (m, c.path) not in self.rules)  # fmt: skip

    async def principal(self, request: Request, bearer: HTTPAuthorizationCredentials | None) -> Principal | None:
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method
        key = (method, getattr(route, "path", request.url.path))
        if key in self.rules and self.rules[key] is PUBLIC:
            return None
        if bearer is None:
            raise unauthorized(self.realm, NotAuthenticated("no bearer token", error=None))
        try:
            principal = await verify(self.tokens, bearer.credentials)
        except NotAuthenticated as err:
            raise unauthorized(self.realm, err) from err
        request.state.principal = principal  # who asked, also when refused below (the audit records it)
        allowed = self.rules.get(key)
        if allowed is None:  # a route without a rule (the app refuses to start with one): nobody
            raise forbidden(principal, f"{key[0]} {key[1]}", ())
        if principal.role not in allowed:
            raise forbidden(principal, f"{key[0]} {key[1]}", allowed)
        return principal


async def guard(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> Principal | None:
    """The app-wide dependency: None on a public route; otherwise the caller's principal, allowed on this route
    (401 without a valid token, 403 for a role the route's rule does not list)."""
    access: Access = request.app.state.access
    return await access.principal(request, bearer)


async def current_principal(principal: Annotated[Principal | None, Depends(guard)]) -> Principal:
    if principal is None:
        raise RuntimeError("a public route asked for the caller's principal")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def install_access(app: FastAPI, rules: Rules, tokens: TokenVerifier, realm: str) -> Access:
    """Put the rules on the app (the app must have `Depends(guard)` among its dependencies) and document them."""
    access = Access(rules, tokens, realm)
    app.state.access = access
    app.openapi = _documented(app, access)  # type: ignore[method-assign]
    return access


def check_rules(app: FastAPI) -> None:
    """Refuse to serve an app with a route no rule covers (called when the app starts)."""
    if missing := app.state.access.missing(app):
        raise RuntimeError(f"routes without an access rule: {missing}; give each one in the app's table of rules "
                           "(services/api/access.py for the read API)")


def _documented(app: FastAPI, access: Access) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = access.rules.get((method.upper(), path), frozenset())
                if rule is None:
                    operation.pop("security", None)
                    continue
                names = ", ".join(sorted(r.value for r in rule))
                operation["description"] = f"{operation.get('description', '')}\n\n**Roles:** {names}.".strip()
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {
                    "description": "No valid bearer token (missing, expired, wrong issuer, audience or signature).",
                    "headers": {"WWW-Authenticate": {"description": "The Bearer challenge (RFC 6750), with the error.",
                                                     "schema": {"type": "string"}}},
                    "content": _json(ErrorBody)})  # fmt: skip
                responses.setdefault("403", {"description": f"The caller's role may not use this route ({names}).",
                                             "content": _json(ErrorBody)})  # fmt: skip
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(ErrorBody.__name__, ErrorBody.model_json_schema())
        return schema

    return openapi


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
