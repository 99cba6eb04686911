"""Bad records on the event log and their dead letters, for every consumer of the log (ClickHouse writer, projections).

A consumer reads each record with one read function (`read_event`, or `read_record` with its own parser). That
function raises `BadRecord`, and only for what the record's bytes do: no value, too large, not UTF-8, not JSON, not
a JSON object, against the contract. A consumer dead-letters a `BadRecord` and moves on. Any other exception is a
bug in the consumer's own code: it is never caught as a bad record, so the consumer stops instead of skipping.

A dead letter keeps the reason and the origin (topic, partition, offset, timestamp, consumer) in headers. It keeps
the record's value only when that can be shown to be free of personal data (a JSON object none of whose keys and
strings looks like a name, national number or contact detail, without a source's own `pupil_id`); otherwise the
value is dropped and `error-redacted: true` says so. The original stays in the event log, at its origin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from schemas.envelope import Envelope
from schemas.privacy import personal_data_in
from schemas.pseudonym import SEALED_KEY_PATTERN
from schemas.registry import parse_event

T = TypeVar("T")
# No event of the catalogue comes near this (the largest, a group request of 60 groups, is ~15 KB); anything larger
# is refused before it is parsed.
MAX_RECORD_BYTES = 64 * 1024
MAX_HEADER_TEXT = 2000
# The reasons, as the dead letter's `error-type` header says them.
REASONS = ("no_value", "oversized", "not_utf8", "not_json", "not_an_object", "contract_violation", "bad_key")
# Errors whose text may quote what the record holds (our validators' messages, pydantic's echo of a tag).
_QUOTING = frozenset({"value_error", "assertion_error", "union_tag_invalid", "personal_data"})
_REDACTED_MESSAGE = "the error names what the record holds, which may be personal data: not repeated here"


class BadRecord(Exception):
    """The record cannot be taken by any version of this consumer's code: dead-letter it and move on.
    `personal_data`: refused for personal data, so its dead letter must not keep it."""

    def __init__(self, reason: str, message: str, fields: tuple[str, ...] = (), personal_data: bool = False) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message, self.fields, self.personal_data = reason, message, fields, personal_data


@dataclass(frozen=True)
class Origin:
    """Where a record was read, and by whom (`consumer`: e.g. `clickhouse-writer`, `projections.track_trajectories`)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    consumer: str


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def read_record(value: bytes | None, parse: Callable[[bytes], T]) -> T:
    """`parse(value)`, or BadRecord saying what is wrong with the bytes. `parse` raises ValidationError for input
    it refuses; anything else it raises is not the record's fault and goes through."""
    if value is None:
        raise BadRecord("no_value", "the record has no value (null)")
    if len(value) > MAX_RECORD_BYTES:
        raise BadRecord("oversized", f"{len(value)} bytes, more than the {MAX_RECORD_BYTES} any record may have")
    try:
        return parse(value)
    except (ValidationError, RecursionError) as err:  # RecursionError: JSON nested too deep for the decoder
        raise classify(value, err) from None


def read_event(value: bytes | None) -> Envelope:
    """An event of the log, in its type's current version; BadRecord for a record that is not one."""
    return read_record(value, parse_event)


def classify(value: bytes, err: ValidationError | RecursionError) -> BadRecord:
    """Why `value` was refused: the first of not UTF-8, not JSON, not an object, or the contract's complaints."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return BadRecord("not_utf8", f"not UTF-8 text (byte {decode_error.start})")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as json_error:
        too_deep = isinstance(json_error, RecursionError)
        return BadRecord("not_json", "JSON nested too deep to decode" if too_deep else f"not JSON ({json_error})"[:200])
    if not isinstance(data, dict):
        return BadRecord("not_an_object", f"JSON {type(data).__name__}, not an object")
    if not isinstance(err, ValidationError):
        return BadRecord("contract_violation", "nested too deep")
    return contract_violation(err)


def contract_violation(err: ValidationError) -> BadRecord:
    """The fields and error types the contract names, never the values it was given: `input` is left out, and so
    is the text of an error that may quote it (a validator's own message, an unknown tag)."""
    errors = err.errors(include_url=False, include_input=False)
    fields = tuple(dict.fromkeys(".".join(str(p) for p in e["loc"]) or "$" for e in errors))
    personal = any(e["type"] == "personal_data" for e in errors)
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '$'}: {'' if e['type'] in _QUOTING else e['msg'] + ' '}[{e['type']}]"
        for e in errors[:10]
    )
    if personal or personal_data_in(message, free_text=True):
        # A field path (an unknown key) may itself be personal data: say only the error types.
        message = f"{_REDACTED_MESSAGE}: " + ", ".join(sorted({e["type"] for e in errors}))
        fields = ()
    return BadRecord("contract_violation", message, fields, personal_data=personal)


_SEALED = re.compile(SEALED_KEY_PATTERN)


def _texts(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, item in node.items():
            yield key
            if key == "pupil_key_sealed" and isinstance(item, str) and _SEALED.match(item):
                continue  # ciphertext (base64): read as text it looks like anything, names included
            yield from _texts(item)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _has_key(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return name in node or any(_has_key(item, name) for item in node.values())
    return isinstance(node, list) and any(_has_key(item, name) for item in node)


def shown_free_of_personal_data(value: bytes | None) -> bool:
    """True only when `value` is a JSON object whose keys and strings hold nothing that looks personal (names
    included: every string is read as free text) and no source's own pupil identifier (`pupil_id`)."""
    if value is None or len(value) > MAX_RECORD_BYTES:
        return False
    try:
        data = json.loads(value.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict) or _has_key(data, "pupil_id"):
        return False
    return not any(personal_data_in(text, free_text=True) for text in _texts(data))


def _safe_key(key: bytes | None) -> bytes | None:
    if key is None:
        return None
    text = key.decode("utf-8", "replace")
    return key if len(key) <= 200 and not personal_data_in(text, free_text=True) else None


def dead_letter(bad: BadRecord, key: bytes | None, value: bytes | None, origin: Origin) -> DeadLetter:
    """The dead letter of a bad record: the reason and the origin in headers, the value only if shown harmless."""
    kept = None if bad.personal_data or not shown_free_of_personal_data(value) else value
    headers = [
        ("error-type", bad.reason.encode()),
        ("error-fields", ",".join(bad.fields)[:MAX_HEADER_TEXT].encode()),
        ("error-message", bad.message[:MAX_HEADER_TEXT].encode()),
        ("error-redacted", b"true" if kept is None else b"false"),
        ("original-topic", origin.topic.encode()),
        ("original-partition", str(origin.partition).encode()),
        ("original-offset", str(origin.offset).encode()),
        ("original-timestamp", b"" if origin.timestamp_ms is None else str(origin.timestamp_ms).encode()),
        ("original-size", b"" if value is None else str(len(value)).encode()),
        ("consumer", origin.consumer.encode()),
    ]
    return DeadLetter(_safe_key(key), kept, headers)


def header_values(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """A dead letter's headers as text, by name (for readers and tests)."""
    return {name: raw.decode("utf-8", "replace") for name, raw in headers or ()}
