"""The profile of an individual referral (DOMAIN §4), and the typed change set an amendment carries.

Missing data stay visible: a field the source did not register is stored as `unknown` (code lists) or null
(counts, yes/no, multi-selects); an empty multi-select means "none of these", null means "not registered".
The residence municipality is derived from the postcode: a Brussels residential postcode gives its commune,
any other Belgian postcode (1300-9999) gives `outside_brussels`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, create_model, model_serializer, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from schemas.codelists import Code, allowed, municipality_for_postcode
from schemas.education import Schooling
from schemas.envelope import Frozen, Identifier
from schemas.privacy import FreeText


def _known_postcode(postcode: str) -> str:
    if municipality_for_postcode(postcode) is None:
        raise PydanticCustomError(
            "postcode",
            "{postcode} is not a residential Brussels postcode; allowed in 1000-1299: {allowed}",
            {"postcode": postcode, "allowed": ", ".join(allowed("brussels_postcode"))},
        )
    return postcode


Postcode = Annotated[
    str,
    StringConstraints(pattern=r"^[1-9][0-9]{3}$"),
    AfterValidator(_known_postcode),
    Field(description="Belgian postcode: 1000-1299 a Brussels commune, 1300-9999 outside Brussels."),
]
HalfDays = Annotated[int, Field(ge=0, le=400, description="Number of half-days (halve dagen) so far this year.")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$"), Field(description="ISO 639 code.")]


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError("each code may appear only once")
    return values


def CodeSet(list_name: str) -> Any:  # noqa: N802 - reads as a type in model fields
    """A multi-select of codes from one list, each at most once."""
    return Annotated[tuple[Code(list_name), ...], AfterValidator(_unique)]  # type: ignore[misc]


def _derive_municipality(data: Any) -> Any:
    """Fill `residence_municipality` from `residence_postcode` (an unknown postcode is refused by its field)."""
    if not isinstance(data, dict) or not isinstance(data.get("residence_postcode"), str):
        return data
    postcode = data["residence_postcode"]
    derived = municipality_for_postcode(postcode)
    if derived is None:
        return data
    given = data.get("residence_municipality")
    if given not in (None, "unknown", derived):
        raise ValueError(f"residence_municipality {given} does not match postcode {postcode} ({derived})")
    return {**data, "residence_municipality": derived}


class ReferralProfile(Schooling):
    """What the referral form records about the pupil and the referral, without the pupil's identity."""

    channel: Code("channel")  # type: ignore[valid-type]
    referrer_id: Identifier = Field(description="CLB or school identifier of the referrer.")
    offer_type: Code("offer_type")  # type: ignore[valid-type]
    gender: Code("gender")  # type: ignore[valid-type]
    birth_year: int = Field(ge=1990, le=2030)
    birth_month: int = Field(ge=1, le=12, description="With birth_year: the age at referral, no birth date needed.")
    school_id: Identifier | None = Field(None, description="School identifier; per-school figures stay internal.")
    school_location: Code("school_location") = "unknown"  # type: ignore[valid-type]
    residence_postcode: Postcode | None = None
    residence_municipality: Code("municipality") = Field(  # type: ignore[valid-type]
        "unknown", description="Derived from residence_postcode when that is given."
    )
    home_language: Code("home_language") = "unknown"  # type: ignore[valid-type]
    home_language_code: LanguageCode | None = Field(None, description="The actual language when home_language=other.")
    school_delay: Code("school_delay") = "unknown"  # type: ignore[valid-type]
    primary_schools_attended: int | None = Field(None, ge=0, le=20, description="0 = primary school abroad.")
    secondary_schools_attended: int | None = Field(None, ge=1, le=20, description="Secondary only.")
    absence_b_half_days: HalfDays | None = Field(None, description="B-codes: problematic, unjustified absence.")
    absence_z_half_days: HalfDays | None = Field(None, description="Z-codes: sick.")
    absence_other_half_days: HalfDays | None = Field(None, description="Other absence codes.")
    risk_behaviours: CodeSet("risk_behaviour") | None = None  # type: ignore[valid-type]
    discipline: Code("discipline") = "unknown"  # type: ignore[valid-type]
    school_situation: CodeSet("school_situation") | None = Field(None, description="Secondary only.")  # type: ignore[valid-type]
    ambulant_care: CodeSet("care_service") | None = Field(None, description="Ambulant youth care involved.")  # type: ignore[valid-type]
    residential_setting: Code("residential_setting") = "unknown"  # type: ignore[valid-type]
    support_network: bool | None = Field(None, description="Ondersteuningsnetwerk involved.")
    other_specification: FreeText | None = Field(
        None, description="Short clarification of an `other` answer. No names: they are refused."
    )

    @model_validator(mode="before")
    @classmethod
    def _residence(cls, data: Any) -> Any:
        return _derive_municipality(data)

    @model_validator(mode="after")
    def _profile_fits_level(self) -> ReferralProfile:
        if self.level == "primary" and (self.secondary_schools_attended is not None or self.school_situation):
            raise ValueError("secondary_schools_attended and school_situation are for secondary referrals only")
        if self.home_language_code is not None and self.home_language != "other":
            raise ValueError("home_language_code is only given with home_language=other")
        return self


_NEVER_NULL = {name for name, info in ReferralProfile.model_fields.items() if info.default is not None}


class _ChangesBase(Frozen):
    """Only the fields given are changes: a field set to null means "now unknown", a field left out is unchanged."""

    @model_validator(mode="before")
    @classmethod
    def _residence(cls, data: Any) -> Any:
        return _derive_municipality(data)

    @model_validator(mode="after")
    def _something_changes(self) -> _ChangesBase:
        if not self.model_fields_set:
            raise ValueError("an amendment changes at least one profile field")
        for name in sorted(self.model_fields_set & _NEVER_NULL):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (use its `unknown` code where the list has one)")
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler):  # type: ignore[no-untyped-def]  # no return type: keeps the fields' JSON Schema
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


def _optional(info: FieldInfo) -> Any:
    annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return (annotation | None, Field(None, description=info.description))


ReferralProfileChanges: Any = create_model(
    "ReferralProfileChanges",
    __base__=_ChangesBase,
    __doc__=_ChangesBase.__doc__,
    **{name: _optional(info) for name, info in ReferralProfile.model_fields.items()},
)
