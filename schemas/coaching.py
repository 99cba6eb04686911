"""Youth coaches in schools (coach op school) and the corona coaching they did: provider facts the desk's report
counts (R50) though the work does not go through the desk's referrals. Keyed by provider_id, like every provider
fact; figures only, never a pupil.

A coach setting (`ProviderCoachSettingSet`) is one school working of a provider's youth coaches: a school (or one
campus, or its part-time centre) with a number of half-days per week, from `valid_from` until `valid_until`. The same
`setting_id` again replaces the earlier fact (a change of half-days, an end date); half-days 0 ends it.
A corona coaching report (`ProviderCoronaCoachingReported`) gives how many pupils the provider's coaches supported in
one way (a study lab for distance learning, doorstep visits to pupils out of reach) in a period of a school year; the
same `report_id` again corrects it.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload, SchoolYear
from schemas.providers import ProviderFact


class ProviderCoachSettingSetPayload(ProviderFact):
    """A provider's youth coach works in a school (a setting: a school, one of its campuses, or its part-time or
    full-time part) for `half_days_per_week` half-days a week, from valid_from until valid_until (inclusive; null =
    until further notice). Setting it again with the same setting_id replaces it; half-days 0 ends it."""

    setting_id: Identifier = Field(description="The provider's own id of the setting (school working).")
    school_id: Identifier = Field(description="School identifier; per-school figures stay internal.")
    track: Code("coach_setting_track") = "whole_school"  # type: ignore[valid-type]
    half_days_per_week: float = Field(ge=0, le=20, description="Half-days (dagdelen) of coaching per week.")
    valid_until: date | None = Field(None, description="The last day; null until further notice.")

    @model_validator(mode="after")
    def _period_in_order(self) -> ProviderCoachSettingSetPayload:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ProviderCoronaCoachingReportedPayload(Payload):
    """How many pupils a provider's youth coaches supported in one way of corona coaching (outside the desk's
    referrals) from period_from to period_until within a school year. A count only: no pupil is named."""

    stream_field: ClassVar[str] = "provider_id"
    provider_id: Identifier
    report_id: Identifier = Field(description="The provider's own id of the report; sent again, it corrects it.")
    school_year: SchoolYear
    kind: Code("corona_coaching_kind")  # type: ignore[valid-type]
    pupils: int = Field(ge=0, le=100_000, description="Pupils supported this way in the period.")
    period_from: date
    period_until: date

    @model_validator(mode="after")
    def _period_in_its_school_year(self) -> ProviderCoronaCoachingReportedPayload:
        start = date(int(self.school_year[:4]), 9, 1)
        end = date(int(self.school_year[5:]), 8, 31)
        if int(self.school_year[5:]) != int(self.school_year[:4]) + 1:
            raise ValueError(f"school_year {self.school_year} is not two consecutive years")
        if not start <= self.period_from <= self.period_until <= end:
            raise ValueError(f"period_from..period_until must lie in order within {self.school_year} ({start}..{end})")
        return self


class ProviderCoachSettingSet(Envelope):
    event_type: Literal["ProviderCoachSettingSet"] = "ProviderCoachSettingSet"
    schema_version: Literal[1] = 1
    payload: ProviderCoachSettingSetPayload


class ProviderCoronaCoachingReported(Envelope):
    event_type: Literal["ProviderCoronaCoachingReported"] = "ProviderCoronaCoachingReported"
    schema_version: Literal[1] = 1
    payload: ProviderCoronaCoachingReportedPayload
