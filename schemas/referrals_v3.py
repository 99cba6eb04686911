"""Version 3 of ReferralSubmitted and its upcaster to version 4.

Version 3 stored the pupil's vault reference and sealed key, without a household. Version 4 adds the household key
(the keyed hash of the pupil's address, `schemas.households`), null when the source sent no address. The version-3
submission (the source's `pupil_id`, no address) is still accepted and stored as version 4 without a household key
(`catalogue.STORED_AS`); events stored as version 3 read as version 4 with `household_key` null: each such referral
counts as a household of its own in R06.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.envelope import Envelope, Identifier, Payload
from schemas.pseudonym import PupilRef, SealedPupilKey
from schemas.referral_profile import ReferralProfile
from schemas.referrals import ReferralSubmissionV3Payload


class ReferralSubmittedV3Payload(ReferralProfile, Payload):
    """A CLB, school, intake or the desk refers one pupil, with the full referral profile (version 3: no household)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_ref: PupilRef
    pupil_key_sealed: SealedPupilKey | None = Field(
        description="The pupil key sealed with the pupil's data key; null only on an event stored before version 3."
    )


class ReferralSubmittedV3(Envelope):
    """ReferralSubmitted as stored by version 3 (read as version 4)."""

    submission_payload: ClassVar[type[Payload] | None] = ReferralSubmissionV3Payload
    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[3] = 3
    payload: ReferralSubmittedV3Payload


def upcast_referral_submitted_v3_to_v4(payload: dict[str, Any]) -> dict[str, Any]:
    """A v3 payload as a v4 payload: no household key."""
    return {**payload, "household_key": None}
