"""Bearer tokens and principals (core/auth.py): what a token proves, why one proves nothing (401), the development key,
and the settings that refuse the development signing key in production."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core.auth import (
    _DEV_KEYS,
    EVERYTHING,
    NOTHING,
    DataScope,
    NotAuthenticated,
    Principal,
    Role,
    TokenVerifier,
    development_key,
    issue_development_token,
    principal_from_claims,
)
from core.settings import Settings

PRODUCTION = {"environment": "production", "pupil_key_secret": "p" * 40, "api_keys_file": __file__}


@pytest.fixture
def dev(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def claims(settings: Settings, **over: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": "someone", "iat": now,
            "exp": now + 60, "kans_role": "clb", "kans_scope": ["clb-a"], **over}  # fmt: skip


def signed(settings: Settings, payload: dict[str, object], key: object | None = None) -> str:
    return jwt.encode(payload, key or development_key(settings).private, algorithm="RS256")  # type: ignore[arg-type]


def test_a_development_token_proves_its_role_and_scope(dev: Settings) -> None:
    token = issue_development_token(dev, "clb", ["clb-brussel-1"], ttl_s=60)
    principal = TokenVerifier(dev).verify(token)
    assert principal == Principal("dev-clb-clb-brussel-1", Role.clb, frozenset({"clb-brussel-1"}))
    assert principal.data_scope == DataScope(referrers=frozenset({"clb-brussel-1"}))
    assert jwt.get_unverified_header(token)["kid"] == development_key(dev).kid


@pytest.mark.parametrize(("change", "reason"), [
    ({"exp": int(time.time()) - 120}, "the token has expired"),
    ({"iss": "https://someone-else"}, "the token was not issued by kans-development"),
    ({"aud": "another-api"}, "the token is not meant for kans (aud)"),
    ({"kans_role": "root"}, "claim kans_role='root' is not a role"),
    ({"kans_scope": []}, "a clb token must name the ids it acts for"),
    ({"kans_scope": ["*"]}, "a clb token must name the ids it acts for"),
])  # fmt: skip
def test_a_token_that_proves_nothing_is_refused_naming_why(dev: Settings, change: dict[str, object],
                                                          reason: str) -> None:  # fmt: skip
    with pytest.raises(NotAuthenticated, match=reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        TokenVerifier(dev).verify(signed(dev, claims(dev, **change)))
    assert refused.value.error == "invalid_token"


def test_a_token_signed_by_another_key_or_tampered_with_is_refused(dev: Settings) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(NotAuthenticated, match="signature does not verify"):
        TokenVerifier(dev).verify(signed(dev, claims(dev), stranger))
    head, body, sig = issue_development_token(dev, "desk").split(".")
    forged_body = jwt.utils.base64url_encode(  # the desk's signature on a policy token
        jwt.utils.base64url_decode(body).replace(b'"desk"', b'"policy"')).decode()
    with pytest.raises(NotAuthenticated, match="signature"):
        TokenVerifier(dev).verify(f"{head}.{forged_body}.{sig}")
    with pytest.raises(NotAuthenticated, match="not valid"):
        TokenVerifier(dev).verify("not-a-token")


def test_an_unsigned_token_is_refused(dev: Settings) -> None:
    unsigned = jwt.encode(claims(dev, kans_role="desk", kans_scope=[]), None, algorithm="none")
    with pytest.raises(NotAuthenticated):
        TokenVerifier(dev).verify(unsigned)


def test_data_scopes_follow_the_role() -> None:
    def scope(role: Role, *ids: str) -> DataScope:
        return principal_from_claims({"sub": "x", "kans_role": role.value, "kans_scope": list(ids)}).data_scope

    assert scope(Role.desk) == EVERYTHING and scope(Role.policy) == EVERYTHING
    assert scope(Role.clb, "clb-a") == DataScope(referrers=frozenset({"clb-a"}))
    assert scope(Role.provider, "abrusco") == DataScope(providers=frozenset({"abrusco"}))
    assert scope(Role.source_system, "lars") == NOTHING


def test_the_development_key_is_made_once_and_readable_by_its_owner_only(dev: Settings) -> None:
    first = development_key(dev)
    assert dev.dev_signing_key_path.stat().st_mode & 0o077 == 0
    assert Path(dev.data_dir / "auth" / "dev-signing-key.pem") == dev.dev_signing_key_path
    _DEV_KEYS.clear()  # as another process: the key is read from the file, not made again
    other_process = Settings(data_dir=dev.data_dir)
    assert TokenVerifier(other_process).verify(issue_development_token(dev, "desk")).role is Role.desk
    assert development_key(other_process).kid == first.kid


def test_development_tokens_are_refused_where_an_identity_provider_is_configured(tmp_path: Path) -> None:
    with_idp = Settings(data_dir=tmp_path, auth_jwks_url="https://idp.example/certs", auth_issuer="https://idp")
    with pytest.raises(PermissionError, match="get a token from that identity provider"):
        issue_development_token(with_idp, "desk")
    with pytest.raises(ValueError, match="role 'root' is not one of desk, clb"):
        issue_development_token(Settings(data_dir=tmp_path), "root")


def test_production_refuses_the_development_signing_key_and_issuer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KANS_AUTH_JWKS_URL must name your identity provider"):
        Settings(data_dir=tmp_path, **PRODUCTION)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="KANS_AUTH_ISSUER must be your identity provider's issuer"):
        Settings(data_dir=tmp_path, auth_jwks_url="https://idp/certs", **PRODUCTION)  # type: ignore[arg-type]
    production = Settings(data_dir=tmp_path).model_copy(update={"environment": "production"})  # past validation
    with pytest.raises(PermissionError, match="refused with KANS_ENVIRONMENT=production"):
        development_key(production)
    with pytest.raises(PermissionError):
        issue_development_token(production, "desk")


def test_a_remembered_token_still_expires_and_a_changed_one_is_checked_again(tmp_path: Path) -> None:
    dev = Settings(data_dir=tmp_path, auth_leeway_s=0)
    verifier = TokenVerifier(dev)
    token = issue_development_token(dev, "provider", ["abrusco"], ttl_s=3)
    assert verifier.verify(token).scope == {"abrusco"}
    assert verifier.verify(token).scope == {"abrusco"}  # remembered
    head, body, sig = token.split(".")
    with pytest.raises(NotAuthenticated, match="signature"):
        verifier.verify(f"{head}.{body}.{sig[:-4]}AAAA")
    time.sleep(3.2)
    with pytest.raises(NotAuthenticated, match="expired"):
        verifier.verify(token)
