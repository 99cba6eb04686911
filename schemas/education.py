"""Where a pupil or a group is at school (DOMAIN §3): level, education form, grade and special-needs type.

Shared by the individual referral and by each group of a group referral, so both are checked the same way.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.envelope import Frozen

SPECIAL_NEEDS_FORMS = {"primary": "primary_special_needs", "secondary": "secondary_special_needs"}


class Schooling(Frozen):
    """Level and the fields of DOMAIN §3. Unknown values are explicit (`unknown` / null), never left out.

    An education form belongs to the level its code starts with (`primary_…`, `secondary_…`); BuBaO types go
    with `primary_special_needs`, BuSO types and OV1-OV4 with `secondary_special_needs`.
    """

    level: Code("level")  # type: ignore[valid-type]
    education_form: Code("education_form") = Field(  # type: ignore[valid-type]
        "unknown", description="Gewoon / BuBaO; A-, B-stroom, ASO, TSO, KSO, BSO, OKAN, part-time (L&W), BuSO."
    )
    grade: Code("grade") = Field("unknown", description="Leerjaar: 1-6 in primary, 1-7 in secondary.")  # type: ignore[valid-type]
    bubao_type: Code("bubao_type") | None = Field(None, description="BuBaO type, special-needs primary only.")  # type: ignore[valid-type]
    buso_type: Code("buso_type") | None = Field(None, description="BuSO type, special-needs secondary only.")  # type: ignore[valid-type]
    buso_training_form: Code("buso_training_form") | None = Field(  # type: ignore[valid-type]
        None, description="Opleidingsvorm OV1-OV4, special-needs secondary only."
    )

    @model_validator(mode="after")
    def _education_fits_level(self) -> Schooling:
        form = self.education_form
        if form != "unknown" and not form.startswith(f"{self.level}_"):
            raise ValueError(f"education_form {form} is not a {self.level} education form")
        if self.level == "primary" and self.grade == "grade_7":
            raise ValueError("grade grade_7 exists only in secondary education")
        if self.bubao_type is not None and (self.level, form) != ("primary", SPECIAL_NEEDS_FORMS["primary"]):
            raise ValueError("bubao_type needs education_form primary_special_needs")
        special_secondary = (self.level, form) == ("secondary", SPECIAL_NEEDS_FORMS["secondary"])
        if (self.buso_type is not None or self.buso_training_form is not None) and not special_secondary:
            raise ValueError("buso_type and buso_training_form need education_form secondary_special_needs")
        return self
