"""The event catalogue in one place: stored-event union, submission union, parsing and examples."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, create_model

from schemas import lifecycle
from schemas.envelope import Envelope, SubmissionBase

EVENT_CLASSES: tuple[type[Envelope], ...] = (
    lifecycle.ReferralSubmitted,
    lifecycle.TrajectoryDispatched,
    lifecycle.TrajectoryStarted,
    lifecycle.TrajectoryNotStarted,
    lifecycle.TrajectoryStoppedEarly,
    lifecycle.TrajectoryClosed,
    lifecycle.ProviderCapacitySet,
)
EVENT_TYPES: dict[str, type[Envelope]] = {cls.__name__: cls for cls in EVENT_CLASSES}

_BASE = "2025-10-06T09:30:00+02:00"
_REF, _TRJ = "R-2025-0042", "T-2025-0042-1"
EXAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "ReferralSubmitted": {
        "referral_id": _REF, "pupil_key": "3f2a9c0d5b7e41a8b6c4d2e0f1a3b5c7", "channel": "lars",
        "referrer_id": "clb-brussel-1", "offer_type": "regular", "level": "secondary", "gender": "girl",
        "birth_year": 2010, "birth_month": 4,
    },
    "TrajectoryDispatched": {
        "referral_id": _REF, "trajectory_id": _TRJ, "provider_id": "abrusco", "module_id": "individual",
        "offer_type": "regular",
    },
    "TrajectoryStarted": {"referral_id": _REF, "trajectory_id": _TRJ, "half_days_per_week": 2},
    "TrajectoryNotStarted": {"referral_id": _REF, "trajectory_id": _TRJ, "reason": "pupil_unwilling"},
    "TrajectoryStoppedEarly": {"referral_id": _REF, "trajectory_id": _TRJ, "reason": "pupil_drops_out"},
    "TrajectoryClosed": {"referral_id": _REF, "trajectory_id": _TRJ, "perspective": "back_full_time_current_school"},
    "ProviderCapacitySet": {"provider_id": "abrusco", "module_id": "individual", "capacity": 12,
                            "valid_from": "2025-09-01"},
}  # fmt: skip


def example_submission(event_type: str) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": _BASE,
        "source_system": "lars",
        "source_ref": f"lars:{event_type}:{_REF}",
        "actor": "clb:clb-brussel-1",
        "payload": copy.deepcopy(EXAMPLE_PAYLOADS[event_type]),
    }


def _submission_model(event_cls: type[Envelope]) -> type[SubmissionBase]:
    fields = event_cls.model_fields
    kind: Any = fields["event_type"].annotation
    version: Any = fields["schema_version"].annotation
    payload: Any = fields["payload"].annotation
    return create_model(
        f"{event_cls.__name__}Submission",
        __base__=SubmissionBase,
        __doc__=f"Submit a {event_cls.__name__} event. {payload.__doc__ or ''}".strip(),
        event_type=(kind, ...),
        schema_version=(version, 1),
        payload=(payload, ...),
    )


SUBMISSION_CLASSES: dict[str, type[SubmissionBase]] = {
    name: _submission_model(cls) for name, cls in EVENT_TYPES.items()
}
for _name, _model in SUBMISSION_CLASSES.items():
    _model.model_config["json_schema_extra"] = {"examples": [example_submission(_name)]}
    _model.model_rebuild(force=True)

Event = Annotated[Union[tuple(EVENT_CLASSES)], Field(discriminator="event_type")]  # type: ignore[valid-type]  # noqa: UP007
Submission = Annotated[Union[tuple(SUBMISSION_CLASSES.values())], Field(discriminator="event_type")]  # type: ignore[valid-type]  # noqa: UP007

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)  # type: ignore[arg-type]
SUBMISSION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Submission)  # type: ignore[arg-type]
SUBMISSION_LIST_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[Submission])  # type: ignore[valid-type]


def seal(submission: SubmissionBase, recorded_at: datetime) -> Envelope:
    """Turn an accepted submission into the stored event."""
    cls = EVENT_TYPES[submission.event_type]  # type: ignore[attr-defined]
    return cls.model_validate(submission.seal(recorded_at))


def parse_event(raw: bytes | str) -> Envelope:
    """Parse a stored event (JSON) into its typed model."""
    return EVENT_ADAPTER.validate_json(raw)  # type: ignore[no-any-return]
