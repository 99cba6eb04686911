"""The Kafka way in: a faust worker reads submissions (the JSON of POST /v1/events) from `kans.inbound.v1`,
checks each one (credential in the record header `api-key`, contract, the key's scope, conflicts) and publishes
it through the same IngestService as the REST way in, or dead-letters it to `kans.inbound.dlq.v1`.

Messages are taken in batches for throughput but judged one by one: a bad message only dead-letters itself.
Offsets are acknowledged (and committed by faust) only after the batch's events and dead letters were
acknowledged by the broker: at least once. A message read again after a crash is harmless: its source record is
in the idempotency index (`duplicate`, nothing published), or, if the index write was lost, it is published again
with the same event id, which every consumer of the event log deduplicates. A dead letter may then appear twice;
its `original-*` headers identify the message it stands for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from mode import CrashingSupervisor
from pydantic import ValidationError

from core.faust_apps import new_faust_app, run_worker
from core.settings import Settings, get_settings
from core.topics import dead_letter_topic, inbound_topic
from schemas.envelope import SubmissionBase
from schemas.privacy import personal_data_in
from schemas.pseudonym import pupil_key
from schemas.registry import EVENT_TYPES, SUBMISSION_ADAPTER
from services.ingest.credentials import KeyRing, Unauthenticated, authenticate, load_key_ring, scope_violations
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.service import IngestService, NotReady
from services.ingest.source_index import SourceIndex

log = logging.getLogger(__name__)
API_KEY_HEADER = "api-key"
RETRY_S = 2.0
MAX_HEADER_TEXT = 4000
PERSONAL_DATA_MESSAGE = "personal data (a name, national id or contact detail) refused; the value is not kept here"


@dataclass(frozen=True)
class Rejection:
    """Why a message goes to the dead-letter topic: a reason code, the field paths concerned, a message."""

    reason: str  # invalid_json | invalid_submission | unauthenticated | forbidden | source_conflict
    fields: tuple[str, ...]
    message: str
    # Refused because it carries personal data: the dead letter must not keep it (value dropped, message generic).
    personal_data: bool = False


def header(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None, name: str) -> bytes | None:
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    return next((value for key, value in items if key.lower() == name), None)


def _is_union_tag(item: Any) -> bool:
    """pydantic puts the submission model's tag (`ReferralSubmitted`, or `ReferralSubmitted.v1`) first in `loc`."""
    return isinstance(item, str) and item.split(".v", 1)[0] in EVENT_TYPES


def _path(loc: Sequence[Any], error_type: str) -> str:
    parts = [str(p) for i, p in enumerate(loc) if not (i == 0 and _is_union_tag(p))]
    if not parts:
        return "event_type" if error_type.startswith("union_tag") else "$"
    return ".".join(parts)


def rejection_for(err: ValidationError) -> Rejection:
    errors = err.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return Rejection("invalid_json", ("$",), f"not JSON: {errors[0]['msg']}")
    paths = [_path(e["loc"], e["type"]) for e in errors]
    message = "; ".join(
        f"{path}: {PERSONAL_DATA_MESSAGE if e['type'] == 'personal_data' else e['msg']} [{e['type']}]"
        for path, e in zip(paths, errors, strict=True)
    )
    personal = any(e["type"] == "personal_data" for e in errors)
    return Rejection("invalid_submission", tuple(dict.fromkeys(paths)), message, personal_data=personal)


def check_message(value: bytes | None, api_key: bytes | None, keys: KeyRing) -> SubmissionBase | Rejection:
    """The submission a message carries, if its credential is known, it matches the contract and its key may
    speak for it; otherwise why not. Pure: deduplication and conflicts are the IngestService's business."""
    try:
        key = authenticate(keys, api_key.decode("utf-8", "replace") if api_key else None)
    except Unauthenticated as err:
        return Rejection("unauthenticated", (), f"{err}: send your source system's API key in the header api-key")
    if value is None:
        return Rejection("invalid_json", ("$",), "the message has no value")
    try:
        submission: SubmissionBase = SUBMISSION_ADAPTER.validate_json(value)
    except ValidationError as err:
        return rejection_for(err)
    if violations := scope_violations(key, [submission]):
        return Rejection(
            "forbidden",
            tuple(v.field for v in violations),
            f"API key {key.name!r}: " + "; ".join(v.message for v in violations),
        )
    return submission


def conflict_rejection(submission: SubmissionBase) -> Rejection:
    return Rejection(
        "source_conflict",
        ("source_ref",),
        f"({submission.source_system}, {submission.source_ref}) was accepted before with different content: "
        "a correction is a new record with its own source_ref",
    )


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def dead_letter_value(value: bytes | None, rejection: Rejection, pupil_secret: bytes) -> bytes | None:
    """What the dead letter keeps of a message: the submission with its pupil id already pseudonymised, or
    nothing when it cannot be shown to be free of personal data (not JSON, or refused for personal data).

    The DLQ is part of the platform's log: the source's own pupil identifier (which may be a national register
    number) must not land there any more than in the event log. The source keeps the original in its outbox.
    """
    if value is None or rejection.personal_data:
        return None
    try:
        message = json.loads(value)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    payload = message.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("pupil_id"), str):
        key = pupil_key(pupil_secret, payload.pop("pupil_id"))
        message["payload"] = {**payload, "pupil_key": key}
    if any(personal_data_in(text, free_text=False) for text in _strings(message)):
        return None
    return json.dumps(message, ensure_ascii=False).encode()


