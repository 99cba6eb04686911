"""What the inbound worker decides about one message, without I/O: the submission it carries or why it is
rejected (credential in the record header `api-key`, the bytes, contract, the key's scope; ownership is judged by the
IngestService, like deduplication), and what its dead letter keeps.

Any bytes at all may arrive (a null value, garbage, a megabyte): each is judged in time linear in its size, capped at
`MAX_RECORD_BYTES` as on the event log, so one message never holds the worker (its readiness page, its SIGTERM).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.dead_letters import MAX_RECORD_BYTES
from schemas.envelope import SubmissionBase
from schemas.privacy import personal_data_in
from schemas.registry import EVENT_TYPES, SUBMISSION_ADAPTER
from services.ingest.credentials import ApiKey, KeyRing, Unauthenticated, authenticate, scope_violations
from services.ingest.ownership import Refusal as OwnershipRefusal
from services.ingest.plausibility import FieldProblem
from services.ingest.strict_json import dotted, duplicate_keys

API_KEY_HEADER = "api-key"
MAX_HEADER_TEXT = 4000
PERSONAL_DATA_MESSAGE = "personal data (a name, national id or contact detail) refused; the value is not kept here"


@dataclass(frozen=True)
class Rejection:
    """Why a message goes to the dead-letter topic: a reason code, the field paths concerned, a message."""

    reason: str  # no_value | oversized | not_utf8 | invalid_json (duplicated keys too) |
    # invalid_submission (implausible dates too) | unauthenticated | forbidden (scope or ownership) | source_conflict
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
    if (bad := bad_bytes(value)) is not None:
        return bad
    assert value is not None  # bad_bytes refuses a null value
    if twice := [dotted(path) for path in duplicate_keys(value)]:
        return Rejection("invalid_json", tuple(twice), f"key(s) given more than once in one object: {', '.join(twice)}"
                         " (which value counts is ambiguous)")  # fmt: skip
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


def message_caller(api_key: bytes | None, keys: KeyRing) -> ApiKey:
    """The caller of a message `check_message` accepted (so its key is known)."""
    return authenticate(keys, api_key.decode("utf-8", "replace") if api_key else None)


def forbidden_rejection(caller: str, refusal: OwnershipRefusal) -> Rejection:
    """A submission its caller may not make: not its referral, not a trajectory dispatched to it, the desk's."""
    return Rejection("forbidden", (refusal.field,), f"API key {caller!r}: {refusal.message}")


def bad_bytes(value: bytes | None) -> Rejection | None:
    """Why the bytes cannot hold a submission before they are parsed: none (null), too many, not UTF-8."""
    if value is None:
        return Rejection("no_value", ("$",), "the message has no value (null)")
    if len(value) > MAX_RECORD_BYTES:
        return Rejection("oversized", ("$",), f"{len(value)} bytes, more than the {MAX_RECORD_BYTES} a message may "
                         "have")  # fmt: skip
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as err:
        return Rejection("not_utf8", ("$",), f"not UTF-8 text (byte {err.start})")
    return None


def refusal_rejection(problems: Sequence[FieldProblem]) -> Rejection:
    """A submission the ingest refused as it is: a date outside the plausible window (or it cannot be sealed)."""
    message = "; ".join(f"{p.field}: {p.message} [{p.type}]" for p in problems)
    return Rejection("invalid_submission", tuple(dict.fromkeys(p.field for p in problems)), message)


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


def dead_letter_value(value: bytes | None, rejection: Rejection) -> bytes | None:
    """What the dead letter keeps of a message: the submission without its pupil id (`pupil_id_removed`), or
    nothing when it cannot be shown to be free of personal data (not JSON, or refused for personal data).

    The DLQ is part of the platform's log: the source's own pupil identifier (which may be a national register
    number) must not land there any more than in the event log. The source keeps the original in its outbox.
    Bytes that are not a submission's at all (`bad_bytes`) are never read, nor kept.
    """
    if rejection.personal_data or bad_bytes(value) is not None:
        return None
    assert value is not None  # bad_bytes refuses a null value
    try:
        message = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested too deep for the decoder
        return None
    if not isinstance(message, dict):
        return None
    payload = message.get("payload")
    if isinstance(payload, dict) and "pupil_id" in payload:
        # Not even the pupil key: a dead letter would keep it in clear, and an erased pupil must not be found by it.
        message["payload"] = {**{k: v for k, v in payload.items() if k != "pupil_id"}, "pupil_id_removed": True}
    if any(personal_data_in(text, free_text=False) for text in _strings(message)):
        return None
    return json.dumps(message, ensure_ascii=False).encode()


def dead_letter_headers(
    rejection: Rejection, topic: str, partition: int, offset: int, timestamp_ms: int | None = None,
    size: int | None = None,
) -> list[tuple[str, bytes]]:
    """The reason and the origin (as the event log's dead letters give them: `core.dead_letters`); the message's own
    headers (its API key among them) are not copied."""
    return [
        ("error-type", rejection.reason.encode()),
        ("error-fields", ",".join(rejection.fields).encode()),
        ("error-message", rejection.message[:MAX_HEADER_TEXT].encode()),
        ("original-topic", topic.encode()),
        ("original-partition", str(partition).encode()),
        ("original-offset", str(offset).encode()),
        ("original-timestamp", b"" if timestamp_ms is None else str(timestamp_ms).encode()),
        ("original-size", b"" if size is None else str(size).encode()),
    ]
