"""Who is calling, and which rows they may read: a Principal (role and the ids it acts for) verified from a bearer JWT
against the configured issuer, audience and JWKS (any OpenID Connect provider), or, for local use and the tests, from
development tokens signed with a key generated in the data directory (`kans token`). Both APIs put it on their routes
through `core/access.py`; the warehouse and the live views read only the rows of the principal's `DataScope`.

Claims (besides `iss`, `aud`, `sub`, `exp`, `iat`): `kans_role` (desk, clb, provider, policy, source_system) and
`kans_scope` (the ids the role acts for: the CLB's referrer id, the provider id, the source system codes); a source
system's token may add `kans_referrers` and `kans_providers` (ids, or "*" for any).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.settings import Settings

log = logging.getLogger(__name__)
ANY = "*"
ROLE_CLAIM, SCOPE_CLAIM = "kans_role", "kans_scope"
REFERRERS_CLAIM, PROVIDERS_CLAIM = "kans_referrers", "kans_providers"
DEV_ALGORITHM = "RS256"
DEFAULT_TTL_S = 3600
MAX_DEV_TTL_S = 30 * 86_400
VERIFIED_CACHE_S = 60  # a verified token is trusted this long without checking its signature again (never past exp)
VERIFIED_CACHE_MAX = 4096


class Role(StrEnum):
    """DOMAIN §1 and §9: the desk sees everything; a CLB its own referrals; a provider its own trajectories; policy
    statistics only (suppressed); a source system submits events (the ingest) and reads nothing."""

    desk = "desk"
    clb = "clb"
    provider = "provider"
    policy = "policy"
    source_system = "source_system"


SCOPED_ROLES = frozenset({Role.clb, Role.provider, Role.source_system})  # a token of these must name its ids


class NotAuthenticated(Exception):
    """No credential, or one that does not prove who calls (expired, bad signature, wrong issuer or audience): 401.
    `error` is the RFC 6750 error code for the WWW-Authenticate challenge (None when no credential was sent)."""

    def __init__(self, reason: str, error: str | None = "invalid_token") -> None:
        super().__init__(reason)
        self.reason, self.error = reason, error


class IdentityProviderUnavailable(Exception):
    """The identity provider's JWKS could not be fetched: the token can be neither accepted nor refused (503)."""


@dataclass(frozen=True)
class DataScope:
    """The rows a reader may see. None: any; a set: only the rows of these referrers (a CLB's referrals and what
    follows from them) or providers (trajectories dispatched to them). Both set: rows matching both."""

    referrers: frozenset[str] | None = None
    providers: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.referrers is None and self.providers is None

    def allows_provider(self, provider_id: str | None) -> bool:
        return self.providers is None or provider_id in self.providers

    def describe(self) -> str:
        parts = [f"referrer in {sorted(self.referrers)}"] if self.referrers is not None else []
        parts += [f"provider in {sorted(self.providers)}"] if self.providers is not None else []
        return " and ".join(parts) or "everything"


EVERYTHING = DataScope()
NOTHING = DataScope(referrers=frozenset(), providers=frozenset())


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `scope` holds the ids its role acts for; a source system also has the referrers and
    providers it may submit for (`*`: any). `via` says how it proved it: a bearer token or an API key (ingest)."""

    subject: str
    role: Role
    scope: frozenset[str] = frozenset()
    referrers: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    via: str = "bearer"

    @cached_property
    def data_scope(self) -> DataScope:
        """What this caller may read: everything (desk; policy too, but only through suppressed statistics), its own
        referrals (CLB), its own trajectories (provider), nothing (a source system)."""
        if self.role in (Role.desk, Role.policy):
            return EVERYTHING
        if self.role is Role.clb:
            return DataScope(referrers=self.scope)
        if self.role is Role.provider:
            return DataScope(providers=self.scope)
        return NOTHING


def _ids(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    value = claims.get(name, [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise NotAuthenticated(f"claim {name} must be a list of ids")
    return frozenset(values)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal a verified token describes; a role the platform does not know, or a scoped role without ids,
    proves nothing (401)."""
    role_value = claims.get(ROLE_CLAIM)
    try:
        role = Role(str(role_value))
    except ValueError as err:
        allowed = ", ".join(r.value for r in Role)
        raise NotAuthenticated(f"claim {ROLE_CLAIM}={role_value!r} is not a role; allowed: {allowed}") from err
    scope = _ids(claims, SCOPE_CLAIM)
    if role in SCOPED_ROLES and (not scope or (ANY in scope and role is not Role.source_system)):
        raise NotAuthenticated(f"a {role.value} token must name the ids it acts for in {SCOPE_CLAIM}")
    return Principal(str(claims["sub"]), role, scope, _ids(claims, REFERRERS_CLAIM), _ids(claims, PROVIDERS_CLAIM))


