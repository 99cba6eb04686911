"""The household key: which referrals share one address ("dubbelregistraties op eenzelfde adres": a family under one
roof, or a pupil referred twice in a year), without the address entering the log.

`household_key = HMAC-SHA256(secret, "household" + normalised address)` in hex, derived at the ingest from the
address a source sends with a referral (`HouseholdAddress`), as the pupil key is derived from the pupil's identifier
(`schemas.pseudonym`): the same secret (`KANS_PUPIL_KEY_SECRET`), never leaving the ingest, under its own label, so a
household key can never equal a pupil key. Normalising (accents, case, punctuation and spaces dropped; the box kept:
flats of one building are separate households) makes `Rue de l'Église 12 bus 3` and `rue de l eglise 12 / 3` one
address. The two language versions of a Brussels street name are not matched (Wetstraat / Rue de la Loi).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.envelope import Frozen

HouseholdKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="Pseudonymous household key (keyed hash of the normalised address, hex). Never an address."),
]
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
LABEL = b"household\x1f"


class HouseholdAddress(Frozen):
    """The pupil's home address, as the source has it: only used by the ingest to derive the household key; it is
    never stored."""

    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] = Field(
        description="Street name.", examples=["Rue de la Loi"]
    )
    house_number: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,5}[A-Za-z0-9 /-]{0,10}$")
    ] = Field(description="House number, with a letter or range if any.", examples=["16"])
    box: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)] | None = Field(
        None, description="Box (bus / boîte), when the building has several."
    )
    postcode: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}$")] = Field(
        description="Belgian postcode; must be the referral's residence_postcode when that is given."
    )


def _plain(text: str) -> str:
    """Accents, case, punctuation and spaces dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return _NOT_ALNUM.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)).casefold())


def normalise_address(address: HouseholdAddress) -> str:
    """postcode|street|number|box, each plain."""
    return "|".join((address.postcode, _plain(address.street), _plain(address.house_number), _plain(address.box or "")))


def household_key(secret: bytes, address: HouseholdAddress) -> str:
    """The pseudonymous key of an address (64 hex characters)."""
    if not secret:
        raise ValueError("a pupil-key secret is required to pseudonymise addresses")
    return hmac.new(secret, LABEL + normalise_address(address).encode("utf-8"), hashlib.sha256).hexdigest()
