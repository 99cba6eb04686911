"""Broker security without a broker: the settings that refuse an open broker, the connection every client is built
with, the grant table (who may do what) and the generated credentials. The broker enforcing them is tested in
tests/integration/test_broker_security.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import faust
import pytest
from kafka.admin import ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourceType
from pydantic import SecretStr, ValidationError

from core.kafka_acls import PRINCIPALS, SERVICE_PRINCIPALS, acls, grants
from core.kafka_security import client_config, faust_credentials
from core.settings import Settings
from core.topics import topic_specs
from kans import kafka_credentials as credentials

PLAIN = {"kafka_security_protocol": "PLAINTEXT", "kafka_username": "", "kafka_credentials_file": None}


def sasl(**extra: object) -> Settings:
    return Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_username="ingest",
                    kafka_password=SecretStr("s3cret"), **extra)  # type: ignore[arg-type]  # fmt: skip


def test_production_refuses_a_broker_without_authentication() -> None:
    with pytest.raises(ValidationError, match="KANS_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused in production"):
        Settings(environment="production", **PLAIN)  # type: ignore[arg-type]


def test_sasl_needs_a_principal_and_its_password() -> None:
    for username, password in (("", "s3cret"), ("ingest", "")):
        with pytest.raises(ValidationError, match="needs KANS_KAFKA_USERNAME and KANS_KAFKA_PASSWORD"):
            Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_username=username,
                     kafka_password=SecretStr(password))  # fmt: skip


def test_every_client_gets_the_bootstrap_and_the_principals_credentials() -> None:
    assert client_config(Settings(kafka_bootstrap="k:9092", **PLAIN)) == {  # type: ignore[arg-type]
        "bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}  # fmt: skip
    assert client_config(sasl(kafka_bootstrap="k:9092")) == {
        "bootstrap_servers": "k:9092", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "ingest", "sasl_plain_password": "s3cret",
    }  # fmt: skip
    assert faust_credentials(Settings(**PLAIN)) is None  # type: ignore[arg-type]
    creds = faust_credentials(sasl())
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value, creds.protocol.value) == (
        "ingest", "s3cret", "SCRAM-SHA-256", "SASL_PLAINTEXT")  # fmt: skip
    assert "s3cret" not in repr(sasl()), "the password is a secret in the settings' repr"


def test_only_the_ingest_may_write_the_event_log_and_only_the_consumers_read_it() -> None:
    settings = Settings(topic_prefix="t0123456789.", **PLAIN)  # type: ignore[arg-type]
    events = "t0123456789.kans.events.v1"
    on_events = [(g.principal, op) for g in grants(settings) if g.resource == "topic" and g.name == events
                 for op in g.operations]  # fmt: skip
    assert {p for p, op in on_events if op == "WRITE"} == {"ingest"}
    assert {p for p, op in on_events if op == "READ"} == {"ingest", "projections", "writer", "api", "dispatch"}
    # The inbound topic: source systems write, the ingest's inbound worker reads; nobody else touches it.
    inbound = [(g.principal, g.operations) for g in grants(settings) if g.name == "t0123456789.kans.inbound.v1"]
    assert sorted(inbound) == [("dispatch", ("WRITE",)), ("inbound", ("WRITE",)), ("ingest", ("READ",))]


def test_every_grant_is_of_the_settings_topic_prefix_and_every_topic_has_one() -> None:
    settings = Settings(topic_prefix="t0123456789.", **PLAIN)  # type: ignore[arg-type]
    table = grants(settings)
    assert all(g.name.startswith("t0123456789.") for g in table)
    assert {g.principal for g in table} == set(PRINCIPALS) - {"admin"}, "admin is a super user, never granted"
    literal = {g.name for g in table if g.resource == "topic" and g.pattern == "literal"}
    prefixes = tuple(g.name for g in table if g.resource == "topic" and g.pattern == "prefixed")
    # Every topic has a grant: its own, or its faust app's prefix (the workers' internal topics, made up front).
    assert all(spec.name in literal or spec.name.startswith(prefixes) for spec in topic_specs(settings))
    # Prefixed grants only for what a faust app names itself; consumer groups exactly.
    assert {g.name for g in table if g.pattern == "prefixed"} == {"t0123456789.kans-projections-",
                                                                  "t0123456789.kans-inbound-",
                                                                  "t0123456789.kans-dispatch-"}  # fmt: skip
    assert {(g.principal, g.name) for g in table if g.resource == "group"} == {
        ("ingest", "t0123456789.kans-inbound"), ("projections", "t0123456789.kans-projections"),
        ("writer", "t0123456789.kans-clickhouse-writer"), ("api", "t0123456789.kans-clickhouse-writer"),
        ("dispatch", "t0123456789.kans-dispatch"),
        ("writer", "t0123456789.kans-audit-writer"), ("api", "t0123456789.kans-audit-writer")}  # fmt: skip
    assert set(SERVICE_PRINCIPALS.values()) <= set(PRINCIPALS)


def test_acl_bindings_allow_one_operation_each() -> None:
    settings = Settings(topic_prefix="p.", **PLAIN)  # type: ignore[arg-type]
    bindings = acls(settings)
    assert len(bindings) == sum(len(g.operations) for g in grants(settings))
    assert all(b.permission_type == ACLPermissionType.ALLOW and b.host == "*" for b in bindings)
    write_events = [b for b in bindings if b.operation == ACLOperation.WRITE and b.resource_pattern.resource_name
                    == "p.kans.events.v1"]  # fmt: skip
    assert [(b.principal, b.resource_pattern.resource_type, b.resource_pattern.pattern_type) for b in write_events] \
        == [("User:ingest", ResourceType.TOPIC, ACLResourcePatternType.LITERAL)]


def test_credentials_are_generated_once_for_every_principal_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "kafka" / "credentials.env"
    first = credentials.generate(path)
    assert set(first) == {*PRINCIPALS, "controller"}
    assert len(set(first.values())) == len(first) and all(len(p) >= 32 for p in first.values())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert credentials.generate(path) == first == credentials.read(path), "a second start keeps them"
    assert "INGEST_KAFKA_PASSWORD=" in path.read_text()
    # A principal added later gets a password; the others keep theirs.
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if not line.startswith("API_")))
    again = credentials.generate(path)
    assert {k: v for k, v in again.items() if k != "api"} == {k: v for k, v in first.items() if k != "api"}
    assert again["api"] and again["api"] != first["api"]


def test_each_process_is_given_its_own_principal(tmp_path: Path) -> None:
    path = tmp_path / "credentials.env"
    passwords = credentials.generate(path)
    tool = sasl(kafka_credentials_file=path)
    env = credentials.principal_env(tool, "projections")
    assert env == {"KANS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KANS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                   "KANS_KAFKA_USERNAME": "projections", "KANS_KAFKA_PASSWORD": passwords["projections"]}  # fmt: skip
    assert credentials.principal_env(tool)["KANS_KAFKA_USERNAME"] == "ingest", "default: the settings' own"
    assert credentials.principal_env(Settings(**PLAIN), "projections") == {  # type: ignore[arg-type]
        "KANS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}  # fmt: skip


def test_kans_serve_acts_as_its_principal_unless_one_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "credentials.env"
    passwords = credentials.generate(path)
    environ = {"KANS_KAFKA_CREDENTIALS_FILE": str(path)}
    assert credentials.act_as("projections", environ) is True
    assert (environ["KANS_KAFKA_USERNAME"], environ["KANS_KAFKA_PASSWORD"]) == ("projections", passwords["projections"])
    assert environ["KANS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    configured = {"KANS_KAFKA_USERNAME": "ingest", "KANS_KAFKA_CREDENTIALS_FILE": str(path)}
    assert credentials.act_as("projections", configured) is False and configured["KANS_KAFKA_USERNAME"] == "ingest"
    assert credentials.act_as("writer", {"KANS_DATA_DIR": str(tmp_path / "nothing")}) is False


def test_a_tool_acts_as_admin_from_the_local_brokers_file(tmp_path: Path) -> None:
    plain = Settings(data_dir=tmp_path, **PLAIN)  # type: ignore[arg-type]
    assert credentials.tool_settings(plain) == plain, "no local broker credentials: as configured"
    passwords = credentials.generate(credentials.local_credentials_file(plain))
    admin = credentials.tool_settings(plain)
    assert (admin.kafka_security_protocol, admin.kafka_username) == ("SASL_PLAINTEXT", "admin")
    assert admin.kafka_password.get_secret_value() == passwords["admin"]
    assert admin.kafka_credentials_file == tmp_path / "kafka" / "credentials.env"
    assert credentials.tool_settings(sasl()).kafka_username == "ingest", "a configured principal stays"
