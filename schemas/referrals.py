"""Individual referral events, keyed by referral_id: submitted (version 4, full profile), amended, withdrawn (version 2:
withdrawn as its outcome, or retracted as an error), and advice given instead of a trajectory.

Versions of ReferralSubmitted: every version is accepted on submission; reading upcasts older stored versions step
by step (`referrals_v1`, `referrals_v2`, `referrals_v3`), so consumers only handle version 4. A submission without
`schema_version` is version 1; a later version must say so. Versions 2-4 send the source's `pupil_id`: sealing turns
it into the pupil key (`schemas.pseudonym`), and since version 3 the stored event does not carry that key in clear but
the pupil's random reference from the pupil key vault and the key sealed with the pupil's own data key
(`core.pupil_vault`): erasing the pupil destroys that data key (crypto-shredding). Version 4 may also send the pupil's
home address, which sealing turns into the household key (`schemas.households`). Submissions of versions 2 and 3 are
therefore stored as version 4 (without a household key); events stored as version 2 (clear pupil key) read with that
key as their reference.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.codelists import Code, allowed
from schemas.envelope import Envelope, Identifier, Payload, SealContext
from schemas.households import HouseholdAddress, HouseholdKey, household_key
from schemas.privacy import FreeText
from schemas.pseudonym import PupilId, PupilRef, SealedPupilKey, pupil_key
from schemas.referral_profile import ReferralProfile, ReferralProfileChanges


class ReferralSubmittedPayload(ReferralProfile, Payload):
    """A CLB, school, intake or the desk refers one pupil, with the full referral profile (DOMAIN §4). The pupil is
    its random reference; its pupil key is sealed with the pupil's own data key (since version 3). The household is
    the keyed hash of the pupil's address (version 4; null when the source sent no address)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_ref: PupilRef
    pupil_key_sealed: SealedPupilKey | None = Field(
        description="The pupil key sealed with the pupil's data key; null only on an event stored before version 3."
    )
    household_key: HouseholdKey | None = Field(
        None, description="The household (address) key; null when no address was sent, or stored before version 4."
    )


class ReferralSubmissionV3Payload(ReferralProfile, Payload):
    """A referral as a source sends it (versions 2 and 3): the pupil is identified by the source's own `pupil_id`,
    which the ingest turns into the pseudonymous `pupil_key`; the identifier itself is never stored."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_id: PupilId

    def sealed(self, context: SealContext) -> ReferralSubmittedPayload:
        if context.pupil_secret is None or context.pupil_vault is None:
            raise ValueError("sealing a ReferralSubmitted needs the pupil-key secret and the pupil key vault")
        profile = self.model_dump(exclude={"pupil_id", "household_address"})
        ref, sealed_key = context.pupil_vault.seal_pupil(pupil_key(context.pupil_secret, self.pupil_id))
        address: HouseholdAddress | None = getattr(self, "household_address", None)
        household = None if address is None else household_key(context.pupil_secret, address)
        return ReferralSubmittedPayload.model_validate(
            {**profile, "pupil_ref": ref, "pupil_key_sealed": sealed_key, "household_key": household}
        )


class ReferralSubmissionPayload(ReferralSubmissionV3Payload):
    """A referral as a source sends it (version 4): the pupil by the source's own `pupil_id`, and, when known, the
    pupil's home address, from which the ingest derives the pseudonymous household key (referrals from one address
    are counted once in the residence table, R06). Neither the identifier nor the address is ever stored."""

    household_address: HouseholdAddress | None = Field(
        None, description="The pupil's home address: only its keyed hash is stored (`household_key`)."
    )

    @model_validator(mode="after")
    def _address_in_the_residence(self) -> ReferralSubmissionPayload:
        address = self.household_address
        if address is not None and self.residence_postcode is not None and address.postcode != self.residence_postcode:
            raise PydanticCustomError(
                "household_address",
                "household_address.postcode must equal residence_postcode ({postcode}): the address is the pupil's "
                "residence",
                {"postcode": self.residence_postcode},
            )
        return self


class ReferralSubmitted(Envelope):
    """A referral, version 4 (what consumers read; stored versions 1-3 are upcast to it)."""

    submission_payload: ClassVar[type[Payload] | None] = ReferralSubmissionPayload
    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[4] = 4
    payload: ReferralSubmittedPayload


class ReferralAmendedPayload(Payload):
    """A correction of a referral's profile: only the fields listed in `changes` change. The original event stays
    as it was; the current profile is the submission with its amendments applied in order. The pupil cannot be
    changed by an amendment (retract the referral and refer again)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    changes: ReferralProfileChanges  # type: ignore[valid-type]


class ReferralAmended(Envelope):
    event_type: Literal["ReferralAmended"] = "ReferralAmended"
    schema_version: Literal[1] = 1
    payload: ReferralAmendedPayload


RETRACTION_REASONS = ("entered_in_error", "duplicate_referral", "other")


class ReferralWithdrawnPayload(Payload):
    """The referral is taken back, and `kind` says what that means (the desk's annual report counts the two apart).
    `withdrawn`: the referral reached the desk and this is what became of it (the CLB, the parents or the pupil
    withdrew, it was put on hold for the youth-care access gate (ITP), no place was available ...): it still counts as
    a referral received, with the outcome "withdrawn" and its reason. `retracted`: the registration itself was wrong
    (entered in error, a duplicate of another referral): it disappears from every statistic. A retraction's reason is
    entered_in_error, duplicate_referral or other; a withdrawal's is any other reason, or other."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    kind: Code("withdrawal_kind")  # type: ignore[valid-type]
    reason: Code("withdraw_reason")  # type: ignore[valid-type]
    other_specification: FreeText | None = Field(None, description="Short clarification of reason=other; no names.")

    @model_validator(mode="after")
    def _reason_fits_the_kind(self) -> ReferralWithdrawnPayload:
        fits = RETRACTION_REASONS if self.kind == "retracted" else withdrawal_reasons()
        if self.reason not in fits:
            raise PydanticCustomError(
                "withdraw_reason",
                "reason '{value}' does not fit kind {kind}; allowed values: {allowed}",
                {"value": self.reason, "kind": self.kind, "allowed": ", ".join(fits)},
            )
        return self


def withdrawal_reasons() -> tuple[str, ...]:
    """The reasons of a withdrawal as outcome: every withdraw_reason but the two that mean the registration was
    wrong."""
    return tuple(code for code in allowed("withdraw_reason") if code not in ("entered_in_error", "duplicate_referral"))


class ReferralWithdrawn(Envelope):
    """A referral withdrawn (counts as received, outcome withdrawn) or retracted (counts nowhere), version 2 (what
    consumers read; stored version-1 events are upcast to it, their meaning read from their reason)."""

    event_type: Literal["ReferralWithdrawn"] = "ReferralWithdrawn"
    schema_version: Literal[2] = 2
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
