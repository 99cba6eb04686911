"""Provider facts (DOMAIN §7), keyed by provider_id: registration, modules offered and withdrawn, capacity,
minimum age, whether referrals are accepted, whether the desk can reach the provider.

Facts change over time; each event says from which day it holds (`valid_from`), so a past school year can be
replayed with the facts that held then. A later fact for the same provider (and module) replaces an earlier one
from its `valid_from` on.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload
from schemas.privacy import OrganisationName
from schemas.referral_profile import CodeSet


class ProviderFact(Payload):
    """A fact about a provider that holds from `valid_from` on."""

    stream_field: ClassVar[str] = "provider_id"
    provider_id: Identifier
    valid_from: date = Field(description="The first day the fact holds.")

    @model_validator(mode="after")
    def _plausible_date(self) -> ProviderFact:
        if self.valid_from.year < 2000:
            raise ValueError("valid_from must be a date after 2000-01-01")
        return self


class ProviderRegisteredPayload(ProviderFact):
    """A provider (aanbieder, partner organisation) joins the desk's network."""

    name: OrganisationName = Field(description="The organisation's public name (not a person).")
    postcode: str | None = Field(None, pattern=r"^[1-9][0-9]{3}$", description="Where it works, if one place.")


class ModuleOfferedPayload(ProviderFact):
    """The provider offers a module (individual trajectory, class action, day-care places …) for some levels."""

    module_id: Identifier
    kind: Code("module_kind")  # type: ignore[valid-type]
    name: OrganisationName = Field(description="The module's name as the provider calls it.")
    levels: CodeSet("level") = Field(min_length=1)  # type: ignore[valid-type]


class ModuleWithdrawnPayload(ProviderFact):
    """The provider no longer offers the module from valid_from on."""

    module_id: Identifier


class ProviderCapacitySetPayload(Payload):
    """A provider's capacity for one module (concurrent trajectories), valid from a date."""

    # Declared on its own to keep version 1's field order: the ingest fingerprints a submission's JSON, so a
    # reordered dump would turn a harmless resubmission into a conflict.
    stream_field: ClassVar[str] = "provider_id"
    provider_id: Identifier
    module_id: Identifier
    capacity: int = Field(ge=0, le=10_000)
    valid_from: date

    @model_validator(mode="after")
    def _plausible_date(self) -> ProviderCapacitySetPayload:
        if self.valid_from.year < 2000:
            raise ValueError("valid_from must be a date after 2000-01-01")
        return self


class ProviderMinimumAgeSetPayload(ProviderFact):
    """The minimum age (at referral) the provider accepts, for one module or (module_id null) all of them."""

    module_id: Identifier | None = None
    minimum_age: int = Field(ge=0, le=25)


class ProviderAcceptingReferralsSetPayload(ProviderFact):
    """Whether the provider accepts new referrals from valid_from until valid_until (inclusive; null = until
    further notice), for one module or (module_id null) all of them. E.g. no class actions after Easter."""

    module_id: Identifier | None = None
    accepting: bool
    valid_until: date | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> ProviderAcceptingReferralsSetPayload:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ProviderReachabilitySetPayload(ProviderFact):
    """Whether the desk can refer to the provider from valid_from on (e.g. Tigo only via youth care's access
    gate from 1 January 2020), for one module or (module_id null) all of them."""

    module_id: Identifier | None = None
    reachable_via_desk: bool


class ProviderTravelRegionSetPayload(ProviderFact):
    """Where the provider takes pupils from, from valid_from on, for one module or (module_id null) all of them: the
    communes of residence from which travel to it is feasible (day-care farms outside Brussels), or null for anywhere.
    A pupil whose commune is unknown is not excluded (the desk decides)."""

    module_id: Identifier | None = None
    municipalities: CodeSet("municipality") | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="Communes of residence it takes pupils from; null: from anywhere."
    )


class ProviderRegistered(Envelope):
    event_type: Literal["ProviderRegistered"] = "ProviderRegistered"
    schema_version: Literal[1] = 1
    payload: ProviderRegisteredPayload


class ModuleOffered(Envelope):
    event_type: Literal["ModuleOffered"] = "ModuleOffered"
    schema_version: Literal[1] = 1
    payload: ModuleOfferedPayload


class ModuleWithdrawn(Envelope):
    event_type: Literal["ModuleWithdrawn"] = "ModuleWithdrawn"
    schema_version: Literal[1] = 1
    payload: ModuleWithdrawnPayload


class ProviderCapacitySet(Envelope):
    event_type: Literal["ProviderCapacitySet"] = "ProviderCapacitySet"
    schema_version: Literal[1] = 1
    payload: ProviderCapacitySetPayload


class ProviderMinimumAgeSet(Envelope):
    event_type: Literal["ProviderMinimumAgeSet"] = "ProviderMinimumAgeSet"
    schema_version: Literal[1] = 1
    payload: ProviderMinimumAgeSetPayload


class ProviderAcceptingReferralsSet(Envelope):
    event_type: Literal["ProviderAcceptingReferralsSet"] = "ProviderAcceptingReferralsSet"
    schema_version: Literal[1] = 1
    payload: ProviderAcceptingReferralsSetPayload


class ProviderReachabilitySet(Envelope):
    event_type: Literal["ProviderReachabilitySet"] = "ProviderReachabilitySet"
    schema_version: Literal[1] = 1
    payload: ProviderReachabilitySetPayload


class ProviderTravelRegionSet(Envelope):
    event_type: Literal["ProviderTravelRegionSet"] = "ProviderTravelRegionSet"
    schema_version: Literal[1] = 1
    payload: ProviderTravelRegionSetPayload
