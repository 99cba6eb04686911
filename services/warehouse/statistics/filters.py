"""The common filters of every statistic, and how they become SQL conditions with bound parameters (pure).

Every folded source (`folds.py`) exposes the same filter columns: `level`, `offer_type`, `channel`, `source_system`
(the system the referral or group referral was registered in: the report's LARS / outside-LARS views), `date_key`
(the day within the school year of the unit's own date: referral or group-request date) and, for referral-based
sources, `referral_id` (the provider filter keeps referrals with a trajectory dispatched to the provider).
Values are never put in the SQL text: each becomes a `{name:Type}` parameter.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from schemas.codelists import allowed, label
from schemas.envelope import BRUSSELS
from services.warehouse.statistics.as_of import known

UNTIL = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
FAR_FUTURE_MS = 7_258_118_400_000  # 2200-01-01: "everything recorded so far"
# The report's views by registration system (DOMAIN §8: figures "outside LARS" are about the system a referral was
# registered in, not its channel: a non-Brussels CLB's referral the desk typed into LARS is in the LARS view).
REGISTRATION_VIEWS_NL = {"lars": "geregistreerd in LARS", "outside_lars": "buiten LARS geregistreerd"}
ALL_REGISTRATIONS_NL = "in en buiten LARS geregistreerd"


def school_day_key(month: int, day: int) -> int:
    """Order of a day within a school year (September first): (month index from September) * 100 + day."""
    return ((month + 3) % 12) * 100 + day


def date_key_sql(day: str) -> str:
    """SQL for `school_day_key` of a Date expression."""
    return f"((toMonth({day}) + 3) % 12) * 100 + toDayOfMonth({day})"


def as_of_ms(as_of: date | None) -> int:
    """The end of day `as_of` in Brussels, as epoch milliseconds (events recorded before it count)."""
    if as_of is None:
        return FAR_FUTURE_MS
    end = datetime.combine(as_of + timedelta(days=1), time(0), BRUSSELS)
    return int(end.timestamp() * 1000)


class Filters(BaseModel):
    """Common filters: lists mean "any of these". `until` cuts every school year at the same day (MM-DD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: tuple[str, ...] | None = Field(None, description="primary, secondary (default: the statistic's level).")
    offer_type: tuple[str, ...] | None = Field(None, description="regular, corona.")
    channel: tuple[str, ...] | None = Field(None, description="Only these referral channels.")
    exclude_channel: tuple[str, ...] | None = Field(None, description="Leave out these channels (e.g. external_clb, "
                                                    "intake: the report's LARS-only charts).")  # fmt: skip
    education_form: tuple[str, ...] | None = Field(None, description="Only these education forms.")
    exclude_education_form: tuple[str, ...] | None = Field(None, description="Leave out these education forms.")
    provider: tuple[str, ...] | None = Field(None, description="Provider ids (trajectories at, or referrals with a "
                                             "trajectory at, one of them).")  # fmt: skip
    until: str | None = Field(None, description="Cut-off day of the school year, MM-DD (e.g. 03-31).")
    registration: Literal["lars", "outside_lars"] | None = Field(
        None, description="The report's views by the system a referral was registered in (the event's source_system): "
        "lars = registered in LARS; outside_lars = registered elsewhere (the external-CLB form, the group tool, a "
        "spreadsheet, the desk ...). Default: both. Independent of the channel filters.")  # fmt: skip

    @field_validator("level", "offer_type", "channel", "exclude_channel", "education_form", "exclude_education_form")
    @classmethod
    def _known_codes(cls, value: tuple[str, ...] | None, info: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        list_name = info.field_name.removeprefix("exclude_")
        codes = allowed(list_name)
        for code in value:
            if code not in codes:
                raise PydanticCustomError(
                    "code_list",
                    "'{value}' is not a {list_name} code; allowed values: {allowed}",
                    {"value": code, "list_name": list_name, "allowed": ", ".join(codes)},
                )
        return tuple(dict.fromkeys(value)) or None

    @field_validator("until")
    @classmethod
    def _until_is_a_day(cls, value: str | None) -> str | None:
        if value is not None and not UNTIL.match(value):
            raise ValueError("until must be MM-DD, e.g. 03-31")
        return value

    def given(self) -> dict[str, Any]:
        """The filters actually set (echoed in responses)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.model_dump().items() if v is not None}

    def describe_nl(self) -> str:
        """The population restrictions, in Dutch (for the `population` text)."""

        def names(list_name: str, codes: tuple[str, ...]) -> str:
            labels = [label(list_name, c) for c in codes]
            return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} en {labels[-1]}"

        parts = []
        if self.offer_type:
            parts.append(names("offer_type", self.offer_type))
        if self.channel:
            parts.append(f"kanalen: {names('channel', self.channel)}")
        if self.exclude_channel:
            parts.append(f"zonder {names('channel', self.exclude_channel)}")
        if not self.channel and not self.exclude_channel:
            parts.append("alle kanalen")
        parts.append(REGISTRATION_VIEWS_NL[self.registration] if self.registration else ALL_REGISTRATIONS_NL)
        if self.education_form:
            parts.append(f"onderwijsvorm: {names('education_form', self.education_form)}")
        if self.exclude_education_form:
            parts.append(f"zonder {names('education_form', self.exclude_education_form)}")
        if self.provider:
            parts.append(f"aanbieder(s): {', '.join(self.provider)}")
        if self.until:
            parts.append(f"tot en met {self.until[3:]}/{self.until[:2]}")
        return ", ".join(parts)


def filter_conditions(
    filters: Filters, level: str | None, *, provider_column: str | None, database: str, prefix: str = "f"
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions and parameters for a folded source. `level` is the statistic's own level (a level filter
    overrides it); `provider_column` is the source's provider column, or None for referral-based sources (then
    the provider filter goes through the trajectory log, see `provider_referrals_sql`)."""
    where: list[str] = []
    params: dict[str, Any] = {}

    def member(column: str, name: str, values: tuple[str, ...] | None, negate: bool = False) -> None:
        if values:
            params[f"{prefix}_{name}"] = list(values)
            where.append(f"{column} {'NOT IN' if negate else 'IN'} {{{prefix}_{name}:Array(String)}}")

    levels = filters.level or ((level,) if level else None)
    member("level", "level", levels)
    member("offer_type", "offer_type", filters.offer_type)
    member("channel", "channel", filters.channel)
    member("channel", "exclude_channel", filters.exclude_channel, negate=True)
    member("education_form", "education_form", filters.education_form)
    member("education_form", "exclude_education_form", filters.exclude_education_form, negate=True)
    if filters.provider:
        if provider_column is None:
            params[f"{prefix}_provider"] = list(filters.provider)
            where.append(f"referral_id IN ({provider_referrals_sql(database, prefix)})")
        else:
            member(provider_column, "provider", filters.provider)
    if filters.registration:
        params[f"{prefix}_registration"] = "lars"
        operator = "=" if filters.registration == "lars" else "!="
        where.append(f"source_system {operator} {{{prefix}_registration:String}}")
    if filters.until:
        params[f"{prefix}_until"] = school_day_key(int(filters.until[:2]), int(filters.until[3:]))
        where.append(f"date_key <= {{{prefix}_until:UInt16}}")
    return where, params


def provider_referrals_sql(database: str, prefix: str = "f") -> str:
    """Referrals with a trajectory dispatched (or carried over) to one of the filtered providers, as known as-of."""
    dispatched = (f"provider_id IN {{{prefix}_provider:Array(String)}} "
                  "AND event_type IN ('TrajectoryDispatched', 'TrajectoryCarriedOver')")  # fmt: skip
    return f"SELECT referral_id FROM {database}.trajectory_log WHERE {known(database, 'trajectory_log', dispatched)}"