def dead_letter_headers(rejection: Rejection, topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    """The reason and the origin; the message's own headers (its API key among them) are not copied."""
    return [
        ("error-type", rejection.reason.encode()),
        ("error-fields", ",".join(rejection.fields).encode()),
        ("error-message", rejection.message[:MAX_HEADER_TEXT].encode()),
        ("original-topic", topic.encode()),
        ("original-partition", str(partition).encode()),
        ("original-offset", str(offset).encode()),
    ]


def create_app(settings: Settings) -> faust.App:
    app = new_faust_app(settings, settings.inbound_app_id, "faust-inbound", settings.inbound_host,
                        settings.inbound_port, producer_acks=-1)  # fmt: skip
    inbound = app.topic(inbound_topic(settings), key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(dead_letter_topic(settings), key_serializer="raw", value_serializer="raw")
    keys = load_key_ring(settings.api_keys_file, production=settings.environment == "production")
    index = SourceIndex(settings)
    publisher = EventPublisher(settings)
    pupil_secret = settings.pupil_key_secret.get_secret_value().encode()
    service = IngestService(publisher, index, pupil_secret)

    started: list[bool] = []

    @app.task
    async def load_source_index() -> None:
        index.start()
        started.append(True)

    @app.on_before_shutdown.connect
    async def close_clients(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        if started:
            index.stop()
        publisher.close()

    async def submit_each(submissions: list[SubmissionBase]) -> list[int]:
        """Publish what is new; the positions of the conflicts. Kafka trouble is waited out, not dead-lettered."""
        while True:
            try:
                _, conflicts = await service.submit_each(submissions)
                return [c.index for c in conflicts]
            except (BrokerUnavailable, NotReady) as err:
                log.warning("inbound batch waits for Kafka (%s); retrying in %.0f s", err, RETRY_S)
                await asyncio.sleep(RETRY_S)

    async def publish(submissions: list[SubmissionBase]) -> dict[int, Rejection]:
        """Publish what is new; the rejections by position: conflicts, or a submission that cannot be sealed."""
        try:
            return {i: conflict_rejection(submissions[i]) for i in await submit_each(submissions)}
        except ValidationError as err:
            if len(submissions) == 1:
                return {0: rejection_for(err)}
        # Valid as a submission but refused as an event (nothing of the batch was published): rather than
        # crash on it again and again, find it by publishing one by one.
        rejections: dict[int, Rejection] = {}
        for i, submission in enumerate(submissions):
            if alone := await publish([submission]):
                rejections[i] = alone[0]
        return rejections

    async def forward_batch(events: Sequence[Any]) -> None:
        checked = [check_message(e.message.value, header(e.message.headers, API_KEY_HEADER), keys) for e in events]
        rejected = [(e, c) for e, c in zip(events, checked, strict=True) if isinstance(c, Rejection)]
        accepted = [(e, c) for e, c in zip(events, checked, strict=True) if not isinstance(c, Rejection)]
        if accepted:
            refused = await publish([submission for _, submission in accepted])
            rejected += [(accepted[i][0], rejection) for i, rejection in sorted(refused.items())]
        pending = []
        for event, rejection in rejected:
            m = event.message
            log.info("dead-lettered %s[%d]@%d: %s", m.topic, m.partition, m.offset, rejection.reason)
            value = dead_letter_value(m.value, rejection, pupil_secret)
            headers = [*dead_letter_headers(rejection, m.topic, m.partition, m.offset),
                       ("error-redacted", b"true" if value is None else b"false")]  # fmt: skip
            pending.append(await dead_letters.send(key=m.key, value=value, headers=headers, force=True))
        await asyncio.gather(*pending)  # acknowledged by the broker before the offsets are

    # A bug (anything but a bad message or Kafka being away) stops the worker instead of skipping messages.
    @app.agent(inbound, supervisor_strategy=CrashingSupervisor)
    async def forward_submissions(stream: Any) -> None:
        wait_s = settings.inbound_batch_wait_ms / 1000
        async for events in stream.noack_take(settings.inbound_batch_max, within=wait_s):
            await forward_batch(events)
            for event in events:
                await stream.ack(event)

    def ready() -> bool:
        """The idempotency index is loaded and partitions are assigned (no rebalance under way)."""
        return index.ready.is_set() and not app.rebalancing and bool(app.consumer.assignment())

    @app.page("/ready")
    async def ready_view(self: Any, request: Any) -> Any:
        body = {"ready": ready(), "source_records_known": len(index.entries)}
        return self.json(body, status=200 if body["ready"] else 503)

    return app


def main() -> None:
    """`kans serve inbound`."""
    settings = get_settings()
    run_worker(create_app(settings), "inbound", settings, settings.inbound_host, settings.inbound_port)
