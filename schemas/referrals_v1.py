"""Version 1 of the referral events that have a version 2, and their upcasters: ReferralSubmitted (the minimal
profile of the backbone) and ReferralWithdrawn (a reason only, no stated meaning).

Version 1 stays readable forever: the log keeps what was sent, and `parse_event` upcasts a stored v1 event to
version 2 on read. Version 1 is still accepted on submission (producers written against it keep working), but
it is deprecated. ReferralSubmitted v1: its `pupil_key` is whatever the source computed, so it links only with that
source's own keys; version 2 sends the source's `pupil_id` and the platform derives the key. ReferralWithdrawn v1:
it did not say whether the referral was withdrawn as its outcome or retracted as an error; the upcaster decides by
its reason (see `upcast_referral_withdrawn_v1_to_v2`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload
from schemas.pseudonym import PupilKey


class ReferralSubmittedV1Payload(Payload):
    """A CLB, school, intake or the desk refers one pupil (version 1: minimal profile, source-computed pupil key)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_key: PupilKey
    channel: Code("channel")  # type: ignore[valid-type]
    referrer_id: Identifier = Field(description="CLB or school identifier of the referrer.")
    offer_type: Code("offer_type")  # type: ignore[valid-type]
    level: Code("level")  # type: ignore[valid-type]
    gender: Code("gender")  # type: ignore[valid-type]
    birth_year: int = Field(ge=1990, le=2030)
    birth_month: int = Field(ge=1, le=12)


class ReferralSubmittedV1(Envelope):
    """ReferralSubmitted as stored by version 1 (deprecated; read as version 2)."""

    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[1] = 1
    payload: ReferralSubmittedV1Payload


# What version 1 did not record, stated explicitly rather than left to version 2's defaults (which may change):
# code lists get `unknown`, counts, yes/no and multi-selects get null ("not registered", not "none").
V1_MISSING_PROFILE: dict[str, Any] = {
    "education_form": "unknown",
    "grade": "unknown",
    "bubao_type": None,
    "buso_type": None,
    "buso_training_form": None,
    "school_id": None,
    "school_location": "unknown",
    "residence_postcode": None,
    "residence_municipality": "unknown",
    "home_language": "unknown",
    "home_language_code": None,
    "school_delay": "unknown",
    "primary_schools_attended": None,
    "secondary_schools_attended": None,
    "absence_b_half_days": None,
    "absence_z_half_days": None,
    "absence_other_half_days": None,
    "risk_behaviours": None,
    "discipline": "unknown",
    "school_situation": None,
    "ambulant_care": None,
    "residential_setting": "unknown",
    "support_network": None,
    "other_specification": None,
}


def upcast_referral_submitted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 payload as a v2 payload: every v1 field kept as it was, every field v1 lacked made explicitly unknown."""
    return {**V1_MISSING_PROFILE, **payload}


class ReferralWithdrawnV1Payload(Payload):
    """The referrer or the desk withdraws the referral before (or instead of) any trajectory (version 1: a reason
    only; read as version 2, its meaning decided by the reason)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    reason: Code("withdraw_reason")  # type: ignore[valid-type]


class ReferralWithdrawnV1(Envelope):
    """ReferralWithdrawn as stored by version 1 (deprecated; read as version 2)."""

    event_type: Literal["ReferralWithdrawn"] = "ReferralWithdrawn"
    schema_version: Literal[1] = 1
    payload: ReferralWithdrawnV1Payload


# The v1 reasons that say the registration itself was wrong: such a "withdrawal" was a retraction.
V1_RETRACTION_REASONS = frozenset({"entered_in_error", "duplicate_referral"})


def upcast_referral_withdrawn_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 withdrawal as version 2. What an old event meant is read from its reason: `entered_in_error` and
    `duplicate_referral` say the registration should never have been there (kind `retracted`: it disappears from
    every statistic, as every v1 withdrawal used to); every other reason (no longer needed, pupil or parents
    unwilling, other help started, moved, other) is what became of a referral that did reach the desk (kind
    `withdrawn`: it counts as received, with the outcome "withdrawn" and that reason), as v1's own description says:
    withdrawn "before (or instead of) any trajectory"."""
    kind = "retracted" if payload["reason"] in V1_RETRACTION_REASONS else "withdrawn"
    return {**payload, "kind": kind, "other_specification": None}
