"""What the dispatch service writes to the event log: submissions from source system `dispatch`, which it hands to
the ingest's Kafka way in (`kans.inbound.v1`, with its API key), so the ingest stays the log's one writer and checks
them like any other (contract, scope, idempotency index). The engine seals each one itself too (`schemas.registry.seal`:
event id uuid5(source_system, source_ref)), to apply it at once and to know the id it will have in the log. Every id
is derived from what caused it, so replaying the same events under the same rule set gives the same trajectory ids,
proposal ids and event ids: a submission sent twice is a duplicate, published once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from schemas.envelope import Envelope
from schemas.registry import SUBMISSION_ADAPTER, seal

SOURCE_SYSTEM = "dispatch"
ACTOR = "service:dispatch"
_NAMESPACE = uuid.UUID("2d6c1f0e-8a55-5b1e-9c3f-7e4a2b6d9f01")
# Hex digits written as letters: an id holds no run of digits, so the contract's personal-data guard (a national
# register number is 11 digits with a valid checksum) can never mistake one for a person's number.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def _letters(*parts: str, length: int) -> str:
    return uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex.translate(_LETTERS)[:length]


def trajectory_id_for(trigger_event_id: str, index: int) -> str:
    """The trajectory a round table (or a referral without one) asks to place: one per trajectory to start."""
    return f"T-{_letters(trigger_event_id, str(index), length=20)}"


def proposal_id_for(trigger_event_id: str, trajectory_id: str, rule_set: str) -> str:
    return f"P-{_letters(trigger_event_id, trajectory_id, rule_set, length=24)}"


def ref_for(kind: str, *parts: str) -> str:
    """The source record of an event the service writes, derived from what caused it, in letters: a raw event id
    (a UUID) can hold a run of 11 digits that the contract's guard reads as a national register number."""
    return f"{kind}:{_letters(*parts, length=32)}"


def submission(event_type: str, ref: str, occurred_at: datetime, payload: dict[str, Any],
               version: int | None = None) -> dict[str, Any]:  # fmt: skip
    data = {"event_type": event_type, "occurred_at": occurred_at.isoformat(), "source_system": SOURCE_SYSTEM,
            "source_ref": ref, "actor": ACTOR, "payload": payload}  # fmt: skip
    return data if version is None else {**data, "schema_version": version}


def sealed(data: dict[str, Any], recorded_at: datetime) -> Envelope:
    return seal(SUBMISSION_ADAPTER.validate_python(data), recorded_at)


@dataclass(frozen=True)
class Output:
    """One event the dispatch service writes: the submission it sends, and the event the log will hold."""

    submission: dict[str, Any]
    event: Envelope


def decision_fields(placement: dict[str, Any], trigger: str, trigger_event_id: str, rule_set: str,
                    day: date, trace: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    return {"referral_id": placement["referral_id"], "trajectory_id": placement["trajectory_id"],
            "offer_type": placement["offer_type"], "trigger": trigger, "trigger_event_id": trigger_event_id,
            "rule_set": rule_set, "decided_on": day.isoformat(), "waiting_since": placement["waiting_since"],
            "trace": trace}  # fmt: skip


def places_of(keys: list[str]) -> list[dict[str, str]]:
    return [{"provider_id": key.split("|", 1)[0], "module_id": key.split("|", 1)[1]} for key in keys]
