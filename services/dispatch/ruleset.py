"""The rule set as configuration: which offers place trajectories when, which modules fit them and how candidates are
ranked, read from YAML (package data `services/dispatch/rules/*.yaml`, or a file named by KANS_DISPATCH_RULES) and
checked when it is loaded: an unknown ranking rule, module kind or code is refused with the allowed values."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codelists import Code
from schemas.dispatch import RuleSetVersion
from schemas.envelope import Identifier

RULES_DIR = Path(__file__).resolve().parent / "rules"
DEFAULT_RULES = RULES_DIR / "v1.yaml"
RankingRule = Literal["priority", "balance", "kind_order"]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Config):
    """What a placement must be for the offer to take it; a field left out matches anything."""

    offer_type: Code("offer_type") | None = None  # type: ignore[valid-type]
    level: Code("level") | None = None  # type: ignore[valid-type]
    group_module: Code("group_module") | None = None  # type: ignore[valid-type]


class Modules(_Config):
    """The catalogue's modules that fit: by kind, by id, or both (either fits)."""

    kinds: tuple[Code("module_kind"), ...] = ()  # type: ignore[valid-type]
    ids: tuple[Identifier, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Modules:
        if not (self.kinds or self.ids):
            raise ValueError("modules names kinds or ids")
        return self

    def fit(self, kind: str, module_id: str) -> bool:
        return kind in self.kinds or module_id in self.ids


class Offer(_Config):
    name: Identifier
    match: Match
    placed_on: Literal["round_table", "referral"]
    modules: Modules
    order: tuple[RankingRule, ...] = ()
    priority: tuple[Identifier, ...] = ()
    auto_confirm: bool = False

    @model_validator(mode="after")
    def _priority_when_ranked_by_it(self) -> Offer:
        if ("priority" in self.order) != bool(self.priority):
            raise ValueError(f"offer {self.name}: a priority list goes with the ranking rule priority, and only then")
        return self

    def matches(self, offer_type: str, level: str, group_module: str | None) -> bool:
        m = self.match
        return (
            (m.offer_type is None or m.offer_type == offer_type)
            and (m.level is None or m.level == level)
            and m.group_module == group_module
        )


class RuleSet(_Config):
    version: RuleSetVersion
    offers: tuple[Offer, ...] = Field(min_length=1)

    def offer_for(self, offer_type: str, level: str, group_module: str | None = None) -> Offer | None:
        """The first offer that takes a placement of this kind (None: the rules place none)."""
        return next((o for o in self.offers if o.matches(offer_type, level, group_module)), None)


def parse_rule_set(text: str) -> RuleSet:
    return RuleSet.model_validate(yaml.safe_load(text))


@cache
def load_rule_set(path: Path = DEFAULT_RULES) -> RuleSet:
    return parse_rule_set(path.read_text(encoding="utf-8"))
