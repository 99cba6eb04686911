"""The audit of reads about pupils: every request for a pupil's history (`GET /v1/referrals/{id}/events`), a
trajectory's live status (one pupil's trajectory), a referral's live status (`GET /v1/live/referrals/{id}`), the list
of referrals' statuses (`GET /v1/live/referrals`) or an
ad hoc answer at the desk audience (unsuppressed cells, down to one pupil), served or refused, is published as an
`AuditRecord` to `kans.audit.v1` before its answer leaves.

`AuditMiddleware` holds the answer, publishes the record and waits for the broker's acknowledgement (acks=all, at most
`KANS_PUBLISH_TIMEOUT_S`); only then is the answer sent. If the record cannot be written (the broker is away), the
caller gets 503 with Retry-After instead of the answer: nothing about a pupil is served unaudited. A refusal (401,
403, 404, 422) is recorded the same way (and is then also answered 503 when the broker is away). An ad hoc question
is audited when the desk got its unsuppressed answer, and when it was refused for lack of a token or role (401/403);
the policy view (suppressed) is not.

Who: the verified token's subject, role and scope (nothing of a token that did not verify: subject null); the client
address. Why: the `X-Access-Reason` header or the `reason` query parameter, at most 200 characters; a reason that
looks like personal data is refused (422) on the routes that document it and never stored (`REASON_WITHHELD`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Header, Query, Request
from fastapi.exceptions import RequestValidationError
from kafka import KafkaProducer
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth import Principal
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import audit_topic
from schemas.audit import REASON_MAX, REASON_WITHHELD, AuditRecord, outcome_of
from schemas.privacy import personal_data_in

log = logging.getLogger(__name__)
HISTORY = ("GET", "/v1/referrals/{referral_id}/events")
TRAJECTORY = ("GET", "/v1/live/trajectories/{trajectory_id}")
REFERRAL_STATUS = ("GET", "/v1/live/referrals/{referral_id}")
REFERRAL_LIST = ("GET", "/v1/live/referrals")  # many referrals' statuses at once: as audited as one
AD_HOC = ("POST", "/v1/query")
ALWAYS = frozenset({HISTORY, TRAJECTORY, REFERRAL_STATUS, REFERRAL_LIST})  # every request, whatever its answer
PATH_PREFIXES = ("/v1/referrals/", "/v1/live/trajectories/", "/v1/live/referrals", "/v1/query")
REASON_HEADER = "X-Access-Reason"
RETRY_AFTER_S = "5"
NOTE = "kans_audit"  # request.state key where a route adds what the middleware cannot see (ids, the question)


class AuditUnavailable(Exception):
    """The audit record was not acknowledged by the broker: the read must not be served."""


class AuditLog:
    """Publishes audit records with acks=all and waits for the acknowledgement. The producer is made on first use
    and made again after a failure, so the API starts (and serves what is not audited) while the broker is away."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.topic = settings, audit_topic(settings)
        self.timeout_s = settings.publish_timeout_s
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.timeout_s * 1000)
                self._producer = KafkaProducer(
                    **client_config(self.settings), acks="all", client_id="kans-api-audit", linger_ms=0,
                    max_block_ms=timeout_ms, request_timeout_ms=timeout_ms, reconnect_backoff_max_ms=1000,
                )  # fmt: skip
            return self._producer

    def write(self, record: AuditRecord) -> None:
        """Send and wait for the broker's acknowledgement; AuditUnavailable otherwise."""
        try:
            producer = self._get_producer()
            key = (record.subject or "anonymous").encode()
            producer.send(self.topic, key=key, value=record.model_dump_json().encode()).get(timeout=self.timeout_s)
        except Exception as err:  # whatever stopped it, the record is not in the log
            log.warning("audit: record %s not acknowledged (%s: %s)", record.audit_id, type(err).__name__, err)
            raise AuditUnavailable(f"{type(err).__name__}: {err}") from err

    async def record(self, record: AuditRecord) -> None:
        await run_in_threadpool(self.write, record)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None


def note(request: Request, **fields: str | None) -> None:
    """What a route knows that the middleware does not (the referral of a trajectory, the question asked)."""
    request.scope.setdefault("state", {}).setdefault(NOTE, {}).update(fields)


