"""Source credentials: the key file, authentication by digest, the scope rules (source system, referrer), and the
development keys of every source system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from core.settings import DEV_API_KEYS_FILE, Settings
from kans.paths import REPO_ROOT
from schemas.codelists import allowed
from schemas.registry import SUBMISSION_ADAPTER, example_submission
from services.ingest.credentials import (
    ApiKey,
    Unauthenticated,
    authenticate,
    hash_key,
    load_key_ring,
    parse_key_file,
    scope_violations,
)

SECRET = "x" * 40  # a production-grade pupil secret, so that only the key file decides
IDP = {"auth_jwks_url": "https://idp.example/certs", "auth_issuer": "https://idp.example"}  # not the development key


def entry(name: str, key: str, source_system: Any, referrers: Any) -> dict[str, Any]:
    return {"name": name, "sha256": hash_key(key), "source_system": source_system, "referrers": referrers}


def submission(event_type: str = "ReferralSubmitted", source_system: str = "lars", **payload: Any) -> Any:
    data = example_submission(event_type)
    data["source_system"] = source_system
    data["payload"].update(payload)
    return SUBMISSION_ADAPTER.validate_python(data)


LARS = ApiKey("lars", frozenset({"lars"}), frozenset({"*"}))
ONE_CLB = ApiKey("clb-1", frozenset({"lars", "external_clb_form"}), frozenset({"clb-brussel-1"}))
PORTAL = ApiKey("portal", frozenset({"provider_portal"}), frozenset())
EVERYTHING = ApiKey("all", frozenset({"*"}), frozenset({"*"}))


def test_a_key_is_found_by_its_digest_and_the_file_never_holds_the_key() -> None:
    ring = parse_key_file({"keys": [entry("lars", "s3cret-lars", "lars", "*")]})
    assert authenticate(ring, "s3cret-lars").name == "lars"
    assert "s3cret-lars" not in yaml.safe_dump({"keys": [entry("lars", "s3cret-lars", "lars", "*")]})


@pytest.mark.parametrize(("presented", "message"), [(None, "no API key"), ("", "no API key"),
                                                    ("s3cret-larz", "unknown API key")])  # fmt: skip
def test_missing_or_unknown_keys_are_refused(presented: str | None, message: str) -> None:
    ring = parse_key_file({"keys": [entry("lars", "s3cret-lars", "lars", "*")]})
    with pytest.raises(Unauthenticated, match=message):
        authenticate(ring, presented)


def test_a_key_file_names_known_source_systems_and_has_no_two_entries_for_one_key() -> None:
    with pytest.raises(ValidationError, match="unknown source_system"):
        parse_key_file({"keys": [entry("typo", "k", "lars ", "*")]})
    with pytest.raises(ValidationError, match="sha256"):
        parse_key_file({"keys": [{**entry("plain", "k", "lars", "*"), "sha256": "s3cret-lars"}]})
    with pytest.raises(ValueError, match="same digest"):
        parse_key_file({"keys": [entry("a", "k", "lars", "*"), entry("b", "k", "desk", "*")]})


def test_one_code_a_list_or_a_star() -> None:
    ring = parse_key_file({"keys": [entry("one", "k1", "lars", ["clb-1"]), entry("two", "k2", ["lars", "desk"], []),
                                    entry("any", "k3", "*", "*")]})  # fmt: skip
    assert authenticate(ring, "k1") == ApiKey("one", frozenset({"lars"}), frozenset({"clb-1"}))
    assert authenticate(ring, "k2") == ApiKey("two", frozenset({"lars", "desk"}), frozenset())
    assert authenticate(ring, "k3").allows_source_system("spreadsheet")


def test_the_source_system_must_be_in_scope() -> None:
    dispatch = submission("TrajectoryDispatched", "desk")
    assert scope_violations(EVERYTHING, [dispatch]) == []
    (violation,) = scope_violations(LARS, [submission(), dispatch])
    assert (violation.index, violation.field, violation.value, violation.allowed) == (1, "source_system", "desk",
                                                                                        ["lars"])  # fmt: skip
    assert "allowed: lars" in violation.message


def test_a_referrals_referrer_must_be_in_scope() -> None:
    assert scope_violations(LARS, [submission(referrer_id="clb-brussel-2")]) == []  # "*": every CLB
    assert scope_violations(ONE_CLB, [submission(referrer_id="clb-brussel-1")]) == []
    (violation,) = scope_violations(ONE_CLB, [submission(referrer_id="clb-brussel-2")])
    assert (violation.field, violation.value, violation.allowed) == (
        "payload.referrer_id", "clb-brussel-2", ["clb-brussel-1"])  # fmt: skip


def test_both_fields_are_reported_and_a_key_without_referrers_submits_no_referral() -> None:
    violations = scope_violations(PORTAL, [submission(referrer_id="clb-brussel-1")])
    assert [(v.field, v.allowed) for v in violations] == [("source_system", ["provider_portal"]),
                                                         ("payload.referrer_id", [])]  # fmt: skip
    assert "allowed: none" in violations[1].message
    assert scope_violations(PORTAL, [submission("TrajectoryStarted", "provider_portal")]) == []


def test_events_without_a_referrer_are_checked_on_the_source_system_only() -> None:
    assert scope_violations(ONE_CLB, [submission("TrajectoryClosed", "lars")]) == []


def test_the_development_file_documents_working_keys() -> None:
    ring = load_key_ring(DEV_API_KEYS_FILE)
    text = DEV_API_KEYS_FILE.read_text(encoding="utf-8")
    documented = {line.split()[1]: line.split()[3] for line in text.splitlines() if line.startswith("#   kans-dev-")}
    assert len(documented) == len(ring) >= 5
    for plaintext, name in documented.items():
        assert authenticate(ring, plaintext).name == name
        assert plaintext not in text.split("keys:", 1)[1], "only digests below `keys:`"
    assert authenticate(ring, "kans-dev-demo").allows_source_system("demo")  # kans demo load, kans bench
    assert authenticate(ring, "kans-dev-all") == ApiKey("dev-all", frozenset({"*"}), frozenset({"*"}),
                                                        frozenset({"*"}), desk=True)  # fmt: skip


def test_every_source_system_has_a_development_key_and_each_kind_of_caller_is_there() -> None:
    ring = load_key_ring(DEV_API_KEYS_FILE)
    speaks_for = {code for key in ring.values() for code in key.source_systems}
    assert set(allowed("source_system")) <= speaks_for - {"*"}
    by_name = {key.name: key for key in ring.values()}
    assert by_name["dev-desk"].desk and not by_name["dev-lars"].desk
    assert (by_name["dev-clb-brussel-2"].referrers, by_name["dev-provider-abrusco"].providers) == (
        frozenset({"clb-brussel-2"}), frozenset({"abrusco"}))  # fmt: skip
    assert by_name["dev-external-clb-form"].source_systems == frozenset({"external_clb_form"})
    assert by_name["dev-group-tool"].source_systems == frozenset({"group_referral_tool"})


def test_providers_and_desk_are_optional_and_a_key_limited_to_some_keeps_its_refs_apart() -> None:
    ring = parse_key_file({"keys": [
        entry("clb-1", "k1", "lars", ["clb-brussel-1"]),
        {**entry("abrusco", "k2", "provider_portal", []), "providers": "abrusco"},
        {**entry("desk", "k3", "desk", []), "desk": True},
        entry("lars", "k4", "lars", "*"),
    ]})  # fmt: skip
    clb, abrusco, desk, lars = (authenticate(ring, k) for k in ("k1", "k2", "k3", "k4"))
    assert (clb.providers, clb.desk, abrusco.providers) == (frozenset(), False, frozenset({"abrusco"}))
    assert desk.allows_referrer("clb-brussel-9") and desk.allows_provider("tigo")
    assert not clb.allows_provider("abrusco") and not abrusco.allows_provider("tigo")
    # Limited keys claim source_refs under their own name; whole-system keys in the system's own namespace.
    assert (clb.ref_namespace, abrusco.ref_namespace, desk.ref_namespace, lars.ref_namespace) == (
        "clb-1", "abrusco", None, None)  # fmt: skip


def test_a_key_name_is_unique_and_fit_for_a_namespace() -> None:
    with pytest.raises(ValueError, match="two API keys are named"):
        parse_key_file({"keys": [entry("a", "k1", "lars", "*"), entry("a", "k2", "lars", "*")]})
    with pytest.raises(ValidationError, match="name"):
        parse_key_file({"keys": [entry("Lars CLB/1", "k1", "lars", "*")]})


def test_production_refuses_the_development_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KANS_API_KEYS_FILE", raising=False)
    with pytest.raises(ValidationError, match="KANS_API_KEYS_FILE"):
        Settings(environment="production", pupil_key_secret=SECRET)
    with pytest.raises(ValidationError, match="KANS_API_KEYS_FILE"):
        Settings(environment="production", pupil_key_secret=SECRET, api_keys_file=Path("core/dev-api-keys.yaml"))
    # A copy of the development file elsewhere is refused when it is loaded.
    copy = tmp_path / "keys.yaml"
    copy.write_text(DEV_API_KEYS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings(environment="production", pupil_key_secret=SECRET, api_keys_file=copy, **IDP)
    with pytest.raises(ValueError, match="development_only"):
        load_key_ring(settings.api_keys_file, production=True)
    assert load_key_ring(copy, production=False)


def test_a_production_key_file_is_accepted_and_relative_paths_start_at_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "keys.yaml"
    own.write_text(yaml.safe_dump({"keys": [entry("lars", "a-long-random-key", "lars", "*")]}), encoding="utf-8")
    settings = Settings(environment="production", pupil_key_secret=SECRET, api_keys_file=own, **IDP)
    assert authenticate(load_key_ring(settings.api_keys_file, production=True), "a-long-random-key").name == "lars"
    monkeypatch.chdir(tmp_path)
    assert Settings(api_keys_file=Path("keys.yaml")).api_keys_file == own
    assert DEV_API_KEYS_FILE.is_relative_to(REPO_ROOT / "core")  # package data of the shared core
