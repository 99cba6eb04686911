"""Version 2 of ReferralSubmitted and its upcaster to version 3.

Version 2 stored the pupil key (HMAC of the pupil's identifier) in clear. Version 3 stores the pupil's random
reference from the pupil key vault and the key sealed with the pupil's data key, so that erasing the pupil is
possible (crypto-shredding, `core.pupil_vault`). The submission is the same in both versions (the source's
`pupil_id`): a version-2 submission is stored as the current version (`catalogue.STORED_AS`). Events stored as
version 2 read as version 3 with their pupil key as their reference: they still link and count, but their key is in
the log in clear, so such a pupil cannot be erased by destroying a key.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from schemas.envelope import Envelope, Identifier, Payload
from schemas.pseudonym import PupilKey
from schemas.referral_profile import ReferralProfile
from schemas.referrals import ReferralSubmissionV3Payload


class ReferralSubmittedV2Payload(ReferralProfile, Payload):
    """A CLB, school, intake or the desk refers one pupil, with the full referral profile (version 2: the pupil key
    in clear)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_key: PupilKey


class ReferralSubmittedV2(Envelope):
    """ReferralSubmitted as stored by version 2 (read as version 3)."""

    submission_payload: ClassVar[type[Payload] | None] = ReferralSubmissionV3Payload
    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[2] = 2
    payload: ReferralSubmittedV2Payload


def upcast_referral_submitted_v2_to_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """A v2 payload as a v3 payload: the clear pupil key becomes the reference; nothing is sealed."""
    lifted = {name: value for name, value in payload.items() if name != "pupil_key"}
    return {**lifted, "pupil_ref": payload["pupil_key"], "pupil_key_sealed": None}