def _reason_of(scope: Scope) -> str | None:
    raw = next((v for k, v in scope.get("headers", []) if k.lower() == REASON_HEADER.lower().encode()), None)
    reason = raw.decode("utf-8", "replace") if raw is not None else None
    if reason is None:
        asked = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace")).get("reason")
        reason = asked[0] if asked else None
    if reason is None or not reason.strip():
        return None
    reason = reason.strip()[:REASON_MAX]
    return REASON_WITHHELD if personal_data_in(reason, free_text=True) else reason


def _record(scope: Scope, route: tuple[str, str], status: int) -> AuditRecord:
    state: dict[str, Any] = scope.get("state") or {}
    principal: Principal | None = state.get("principal")
    noted: dict[str, str | None] = state.get(NOTE, {})
    params: dict[str, Any] = scope.get("path_params") or {}
    client = scope.get("client")
    return AuditRecord(
        audit_id=uuid.uuid4(), at=datetime.now(UTC),
        subject=principal.subject if principal else None, role=principal.role.value if principal else None,
        scope=sorted(principal.scope) if principal else [], client=client[0] if client else None,
        method=route[0], route=route[1],
        referral_id=noted.get("referral_id") or (str(params["referral_id"]) if "referral_id" in params else None),
        trajectory_id=str(params["trajectory_id"]) if "trajectory_id" in params else None,
        detail=noted.get("detail"), status=status, outcome=outcome_of(status), reason=_reason_of(scope),
    )  # fmt: skip


def _audited(route: tuple[str, str], status: int, scope: Scope) -> bool:
    if route in ALWAYS:
        return True
    if route == AD_HOC:
        return status in (401, 403) or "detail" in (scope.get("state") or {}).get(NOTE, {})
    return False


class AuditMiddleware:
    """Pure ASGI: only requests under the audited paths are held; everything else passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PATH_PREFIXES):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        scope.setdefault("state", {})
        try:
            await self.app(scope, receive, hold)
        except Exception:
            if (route := _route(scope)) in ALWAYS or route == AD_HOC:
                with contextlib.suppress(AuditUnavailable):  # the caller gets a 500; recorded if the broker takes it
                    await _sink(scope).record(_record(scope, route, 500))
            raise
        status = next(m["status"] for m in held if m["type"] == "http.response.start")
        route = _route(scope)
        if _audited(route, status, scope):
            try:
                await _sink(scope).record(_record(scope, route, status))
            except AuditUnavailable:
                refusal = JSONResponse(
                    {"detail": "the audit record of this read could not be written (Kafka did not acknowledge it): "
                               "nothing about a pupil is served unaudited; try again later"},
                    status_code=503, headers={"Retry-After": RETRY_AFTER_S},
                )  # fmt: skip
                await refusal(scope, receive, send)
                return
        for message in held:
            await send(message)


def _route(scope: Scope) -> tuple[str, str]:
    return scope["method"], str(getattr(scope.get("route"), "path", scope["path"]))


class _Unavailable:
    async def record(self, record: AuditRecord) -> None:
        raise AuditUnavailable("the API has no audit log (not started)")


def _sink(scope: Scope) -> AuditLog | _Unavailable:
    api = getattr(scope["app"].state, "api", None)
    return getattr(api, "audit", None) or _Unavailable()


REASON_HELP = ("Why you read this (e.g. a case number or 'complaint 2025-17'), kept in the audit trail; at most "
               f"{REASON_MAX} characters, no personal data. The {REASON_HEADER} header may say it instead.")


async def access_reason(
    reason: Annotated[str | None, Query(max_length=REASON_MAX, description=REASON_HELP)] = None,
    x_access_reason: Annotated[
        str | None, Header(alias=REASON_HEADER, max_length=REASON_MAX, description=REASON_HELP)
    ] = None,
) -> str | None:
    """The reason a caller gives for an audited read: refused (422) when it looks like personal data."""
    for where, value in (("header", REASON_HEADER.lower()), x_access_reason), (("query", "reason"), reason):
        if value and (found := personal_data_in(value, free_text=True)):
            raise RequestValidationError([{"loc": where, "type": "personal_data", "input": value,
                                           "msg": f"the reason looks like it contains {found}: say why without "
                                                  "naming anyone (a case number, a complaint number)"}])  # fmt: skip
    return x_access_reason or reason
