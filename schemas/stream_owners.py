"""Who owns a stream, as the event log says: the referrer of a referral or group referral, the provider a (group)
trajectory is dispatched to. Which events establish or change an owner, and a slim reader of a stored event that
parses only the fields that do (several times faster than parsing the whole event): the ingest's ownership index
(services/ingest/owner_index.py) and the live process's index of referrers (services/api/live_facts.py) read the log
with it; the ingest's ownership rules (services/ingest/ownership.py) judge submissions on it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.envelope import Identifier

StreamKey = tuple[str, ...]
"""What a fact is about: ("referral", id), ("trajectory", referral id, trajectory id), ("group", group referral id),
("group_trajectory", group referral id, group trajectory id)."""
Fact = tuple[StreamKey, str]
"""A stream and its owner: the referrer of a (group) referral, the provider a (group) trajectory is dispatched to."""

# The event types that establish or change an owner, and the fields they do it with.
FACT_EVENT_TYPES = frozenset({"ReferralSubmitted", "ReferralAmended", "GroupReferralSubmitted", "TrajectoryDispatched",
                              "TrajectoryCarriedOver", "GroupTrajectoryDispatched"})  # fmt: skip


def _text(payload: Any, name: str) -> str:
    return str(getattr(payload, name))


def facts_of(event_type: str, payload: Any) -> list[Fact]:
    """The owners an accepted event establishes or changes (none for most event types)."""
    if event_type not in FACT_EVENT_TYPES:
        return []
    if event_type == "ReferralSubmitted":
        return [(("referral", _text(payload, "referral_id")), _text(payload, "referrer_id"))]
    if event_type == "ReferralAmended":
        changes = payload.changes
        if "referrer_id" not in changes.model_fields_set:
            return []
        return [(("referral", _text(payload, "referral_id")), str(changes.referrer_id))]
    if event_type == "GroupReferralSubmitted":
        return [(("group", _text(payload, "group_referral_id")), _text(payload, "referrer_id"))]
    if event_type == "GroupTrajectoryDispatched":
        key = ("group_trajectory", _text(payload, "group_referral_id"), _text(payload, "group_trajectory_id"))
        return [(key, _text(payload, "provider_id"))]
    # TrajectoryDispatched, TrajectoryCarriedOver (the new trajectory keeps its provider)
    return [(("trajectory", _text(payload, "referral_id"), _text(payload, "trajectory_id")),
             _text(payload, "provider_id"))]  # fmt: skip


class _Slim(BaseModel):
    """Only the fields that establish an owner, with the contract's identifier type; the rest is not read."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _ReferralOwner(_Slim):
    referral_id: Identifier
    referrer_id: Identifier


class _NewReferrer(_Slim):
    referrer_id: Identifier | None = None


class _Amendment(_Slim):
    referral_id: Identifier
    changes: _NewReferrer


class _GroupOwner(_Slim):
    group_referral_id: Identifier
    referrer_id: Identifier


class _Dispatch(_Slim):
    referral_id: Identifier
    trajectory_id: Identifier
    provider_id: Identifier


class _GroupDispatch(_Slim):
    group_referral_id: Identifier
    group_trajectory_id: Identifier
    provider_id: Identifier


class _Stored(_Slim):
    stream_id: Identifier


class _ReferralRecord(_Stored):
    event_type: Literal["ReferralSubmitted"]
    payload: _ReferralOwner


class _AmendmentRecord(_Stored):
    event_type: Literal["ReferralAmended"]
    payload: _Amendment


class _GroupRecord(_Stored):
    event_type: Literal["GroupReferralSubmitted"]
    payload: _GroupOwner


class _DispatchRecord(_Stored):
    event_type: Literal["TrajectoryDispatched", "TrajectoryCarriedOver"]
    payload: _Dispatch


class _GroupDispatchRecord(_Stored):
    event_type: Literal["GroupTrajectoryDispatched"]
    payload: _GroupDispatch


_FACT_RECORD: TypeAdapter[Any] = TypeAdapter(
    Annotated[_ReferralRecord | _AmendmentRecord | _GroupRecord | _DispatchRecord | _GroupDispatchRecord,
              Field(discriminator="event_type")]
)  # fmt: skip


def facts_in_record(value: bytes) -> list[Fact]:
    """The owners a stored event (a record of the event log, JSON) establishes, reading only the fields that do
    (several times faster than parsing the whole event). Raises ValueError (pydantic's ValidationError) for a
    record that is not an event of a type in FACT_EVENT_TYPES with those fields valid and matching its stream."""
    record = _FACT_RECORD.validate_json(value)
    payload = record.payload
    stream = payload.group_referral_id if record.event_type.startswith("Group") else payload.referral_id
    if record.stream_id != stream:
        raise ValueError(f"stream_id {record.stream_id!r} is not the event's {stream!r}")
    if record.event_type == "ReferralAmended" and payload.changes.referrer_id is None:
        return []
    return facts_of(record.event_type, payload)
