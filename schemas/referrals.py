"""Individual referral events, keyed by referral_id: submitted (version 2, full profile), amended, withdrawn,
and advice given instead of a trajectory.

Versions of ReferralSubmitted: both are accepted on submission and stored as sent (the log never rewrites what
a source said); reading upcasts version 1 to version 2 (`referrals_v1.upcast_referral_submitted_v1_to_v2`), so
consumers only handle version 2. A submission without `schema_version` is version 1; version 2 must say so.
Version 2 carries the source's `pupil_id`; sealing replaces it by `pupil_key` (see `schemas.pseudonym`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload, SealContext
from schemas.privacy import FreeText
from schemas.pseudonym import PupilId, PupilKey, pupil_key
from schemas.referral_profile import ReferralProfile, ReferralProfileChanges


class ReferralSubmittedPayload(ReferralProfile, Payload):
    """A CLB, school, intake or the desk refers one pupil, with the full referral profile (DOMAIN §4)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_key: PupilKey


class ReferralSubmissionPayload(ReferralProfile, Payload):
    """A referral as a source sends it: the pupil is identified by the source's own `pupil_id`, which the ingest
    turns into the pseudonymous `pupil_key`; the identifier itself is never stored."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_id: PupilId

    def sealed(self, context: SealContext) -> ReferralSubmittedPayload:
        if context.pupil_secret is None:
            raise ValueError("sealing a ReferralSubmitted needs the pupil-key secret")
        profile = self.model_dump(exclude={"pupil_id"})
        return ReferralSubmittedPayload.model_validate(
            {**profile, "pupil_key": pupil_key(context.pupil_secret, self.pupil_id)}
        )


class ReferralSubmitted(Envelope):
    """A referral, version 2 (what consumers read; stored version-1 events are upcast to it)."""

    submission_payload: ClassVar[type[Payload] | None] = ReferralSubmissionPayload
    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[2] = 2
    payload: ReferralSubmittedPayload


class ReferralAmendedPayload(Payload):
    """A correction of a referral's profile: only the fields listed in `changes` change. The original event stays
    as it was; the current profile is the submission with its amendments applied in order. The pupil cannot be
    changed by an amendment (withdraw the referral and refer again)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    changes: ReferralProfileChanges  # type: ignore[valid-type]


class ReferralAmended(Envelope):
    event_type: Literal["ReferralAmended"] = "ReferralAmended"
    schema_version: Literal[1] = 1
    payload: ReferralAmendedPayload


class ReferralWithdrawnPayload(Payload):
    """The referrer or the desk withdraws the referral before (or instead of) any trajectory."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    reason: Code("withdraw_reason")  # type: ignore[valid-type]


class ReferralWithdrawn(Envelope):
    event_type: Literal["ReferralWithdrawn"] = "ReferralWithdrawn"
    schema_version: Literal[1] = 1
    payload: ReferralWithdrawnPayload


class AdviceGivenPayload(Payload):
    """Triage ends in advice only: no KANS trajectory fits (the problem needs youth care, or no offer exists)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    kind: Code("advice_kind")  # type: ignore[valid-type]
    other_specification: FreeText | None = Field(None, description="Short clarification of kind=other; no names.")


class AdviceGiven(Envelope):
    event_type: Literal["AdviceGiven"] = "AdviceGiven"
    schema_version: Literal[1] = 1
    payload: AdviceGivenPayload


def amended(submitted: ReferralSubmittedPayload, *amendments: ReferralAmendedPayload) -> ReferralSubmittedPayload:
    """The referral's current profile: the submission with its amendments applied in order, checked as a whole
    (a combination the profile rules refuse raises ValidationError)."""
    data: dict[str, Any] = submitted.model_dump()
    for amendment in amendments:
        if amendment.referral_id != submitted.referral_id:
            raise ValueError(f"amendment of {amendment.referral_id} applied to referral {submitted.referral_id}")
        changes = amendment.changes.model_dump()
        if "residence_postcode" in changes and "residence_municipality" not in changes:
            changes["residence_municipality"] = "unknown"
        data.update(changes)
    return ReferralSubmittedPayload.model_validate(data)
