"""Parameters of the synthetic school years: one `YearParams` per school year (volumes, shares, a crisis) and the
run's `GeneratorParams` (years, seed, scale). Pydantic models, so a run can be written to and read from YAML.

Defaults come from the desk's 2019-2020 annual report. Volumes are *new* referrals without a crisis; the
September re-referrals of carried-over trajectories come on top (they follow from the simulation), and a crisis
removes part of the regular intake after its start, so 2019-2020 lands on the report's ~70 primary and ~280
secondary individual referrals (of which 36 and 75 for the corona offer).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GENERATOR_VERSION = 1  # part of the id namespace: a changed model never reuses the ids of an older one
YEAR_PATTERN = r"^\d{4}-\d{4}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CrisisParams(_Model):
    """A crisis like spring 2020: from `start` regular work stalls, a special offer is dispatched the same day."""

    start: date = Field(description="Lock-down: running trajectories stop, round tables are cancelled.")
    offer_from_secondary: date = Field(description="The corona offer opens for secondary pupils.")
    offer_from_primary: date = Field(description="The corona offer opens for primary pupils.")
    offer_until: date = Field(description="Last day corona referrals are taken.")
    corona_primary: int = Field(36, ge=0, description="Corona-offer referrals, primary (report: 36).")
    corona_secondary: int = Field(75, ge=0, description="Corona-offer referrals, secondary (report: 75).")
    regular_intake_share: float = Field(0.12, ge=0, le=1, description="Share of the regular intake still coming.")
    running_stopped_share: float = Field(0.5, ge=0, le=1, description="Running trajectories stopped (corona).")
    waiting_not_started_share: float = Field(0.45, ge=0, le=1, description="Waiting trajectories not started.")
    round_table_cancel_share: float = Field(0.35, ge=0, le=1, description="Planned round tables cancelled.")
    group_not_started_share: float = Field(0.8, ge=0, le=1, description="Waiting group trajectories not started.")
    group_stopped_share: float = Field(0.5, ge=0, le=1, description="Running group trajectories stopped.")


def corona_spring_2020() -> CrisisParams:
    """The 2019-2020 crisis: lock-down 16 March 2020, corona offer after Easter (primary from May)."""
    return CrisisParams(
        start=date(2020, 3, 16),
        offer_from_secondary=date(2020, 4, 20),
        offer_from_primary=date(2020, 5, 4),
        offer_until=date(2020, 6, 26),
    )


class YearParams(_Model):
    """Everything that can differ between school years. Shares are probabilities per referral or trajectory."""

    school_year: str = Field(pattern=YEAR_PATTERN)
    seed: int = Field(description="The year's own seed (derived from the run's seed unless given).")
    primary_referrals: float = Field(42, ge=0, description="New regular primary referrals (no crisis).")
    secondary_referrals: float = Field(258, ge=0, description="New regular secondary referrals (no crisis).")
    part_time_share: float = Field(0.3, ge=0, le=1, description="Secondary referrals from part-time (L&W).")
    primary_group_referrals: float = Field(34, ge=0, description="Group referrals, primary (report: 30 / 40).")
    secondary_group_referrals: float = Field(78, ge=0, description="Group referrals, secondary (report: 69 / 158).")
    capacity_factor: float = Field(1.0, gt=0, description="Multiplies every provider capacity.")
    month_noise: float = Field(0.12, ge=0, le=1, description="Random deviation of each month from the seasonality.")
    advice_share: dict[str, float] = {"primary": 0.04, "secondary": 0.025}
    round_table_share: dict[str, float] = {"primary": 0.08, "secondary": 0.85}
    round_table_cancel_share: float = Field(0.06, ge=0, le=1)
    not_started_share: dict[str, float] = {"primary": 0.12, "secondary": 0.1}
    stopped_early_share: dict[str, float] = {"primary": 0.05, "secondary": 0.14}
    follow_up_share: float = Field(0.28, ge=0, le=1, description="A trajectory is followed by another one.")
    carry_over_share: float = Field(0.55, ge=0, le=1, description="Running at the year's end: continues next year.")
    re_referral_share: float = Field(0.05, ge=0, le=1, description="Pupils referred again the next school year.")
    withdrawn_share: float = Field(0.02, ge=0, le=1)
    amended_share: float = Field(0.04, ge=0, le=1)
    unregistered_share: float = Field(0.25, ge=0, le=1, description="Half-days / duration left unregistered.")
    crisis: CrisisParams | None = None

    @property
    def start_year(self) -> int:
        return int(self.school_year[:4])


def derived_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (Python's own hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def default_year_params(school_year: str, run_seed: int) -> YearParams:
    """The default parameters of a school year: the 2019-2020 report, before the NAFT widening of September 2019
    fewer part-time referrals (2018-2019: 38 primary, 154 secondary), afterwards a growth of 3% a year (in
    referrals and in provider places alike)."""
    start = int(school_year[:4])
    values: dict[str, Any] = {"school_year": school_year, "seed": derived_seed(run_seed, school_year)}
    if start < 2019:
        values.update(primary_referrals=36, secondary_referrals=140, part_time_share=0.07,
                      primary_group_referrals=22, secondary_group_referrals=60)  # fmt: skip
    else:
        growth = 1.03 ** max(0, start - 2019)
        for name in ("primary_referrals", "secondary_referrals", "primary_group_referrals",
                     "secondary_group_referrals", "capacity_factor"):  # fmt: skip  # providers grow with demand
            values[name] = round(YearParams.model_fields[name].default * growth, 2)
    if start == 2019:
        values["crisis"] = corona_spring_2020()
    return YearParams.model_validate(values)


def year_range(spec: str) -> tuple[str, ...]:
    """`2017-2018..2026-2027` (or one year `2019-2020`) -> every school year in it."""
    first, _, last = spec.partition("..")
    last = last or first
    for year in (first, last):
        if len(year) != 9 or int(year[5:]) != int(year[:4]) + 1:
            raise ValueError(f"{year!r} is not a school year like 2019-2020")
    return tuple(f"{y}-{y + 1}" for y in range(int(first[:4]), int(last[:4]) + 1))


class GeneratorParams(_Model):
    """A run: which school years are emitted, from which year the history is simulated, seed, scale, overrides."""

    years: tuple[str, ...] = Field(min_length=1, description="The school years emitted, consecutive.")
    seed: int = 42
    scale: float = Field(1.0, ge=0.01, le=10_000, description="x1 = Brussels 2019-2020; above 1: that many desks.")
    origin: str | None = Field(None, pattern=YEAR_PATTERN, description="First simulated year (default: years[0]).")
    source_system: str = "demo"
    namespace: str | None = Field(None, pattern=r"^[a-z0-9]{1,16}$", description="Id prefix; default from params.")
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict, description="school year -> YearParams fields")

    @field_validator("years")
    @classmethod
    def _consecutive(cls, years: tuple[str, ...]) -> tuple[str, ...]:
        expected = year_range(f"{years[0]}..{years[-1]}")
        if tuple(years) != expected:
            raise ValueError("years must be consecutive school years, oldest first")
        return years

    @model_validator(mode="after")
    def _origin_first(self) -> GeneratorParams:
        if self.origin is not None and self.origin > self.years[0]:
            raise ValueError("origin must not be after the first emitted year")
        return self

    @property
    def simulated_years(self) -> tuple[str, ...]:
        """The origin's years before the emitted ones are simulated silently: they give the carry-overs."""
        return year_range(f"{self.origin or self.years[0]}..{self.years[-1]}")

    def year(self, school_year: str) -> YearParams:
        base = default_year_params(school_year, self.seed)
        extra = self.overrides.get(school_year)
        return YearParams.model_validate({**base.model_dump(), **extra}) if extra else base

    @property
    def id_namespace(self) -> str:
        """Prefix of every generated id and source_ref: the same inputs give the same ids (a reload is
        idempotent), other inputs give other ids (never a conflict with an earlier load)."""
        if self.namespace:
            return self.namespace
        inputs = [GENERATOR_VERSION, self.seed, self.scale, self.origin or self.years[0], self.overrides]
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
        return f"syn{self.seed % 1000}{digest[:4]}"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, path: Path) -> GeneratorParams:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
