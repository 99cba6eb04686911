"""The event envelope every KANS event shares: identity, time, origin and the ordering key.

Events are immutable facts: frozen models, unknown fields refused. The platform assigns `event_id`,
`recorded_at`, `stream_id` and `school_year`; a source system sends the rest (see `SubmissionBase`). Sealing a
submission lets its payload turn into the stored payload (`Payload.sealed`): that is where a pupil identifier
becomes the pseudonymous pupil key, so the identifier itself never reaches the log.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.codelists import Code
from schemas.privacy import NoPersonalData
from schemas.pseudonym import PupilSealer

BRUSSELS = ZoneInfo("Europe/Brussels")
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a55-0d5e-4c41-9a53-7a3f0c6f4b11")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes

# Identifiers refuse what looks like a national register number, an e-mail address or a phone number.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$"), NoPersonalData]
SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[!-~]+$"), NoPersonalData]
Actor = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,40}:[A-Za-z0-9._@-]{1,80}$"), NoPersonalData]
SchoolYear = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")]


class Frozen(BaseModel):
    """Base for every contract model: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def school_year_of(moment: datetime | date) -> str:
    """School years run 1 September to 31 August, named `2019-2020`; dates are read in Brussels time."""
    day = moment.astimezone(BRUSSELS).date() if isinstance(moment, datetime) else moment
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def next_school_year(school_year: str) -> str:
    start = int(school_year[:4]) + 1
    return f"{start}-{start + 1}"


def event_id_for(source_system: str, source_ref: str) -> uuid.UUID:
    """Deterministic id: the same source record always becomes the same event, whichever way it comes in. It is
    `uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_system}\x1f{source_ref}")`, made from its bytes (`event_id_bytes`)."""
    return uuid.UUID(bytes=event_id_bytes(source_system, source_ref))


def event_id_bytes(source_system: str, source_ref: str) -> bytes:
    """The 16 bytes of `event_id_for`: a name-based (SHA-1) UUID, version 5, RFC 4122 variant. Every consumer checks
    each event's id with it, so it skips `uuid.uuid5`'s UUID objects (a third of the cost of reading an event)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source_system}\x1f{source_ref}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # variant RFC 4122
    return bytes(digest)


@dataclass(frozen=True)
class SealContext:
    """What sealing knows beyond the submission: its time, and the secret that pseudonymises pupil identifiers."""

    occurred_at: datetime
    pupil_secret: bytes | None = None
    pupil_vault: PupilSealer | None = None  # issues pupil references and seals pupil keys (`core.pupil_vault`)


class Payload(Frozen):
    """Base of event payloads; `stream_field` names the field whose value orders the event's stream."""

    stream_field: ClassVar[str]

    def stream_id(self) -> str:
        return str(getattr(self, self.stream_field))

    def check_context(self, occurred_at: datetime) -> None:
        """Rules that need the envelope's time (raise ValueError); checked on submission and on stored events."""

    def sealed(self, context: SealContext) -> Payload:
        """The payload as stored. Most payloads are stored as submitted."""
        return self


class Envelope(Frozen):
    """Fields shared by all events. `stream_id` is the Kafka key: one referral's events stay in order."""

    event_id: uuid.UUID = Field(description="Unique id, derived from (source_system, source_ref).")
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(description="When it happened in the world (with a UTC offset).")
    recorded_at: AwareDatetime = Field(description="When the platform accepted the event.")
    source_system: Code("source_system")  # type: ignore[valid-type]
    source_ref: SourceRef = Field(description="The source system's own id of this record: the idempotency key.")
    actor: Actor = Field(description="Who registered it, as `role:id` (e.g. `clb:clb-brussel-1`); never a name.")
    stream_id: Identifier = Field(description="Entity key: referral id, or provider id for provider facts.")
    school_year: SchoolYear = Field(description="Derived from occurred_at: 1 September to 31 August.")
    payload: Payload
    submission_payload: ClassVar[type[Payload] | None] = None  # when a source sends another shape than is stored

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """An event type without its own docstring is described by its payload's (the JSON Schema text)."""
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__doc__ is None:
            cls.__doc__ = getattr(cls.model_fields["payload"].annotation, "__doc__", None)

    @model_validator(mode="after")
    def _derived_fields_agree(self) -> Envelope:
        if self.school_year != school_year_of(self.occurred_at):
            raise ValueError(f"school_year {self.school_year} does not match occurred_at {self.occurred_at}")
        if self.stream_id != self.payload.stream_id():
            raise ValueError(f"stream_id {self.stream_id} does not match payload {self.payload.stream_field}")
        if self.event_id.bytes != event_id_bytes(self.source_system, self.source_ref):
            raise ValueError("event_id is not derived from (source_system, source_ref)")
        self.payload.check_context(self.occurred_at)
        return self


class SubmissionBase(Frozen):
    """What a source system sends: the envelope without the fields the platform assigns.

    A submission without `schema_version` is version 1, as it was when the field had that default: a producer
    written against version 1 keeps working when a type gets a version 2.
    """

    schema_version: int = Field(1, ge=1)
    occurred_at: AwareDatetime = Field(description="When it happened (ISO 8601 with offset).")
    source_system: Code("source_system")  # type: ignore[valid-type]
    source_ref: SourceRef = Field(description="The source's own id of this record; resubmitting it is harmless.")
    actor: Actor

    @model_validator(mode="after")
    def _payload_fits_its_time(self) -> SubmissionBase:
        payload: Payload = getattr(self, "payload")  # noqa: B009 - defined on each subclass
        payload.check_context(self.occurred_at)
        return self

    def seal(
        self, recorded_at: datetime, pupil_secret: bytes | None = None, pupil_vault: PupilSealer | None = None
    ) -> dict[str, Any]:
        """The stored event's fields: this submission plus what the platform derives."""
        payload: Payload = getattr(self, "payload")  # noqa: B009 - defined on each subclass
        payload = payload.sealed(SealContext(self.occurred_at, pupil_secret, pupil_vault))
        return {
            **self.model_dump(exclude={"payload"}),
            "payload": payload,
            "event_id": event_id_for(self.source_system, self.source_ref),
            "recorded_at": recorded_at,
            "stream_id": payload.stream_id(),
            "school_year": school_year_of(self.occurred_at),
        }
