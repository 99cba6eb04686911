"""Pseudonymisation at the boundary: a source's own pupil identifier becomes the pupil key the log stores.

`pupil_key = HMAC-SHA256(secret, normalised pupil_id)` in hex. Normalising (spaces, dots and dashes removed,
upper case) makes `85.07.31-123.05` and `85073112305` the same pupil, so one pupil referred by two systems, or
twice in a year, links. The secret (`KANS_PUPIL_KEY_SECRET`) never leaves the ingest; without it a key cannot be
traced back to the identifier, even when the identifier is a national register number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Protocol

from pydantic import Field, StringConstraints

PupilKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{32,64}$"),
    Field(description="Pseudonymous pupil key (keyed hash, hex). Never a name or national register number."),
]
PupilId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{0,63}$"),
    Field(
        description=(
            "The source's own pupil identifier (its pupil number, or the national register number). Only used to "
            "derive the pupil key at the ingest: it is never stored."
        ),
        examples=["LARS-000123"],
    ),
]
_SEPARATORS = re.compile(r"[\s.\-]")


def normalise_pupil_id(pupil_id: str) -> str:
    """Strip spaces, dots and dashes; upper case."""
    return _SEPARATORS.sub("", pupil_id).upper()


def pupil_key(secret: bytes, pupil_id: str) -> str:
    """The pseudonymous key of a pupil identifier (64 hex characters)."""
    if not secret:
        raise ValueError("a pupil-key secret is required to pseudonymise pupil identifiers")
    normalised = normalise_pupil_id(pupil_id)
    if not normalised:
        raise ValueError("pupil_id is empty after normalisation")
    return hmac.new(secret, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


PupilRef = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{32,64}$"),
    Field(
        description=(
            "The pupil's reference in the log: random, issued by the pupil key vault on the pupil's first referral "
            "(32 hex characters), so it cannot be recomputed from the pupil's identifier. Links a pupil's referrals "
            "for the statistics; after the pupil's erasure nothing links it back to the pupil. (Events stored before "
            "version 3 carry the pupil key here.)"
        )
    ),
]
SEALED_KEY_PATTERN = r"^v1\.[A-Za-z0-9_-]{40,200}$"
SealedPupilKey = Annotated[
    str,
    StringConstraints(pattern=SEALED_KEY_PATTERN),
    Field(
        description=(
            "The pupil key, encrypted (AES-256-GCM) with the pupil's own key from the vault. Readable only while the "
            "pupil is not erased: erasure destroys that key (crypto-shredding)."
        )
    ),
]


class PupilSealer(Protocol):
    """What sealing needs from the pupil key vault (`core.pupil_vault`): the pupil's reference and sealed key,
    issued on first use; and the reference of a pupil already known (None for an unknown or erased pupil)."""

    def seal_pupil(self, pupil_key: str) -> tuple[str, str]: ...

    def ref_of(self, pupil_key: str) -> str | None: ...
