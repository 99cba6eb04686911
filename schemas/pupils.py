"""Facts about a pupil rather than about one referral: erasure (the right to be forgotten, GDPR art. 17).

The log is immutable, so a pupil is erased by crypto-shredding (`core.pupil_vault`): the desk submits a
PupilErased with the source's `pupil_id`; sealing finds the pupil's reference in the pupil key vault (a pupil the
vault does not know, never referred or already erased, is refused), and the stored event names only that random
reference. Once the event is in the log the vault destroys the pupil's data key and its link to the pupil key: the
pupil's referrals still count in the statistics, by their reference and profile, but the sealed pupil key in them
can never be opened again, the pupil's identifier finds nothing, and every route that shows one referral refuses
them (see the README, "Erasure").
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.codelists import Code
from schemas.envelope import Envelope, Payload, SealContext
from schemas.privacy import FreeText
from schemas.pseudonym import PupilId, PupilRef, pupil_key

ERASURE_STREAM = "pupil-erasures"  # the submission's stream: erasures are judged one after another


class PupilErasedPayload(Payload):
    """The pupil with this reference is erased: the vault destroyed its data key (crypto-shredding)."""

    stream_field: ClassVar[str] = "pupil_ref"
    pupil_ref: PupilRef
    reason: Code("erasure_reason")  # type: ignore[valid-type]
    other_specification: FreeText | None = Field(None, description="Short clarification of reason=other; no names.")


class PupilErasureRequest(Payload):
    """Erase a pupil (desk only): the source's own `pupil_id`, as its referrals sent it. The identifier only finds
    the pupil's reference in the vault; it is never stored."""

    stream_field: ClassVar[str] = "pupil_id"
    pupil_id: PupilId
    reason: Code("erasure_reason")  # type: ignore[valid-type]
    other_specification: FreeText | None = Field(None, description="Short clarification of reason=other; no names.")

    def stream_id(self) -> str:
        return ERASURE_STREAM  # never the identifier: stream ids show in logs and answers

    def sealed(self, context: SealContext) -> PupilErasedPayload:
        if context.pupil_secret is None or context.pupil_vault is None:
            raise ValueError("sealing a PupilErased needs the pupil-key secret and the pupil key vault")
        ref = context.pupil_vault.ref_of(pupil_key(context.pupil_secret, self.pupil_id))
        if ref is None:
            error = PydanticCustomError(
                "unknown_pupil", "no pupil with this pupil_id is known: it was never referred (since version 3 of "
                "ReferralSubmitted), or it is already erased",
            )
            raise ValidationError.from_exception_data(
                "PupilErased", [InitErrorDetails(type=error, loc=("payload", "pupil_id"), input="")]
            )
        return PupilErasedPayload(pupil_ref=ref, reason=self.reason, other_specification=self.other_specification)


class PupilErased(Envelope):
    submission_payload: ClassVar[type[Payload] | None] = PupilErasureRequest
    event_type: Literal["PupilErased"] = "PupilErased"
    schema_version: Literal[1] = 1
    payload: PupilErasedPayload
