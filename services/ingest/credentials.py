"""Source credentials: one API key per source system, stored as a SHA-256 digest with its scope (the source
systems it may speak for, and whom it acts as: referrers, providers, the desk). Pure rules (authenticate, check
scope) and the key file's loader. What a key may do to an existing referral, trajectory or group is decided by the
ownership rules (`ownership.py`) on the scope kept here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schemas.codelists import allowed
from schemas.envelope import SubmissionBase
from services.ingest.ownership import ref_namespace

ANY = "*"
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Unauthenticated(PermissionError):
    """No API key was presented, or one that is not in the key file."""


@dataclass(frozen=True)
class ApiKey:
    """What a key may speak for; `*` in a scope means any value. It is the ingest's caller: the ownership rules
    read it through `ownership.Caller` (name, desk, referrers, providers), so another credential (a token) can be
    mapped onto the same rules."""

    name: str
    source_systems: frozenset[str]
    referrers: frozenset[str]
    providers: frozenset[str] = frozenset()
    desk: bool = False

    def allows_source_system(self, code: str) -> bool:
        return ANY in self.source_systems or code in self.source_systems

    def allows_referrer(self, referrer_id: str) -> bool:
        return self.desk or ANY in self.referrers or referrer_id in self.referrers

    def allows_provider(self, provider_id: str) -> bool:
        return self.desk or ANY in self.providers or provider_id in self.providers

    @property
    def ref_namespace(self) -> str | None:
        """None when the key speaks for its whole source system, else its name (see `ownership.ref_namespace`)."""
        return ref_namespace(self)


@dataclass(frozen=True)
class ScopeViolation:
    """One submission field outside the key's scope: `field` is its path inside the submission."""

    index: int
    field: str
    value: str
    allowed: list[str]

    @property
    def message(self) -> str:
        return f"{self.field} {self.value!r} is outside the key's scope; allowed: {', '.join(self.allowed) or 'none'}"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    sha256: Digest
    source_system: list[str]
    referrers: list[str]
    providers: list[str] = []
    desk: bool = False

    @field_validator("source_system", "referrers", "providers", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("source_system")
    @classmethod
    def _known_codes(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {ANY, *allowed("source_system")})
        if unknown:
            raise ValueError(f"unknown source_system code(s) {unknown}; allowed: {allowed('source_system')} or '*'")
        return value


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    development_only: bool = False
    keys: list[_Entry]


KeyRing = dict[str, ApiKey]
"""SHA-256 hex digest of a key -> the key's scope."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key_file(data: Any, production: bool = False) -> KeyRing:
    """The key ring described by a loaded key file; a development-only file is refused in production."""
    parsed = _KeyFile.model_validate(data)
    if production and parsed.development_only:
        raise ValueError("the API key file is marked development_only: its keys are public")
    ring: KeyRing = {}
    for entry in parsed.keys:
        if entry.sha256 in ring:
            raise ValueError(f"API keys {ring[entry.sha256].name} and {entry.name} have the same digest")
        if entry.name in {key.name for key in ring.values()}:
            raise ValueError(f"two API keys are named {entry.name}: the name is a key's identity (and namespace)")
        ring[entry.sha256] = ApiKey(entry.name, frozenset(entry.source_system), frozenset(entry.referrers),
                                    frozenset(entry.providers), entry.desk)  # fmt: skip
    return ring


def load_key_ring(path: Path, production: bool = False) -> KeyRing:
    return parse_key_file(yaml.safe_load(path.read_text(encoding="utf-8")), production)


def authenticate(ring: KeyRing, presented: str | None) -> ApiKey:
    """The scope of the presented key. Only digests are compared, so the file never holds a usable key."""
    if not presented:
        raise Unauthenticated("no API key")
    key = ring.get(hash_key(presented))
    if key is None:
        raise Unauthenticated("unknown API key")
    return key


def scope_violations(key: ApiKey, submissions: Sequence[SubmissionBase]) -> list[ScopeViolation]:
    """Every field of `submissions` the key may not speak for: the source system, and a referral's referrer."""
    violations: list[ScopeViolation] = []
    for i, sub in enumerate(submissions):
        if not key.allows_source_system(sub.source_system):
            violations.append(ScopeViolation(i, "source_system", sub.source_system, sorted(key.source_systems)))
        # Any event that names a referrer (ReferralSubmitted today) is checked, whatever its type is called.
        referrer = getattr(getattr(sub, "payload", None), "referrer_id", None)
        if referrer is not None and not key.allows_referrer(str(referrer)):
            violations.append(ScopeViolation(i, "payload.referrer_id", str(referrer), sorted(key.referrers)))
    return violations
