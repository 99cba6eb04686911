"""Pure ingest rules: fingerprints and the plan of what to publish for a batch (no I/O here)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Literal

from schemas.envelope import SubmissionBase, event_id_for

SourceKey = tuple[str, str]


@dataclass(frozen=True)
class IndexEntry:
    event_id: uuid.UUID
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    index: int
    event_id: uuid.UUID
    status: Literal["created", "duplicate"]


@dataclass(frozen=True)
class Conflict:
    index: int
    source_system: str
    source_ref: str


@dataclass(frozen=True)
class Plan:
    to_publish: list[tuple[int, SubmissionBase]]
    outcomes: list[Outcome]
    conflicts: list[Conflict]
    new_entries: dict[SourceKey, IndexEntry]


def source_key(submission: SubmissionBase) -> SourceKey:
    return (submission.source_system, submission.source_ref)


def namespaced(submission: SubmissionBase, namespace: str | None) -> SubmissionBase:
    """The submission as it is stored and deduplicated: its source_ref in the caller's namespace. A caller that
    speaks for its whole source system has none (its refs are the system's); a caller limited to some referrers or
    providers gets `<namespace>/<source_ref>`, so its records can never take (or block) another caller's ref."""
    if namespace is None:
        return submission
    return submission.model_copy(update={"source_ref": f"{namespace}/{submission.source_ref}"})


def fingerprint(submission: SubmissionBase, key: bytes) -> str:
    """What the source said, byte for byte: a resubmission must match it to count as the same record.

    Keyed (HMAC): the submission holds the source's pupil identifier, and a plain hash of an otherwise known
    record could be brute-forced back to it.
    """
    return hmac.new(key, submission.model_dump_json().encode(), hashlib.sha256).hexdigest()[:32]


def plan_batch(submissions: list[SubmissionBase], known: dict[SourceKey, IndexEntry], secret: bytes) -> Plan:
    """Decide per submission: publish it, answer with the existing event (duplicate), or refuse (conflict).

    A source record resubmitted unchanged is a duplicate; the same (source_system, source_ref) with different
    content is a conflict: a correction must be a new record (an amendment), never a silent overwrite.
    """
    seen: dict[SourceKey, IndexEntry] = {}
    to_publish: list[tuple[int, SubmissionBase]] = []
    outcomes: list[Outcome] = []
    conflicts: list[Conflict] = []
    for i, sub in enumerate(submissions):
        key = source_key(sub)
        fp = fingerprint(sub, secret)
        prior = seen.get(key) or known.get(key)
        if prior is None:
            entry = IndexEntry(event_id_for(*key), fp)
            seen[key] = entry
            to_publish.append((i, sub))
            outcomes.append(Outcome(i, entry.event_id, "created"))
        elif prior.fingerprint == fp:
            outcomes.append(Outcome(i, prior.event_id, "duplicate"))
        else:
            conflicts.append(Conflict(i, *key))
    return Plan(to_publish, outcomes, conflicts, seen)
