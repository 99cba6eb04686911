"""The contract's entry points: submission models and adapters, sealing, and parsing stored events (upcast on read).

A submission is matched to its model by (event_type, schema_version); a missing schema_version means 1. Every
version the catalogue knows is accepted and stored as sent; `parse_event` lifts an older stored version to the
current one with the upcasters, so consumers only ever see current versions.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter, ValidationError, create_model

from schemas.catalogue import EVENT_CLASSES, EVENT_TYPES, EVENT_VERSIONS, LATEST_VERSION, STORED_AS, UPCASTERS
from schemas.envelope import Envelope, SubmissionBase
from schemas.examples import EXAMPLE_PAYLOADS, LEGACY_EXAMPLE_PAYLOADS, example_submission
from schemas.pseudonym import PupilSealer

__all__ = [
    "EVENT_ADAPTER", "EVENT_TYPES", "EVENT_VERSIONS", "EXAMPLE_PAYLOADS", "LEGACY_EXAMPLE_PAYLOADS",
    "SUBMISSION_ADAPTER", "SUBMISSION_CLASSES", "SUBMISSION_LIST_ADAPTER", "SUBMISSION_VERSIONS", "Event",
    "Submission", "example_submission", "parse_event", "seal", "submission_tag", "upcast",
]  # fmt: skip


def _tag(event_type: str, version: int) -> str:
    """Union tag: the event type for its current version, `Type.vN` for an older one."""
    return event_type if version == LATEST_VERSION.get(event_type) else f"{event_type}.v{version}"


def _submission_model(event_cls: type[Envelope]) -> type[SubmissionBase]:
    fields = event_cls.model_fields
    kind: Any = fields["event_type"].annotation
    version_type: Any = fields["schema_version"].annotation
    version: int = fields["schema_version"].default
    payload: Any = event_cls.submission_payload or fields["payload"].annotation
    event_type: str = fields["event_type"].default
    suffix = "" if version == LATEST_VERSION[event_type] else f"V{version}"
    return create_model(
        f"{event_type}{suffix}Submission",
        __base__=SubmissionBase,
        __doc__=f"Submit a {event_type} event (schema version {version}). {payload.__doc__ or ''}".strip(),
        event_type=(kind, ...),
        # Version 1 may be left out (it was the default); a later version must be stated.
        schema_version=(version_type, 1 if version == 1 else ...),
        payload=(payload, ...),
    )


SUBMISSION_VERSIONS: dict[tuple[str, int], type[SubmissionBase]] = {
    key: _submission_model(cls) for key, cls in EVENT_VERSIONS.items()
}
SUBMISSION_CLASSES: dict[str, type[SubmissionBase]] = {
    name: SUBMISSION_VERSIONS[(name, v)] for name, v in LATEST_VERSION.items()
}
for (_name, _version), _model in SUBMISSION_VERSIONS.items():
    _model.model_config["json_schema_extra"] = {"examples": [example_submission(_name, _version)]}
    _model.model_rebuild(force=True)


def submission_tag(value: Any) -> str | None:
    """Which submission model a raw submission (dict) or a model instance is for."""
    if isinstance(value, dict):
        event_type, version = value.get("event_type"), value.get("schema_version", 1)
    else:
        event_type, version = getattr(value, "event_type", None), getattr(value, "schema_version", 1)
    if not isinstance(event_type, str):
        return None
    if isinstance(version, int) and (event_type, version) in SUBMISSION_VERSIONS:
        return _tag(event_type, version)
    return event_type  # an unknown version: the current model says which versions exist


Event = Annotated[Union[tuple(EVENT_CLASSES)], Discriminator("event_type")]  # type: ignore[valid-type]  # noqa: UP007
_TAGGED: Any = tuple(Annotated[model, Tag(_tag(*key))] for key, model in SUBMISSION_VERSIONS.items())
Submission = Annotated[Union[_TAGGED], Discriminator(submission_tag)]  # type: ignore[valid-type]  # noqa: UP007

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)  # type: ignore[arg-type]
SUBMISSION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Submission)  # type: ignore[arg-type]
SUBMISSION_LIST_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[Submission])  # type: ignore[valid-type]


def seal(
    submission: SubmissionBase, recorded_at: datetime, pupil_secret: bytes | None = None,
    pupil_vault: PupilSealer | None = None,
) -> Envelope:
    """Turn an accepted submission into the stored event. `pupil_secret` (the KANS_PUPIL_KEY_SECRET bytes) and
    `pupil_vault` (`core.pupil_vault.PupilVault`) are required for submissions that carry a pupil identifier
    (ReferralSubmitted v2/v3, PupilErased): the secret derives the pupil key, the vault its reference and seal."""
    event_type: str = getattr(submission, "event_type")  # noqa: B009 - defined on each subclass
    version = STORED_AS.get((event_type, submission.schema_version), submission.schema_version)
    stored = submission.seal(recorded_at, pupil_secret, pupil_vault)
    return EVENT_VERSIONS[(event_type, version)].model_validate({**stored, "schema_version": version})


def upcast(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored event (as JSON data) lifted to its type's current version; current versions are returned as is.

    The older version is validated first (what was stored must have been valid then), then its payload is
    upcast step by step.
    """
    event_type, version = stored.get("event_type"), stored.get("schema_version")
    if not isinstance(event_type, str) or event_type not in LATEST_VERSION or version == LATEST_VERSION[event_type]:
        return stored
    if not isinstance(version, int) or (event_type, version) not in EVENT_VERSIONS:
        return stored  # validation of the current model reports the unknown version
    data = EVENT_VERSIONS[(event_type, version)].model_validate(stored).model_dump(mode="json")
    while version < LATEST_VERSION[event_type]:
        data["payload"] = UPCASTERS[(event_type, version)](data["payload"])
        version += 1
        data["schema_version"] = version
    return data


def parse_event(raw: bytes | str) -> Envelope:
    """Parse a stored event (JSON) into the typed model of its type's current version (older versions upcast).

    Raises ValidationError for a record that breaks the contract (whatever its version).
    An event stored in an older version (the log keeps them for good) is recognised from its first keys as the
    platform writes them, and goes straight to the upcast: trying the current version first cost a failed
    validation per event. The hint only picks the order; what is returned is validated the same way either way."""
    hint = _STORED_VERSION.match(raw.encode() if isinstance(raw, str) else raw)
    if hint is not None and LATEST_VERSION.get(hint[1].decode()) not in (None, int(hint[2])):
        lifted = _upcast_json(raw)
        if lifted is not None:
            return EVENT_ADAPTER.validate_python(lifted)  # type: ignore[no-any-return]
    try:
        return EVENT_ADAPTER.validate_json(raw)  # type: ignore[no-any-return]  # the common case: current version
    except ValidationError:
        lifted = _upcast_json(raw)
        if lifted is None:
            raise
    return EVENT_ADAPTER.validate_python(lifted)  # type: ignore[no-any-return]


# The start of a stored event as `Envelope.model_dump_json` writes it: its type and version.
_STORED_VERSION = re.compile(
    rb'\{"event_id":"[0-9a-f-]{36}","event_type":"([A-Za-z]{1,60})","schema_version":(\d{1,3}),'
)


def _upcast_json(raw: bytes | str) -> dict[str, Any] | None:
    """The stored event upcast to its current version, or None when it is not an older version."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    lifted = upcast(data)
    return None if lifted is data else lifted