class DevelopmentKey:
    """The development signing key: RSA 2048, generated on first use into a file only its owner can read (written
    atomically, so processes starting together agree on one key). Never used in production (settings refuse it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.private = _load_or_create(path)
        public = self.private.public_key()
        digest = hashes.Hash(hashes.SHA256())
        digest.update(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.kid = f"kans-dev-{digest.finalize().hex()[:16]}"
        self.public = public


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)  # fails if another process was first: its key wins
            log.info("generated the development signing key %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded


_DEV_KEYS: dict[Path, DevelopmentKey] = {}


def development_key(settings: Settings) -> DevelopmentKey:
    """The development signing key of these settings (read once per process); refused in production."""
    if settings.environment == "production":
        raise PermissionError("the development signing key is refused with KANS_ENVIRONMENT=production")
    path = settings.dev_signing_key_path
    if path not in _DEV_KEYS:
        _DEV_KEYS[path] = DevelopmentKey(path)
    return _DEV_KEYS[path]


def uses_development_tokens(settings: Settings) -> bool:
    """True when the services verify tokens with the development key (no identity provider configured)."""
    return settings.environment == "development" and not settings.auth_jwks_url


def issue_development_token(settings: Settings, role: Role | str, scope: Iterable[str] = (), *,
                            ttl_s: float = DEFAULT_TTL_S, subject: str | None = None, referrers: Iterable[str] = (),
                            providers: Iterable[str] = (), now: float | None = None) -> str:  # fmt: skip
    """A token signed with the development key, as an identity provider would issue it (`kans token`, the tests, the
    development dashboard). Refused when the services verify another issuer's tokens, and in production."""
    if not uses_development_tokens(settings):
        raise PermissionError(f"the services verify tokens of {settings.auth_issuer} (KANS_AUTH_JWKS_URL is set): "
                              "get a token from that identity provider")  # fmt: skip
    if not 0 < ttl_s <= MAX_DEV_TTL_S:
        raise ValueError(f"ttl must be between 1 s and {MAX_DEV_TTL_S} s")
    if role not in Role.__members__:
        raise ValueError(f"role {role!r} is not one of {', '.join(Role.__members__)}")
    role = Role(role)
    ids = sorted(set(scope))
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": settings.auth_issuer, "aud": settings.auth_audience,
        "sub": subject or f"dev-{role.value}{'-' + '+'.join(ids) if ids else ''}",
        "iat": issued, "nbf": issued, "exp": issued + int(ttl_s), "jti": uuid.uuid4().hex,
        ROLE_CLAIM: role.value, SCOPE_CLAIM: ids,
    }  # fmt: skip
    if referrers := sorted(set(referrers)):
        claims[REFERRERS_CLAIM] = referrers
    if providers := sorted(set(providers)):
        claims[PROVIDERS_CLAIM] = providers
    principal_from_claims(claims)  # the same checks the services make: never hand out a token they refuse
    key = development_key(settings)
    return jwt.encode(claims, key.private, algorithm=DEV_ALGORITHM, headers={"kid": key.kid})


class TokenVerifier:
    """Verifies bearer tokens: signature (the JWKS's key for the token's `kid`, or the development key), `iss`,
    `aud`, `exp`/`nbf`/`iat` with the configured leeway, and the KANS claims. The JWKS is cached (5 minutes) and
    fetched again for a `kid` it does not know (key rotation). A token that verified is remembered for at most
    VERIFIED_CACHE_S and never past its `exp`, so a client polling with the same token (the dashboard) pays for one
    signature check a minute; a key the identity provider withdraws stops working within that minute."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer, self.audience = settings.auth_issuer, settings.auth_audience
        self._jwks = (jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, lifespan=300, timeout=5)
                      if settings.auth_jwks_url else None)  # fmt: skip
        self.algorithms = list(settings.auth_algorithms) if self._jwks else [DEV_ALGORITHM]
        self._dev_key: Any = None
        self._verified: dict[str, tuple[Principal, float]] = {}

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may fetch the JWKS over the network (callers then verify in a worker thread)."""
        return self._jwks is not None

    def _key(self, token: str) -> Any:
        if self._jwks is None:
            if self._dev_key is None:
                self._dev_key = development_key(self.settings).public
            return self._dev_key
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as err:
            raise IdentityProviderUnavailable(f"the identity provider's keys could not be fetched: {err}") from err
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.DecodeError) as err:
            raise NotAuthenticated(f"no signing key of the issuer matches the token: {err}") from err

    def verify(self, token: str) -> Principal:
        """The principal the token proves, or NotAuthenticated naming why not."""
        now = time.time()
        if (known := self._verified.get(token)) is not None and known[1] > now:
            return known[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (principal, min(expires, now + VERIFIED_CACHE_S))
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token, self._key(token), algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                leeway=self.settings.auth_leeway_s, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError as err:
            raise NotAuthenticated("the token has expired") from err
        except jwt.InvalidIssuerError as err:
            raise NotAuthenticated(f"the token was not issued by {self.issuer}") from err
        except jwt.InvalidAudienceError as err:
            raise NotAuthenticated(f"the token is not meant for {self.audience} (aud)") from err
        except jwt.InvalidSignatureError as err:
            raise NotAuthenticated("the token's signature does not verify") from err
        except jwt.InvalidTokenError as err:
            raise NotAuthenticated(f"the token is not valid: {err}") from err
        return principal_from_claims(claims), float(claims["exp"])


def development_headers(settings: Settings, role: Role | str = Role.desk, scope: Iterable[str] = (),
                        ttl_s: float = 6 * 3600) -> dict[str, str]:  # fmt: skip
    """`Authorization: Bearer <development token>` for the tools and tests that call the APIs (a desk by default)."""
    return {"Authorization": f"Bearer {issue_development_token(settings, role, scope, ttl_s=ttl_s)}"}
