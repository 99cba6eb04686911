"""Rate limits per caller on the read API (the `limits` package, sliding-window counters in memory): every request
under /v1 counts against its caller, the verified token's subject, or the client address for a request without a
valid token. Over `KANS_RATE_LIMIT` (default 600 a minute): 429 with Retry-After, before anything else is done for
it; other callers are not affected. /health, /ready, /metrics, the dashboard's page and the docs are not limited.

The asyncio flavour of `limits`: its memory storage expires old counts in a task of the event loop, where the
threaded one started a thread every 10 ms under load (a thread start on most requests at 200 a second). One API
process keeps its own counts (memory storage): behind several API processes a caller gets that many times
the limit; `limits` has Redis and Memcached storages for a shared count.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import FastAPI, HTTPException
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.access import verify
from core.auth import NotAuthenticated, TokenVerifier
from core.http_errors import RETRY_AFTER

LIMITED_PREFIX = "/v1/"


class RateLimitMiddleware:
    """Pure ASGI, outermost: a refused request costs one token lookup (remembered, core/auth.py) and one count."""

    def __init__(self, app: ASGIApp, limit: str, tokens: TokenVerifier) -> None:
        self.app, self.tokens = app, tokens
        self.items: list[RateLimitItem] = parse_many(limit)
        # A sliding-window counter: two counts per caller (this window's and the last one's, weighted by how much of it
        # still overlaps), not a moving window's timestamp per request, whose expiry walked every hit of the minute
        # (measured: an eighth of the API's CPU per live-view read at 200 requests/s).
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def caller(self, scope: Scope) -> str:
        """`sub:<subject>` of a valid bearer token, otherwise `addr:<client address>`."""
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                return f"sub:{(await verify(self.tokens, token.strip())).subject}"
            except (NotAuthenticated, HTTPException):  # no valid token (or no JWKS now): counted by its address
                pass
        client = scope.get("client")
        return f"addr:{client[0] if client else 'unknown'}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        caller = await self.caller(scope)
        for item in self.items:
            if not await self.limiter.hit(item, caller):
                reset = (await self.limiter.get_window_stats(item, caller)).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                refusal = JSONResponse(
                    {"detail": f"too many requests: at most {item} per caller ({caller.split(':', 1)[0]}); "
                               f"try again in {wait} s"},
                    status_code=429, headers={"Retry-After": str(wait)},
                )  # fmt: skip
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_rate_limit(app: FastAPI, limit: str, tokens: TokenVerifier) -> None:
    """Limit the app's /v1 routes per caller and document the 429 on each of their operations."""
    app.add_middleware(RateLimitMiddleware, limit=limit, tokens=tokens)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(LIMITED_PREFIX):
                continue
            for operation in operations.values():
                operation.setdefault("responses", {}).setdefault("429", {
                    "description": f"Too many requests from this caller (at most {limit}); wait Retry-After seconds.",
                    "headers": RETRY_AFTER,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                })  # fmt: skip
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
