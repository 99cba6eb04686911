"""docker-compose.yml, read without Docker: official images, real `kans` commands, settings that resolve.

There is no Docker engine on the development machines, so the file is checked by reading it: every service built
from this repository runs a real `kans` subcommand, and its environment, fed through the `Settings` class, gives
the values the containers need (Kafka and ClickHouse by service name, servers listening on 0.0.0.0, ...).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from core.settings import Settings
from kans.cli import app
from kans.paths import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# The services that run this repository's code: built from the Dockerfile at the repository root.
KANS_SERVICES = sorted(name for name, svc in SERVICES.items() if svc.get("build") in (".", {"context": "."}))
LONG_RUNNING = {"ingest", "inbound", "projections", "writer", "api", "live"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
KANS_VARIABLES = {f"KANS_{name.upper()}" for name in Settings.model_fields}


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the list form: ["NAME=value", ...]
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # the short form means service_started
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for port in service.get("ports") or []:
        target = port["target"] if isinstance(port, dict) else str(port).split(":")[-1].split("/")[0]
        ports.add(int(target))
    return ports


def settings_for(name: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`Settings()` as the container of service `name` builds it: only its environment, no KANS_ from this shell."""
    for var in [var for var in os.environ if var.startswith("KANS_")]:
        monkeypatch.delenv(var)
    for var, value in environment(SERVICES[name]).items():
        monkeypatch.setenv(var, value)
    return Settings()


def test_the_expected_services_are_built_from_the_repository() -> None:
    assert KANS_SERVICES == ["api", "dispatch", "inbound", "ingest", "live", "projections", "projections-2",
                             "provision", "writer"]  # fmt: skip
    assert {SERVICES[name].get("image") for name in KANS_SERVICES} == {"kans-platform:local"}, "one shared image"


def test_broker_and_clickhouse_run_on_official_images() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.1")
    assert "build" not in SERVICES["kafka"]
    assert SERVICES["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert "build" not in SERVICES["clickhouse"]
    tag = SERVICES["clickhouse"]["image"].split(":", 1)[1]
    assert re.fullmatch(r"\d+\.\d+(\.\d+)*", tag), f"pin a ClickHouse version, not {tag!r}"


def test_kafka_is_a_single_kraft_node_advertised_under_the_bootstrap_name(monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(SERVICES["kafka"])
    assert env["KAFKA_NODE_ID"] == "1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_LISTENERS"] == "CLIENT://:9092,CONTROLLER://:9093"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    protocols = set(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CONTROLLER:SASL_PLAINTEXT", "CLIENT:SASL_PLAINTEXT"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    for single_replica in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[single_replica] == "1", single_replica
    # The clients reach the broker at the address it advertises.
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].removeprefix("CLIENT://")
    for name in KANS_SERVICES:
        assert settings_for(name, monkeypatch).kafka_bootstrap == advertised == "kafka:9092", name
    # The data survive a restart: the log directory is a named volume.
    volumes = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["kafka"]["volumes"]}
    assert volumes[env["KAFKA_LOG_DIRS"]] in COMPOSE["volumes"]
    assert "kafka-broker-api-versions.sh" in " ".join(SERVICES["kafka"]["healthcheck"]["test"])


def broker_properties(env: dict[str, str]) -> dict[str, str]:
    """The server.properties the apache/kafka image renders from KAFKA_* variables (its KafkaDockerWrapper: strip
    KAFKA_, lower case, `_` -> `.`, `...` -> `-`, `..` -> `_`; JVM options are not properties)."""
    skip = {"KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
            "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS",
            "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME"}  # fmt: skip
    return {
        key.replace("KAFKA_", "").lower().replace("_", ".").replace("...", "-").replace("..", "_"): value
        for key, value in env.items() if key.startswith("KAFKA_") and key not in skip
    }  # fmt: skip


def interpolated(value: str) -> str:
    """A compose value with `${NAME:?message}` written as `<NAME>` (what compose puts there from .env)."""
    return re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", r"<\1>", value)


def test_the_broker_is_secured_like_the_local_one(tmp_path: Path) -> None:
    """The compose broker and the local one (`make up`, the tests) authenticate and authorize alike."""
    from kans.kafka_local import LocalKafka

    compose = {k: interpolated(v) for k, v in broker_properties(environment(SERVICES["kafka"])).items()}
    local_kafka = LocalKafka(Settings(data_dir=tmp_path, kafka_security_protocol="PLAINTEXT", kafka_username=""))
    passwords = local_kafka.credentials()
    local = dict(line.split("=", 1) for line in local_kafka.render_properties().splitlines()
                 if line and not line.startswith("#"))  # fmt: skip
    security = [key for key in local if key.startswith(("sasl.", "listener.", "authorizer.", "super.", "allow."))]
    assert len(security) >= 9 and "listener.security.protocol.map" in security
    for key in [*security, "inter.broker.listener.name", "controller.listener.names"]:
        expected = local[key].replace(passwords["admin"], "<ADMIN_KAFKA_PASSWORD>").replace(
            passwords["controller"], "<CONTROLLER_KAFKA_PASSWORD>")
        assert compose[key] == expected, key
    # At the first start the storage is formatted with the admin's SCRAM credential, then the image starts as usual.
    script = " ".join(SERVICES["kafka"]["command"])
    assert '--add-scram "SCRAM-SHA-256=[name=admin,password=$$SCRAM_ADMIN_PASSWORD]"' in script
    assert script.rstrip().endswith("exec /etc/kafka/docker/run")
    assert interpolated(environment(SERVICES["kafka"])["SCRAM_ADMIN_PASSWORD"]) == "<ADMIN_KAFKA_PASSWORD>"


def test_every_service_acts_as_its_own_principal(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.kafka_acls import PRINCIPALS, SERVICE_PRINCIPALS

    for name in KANS_SERVICES:
        settings = settings_for(name, monkeypatch)
        principal = "admin" if name == "provision" else SERVICE_PRINCIPALS[name.removesuffix("-2")]
        assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-256")
        assert settings.kafka_username == principal, name
        assert interpolated(settings.kafka_password.get_secret_value()) == f"<{principal.upper()}_KAFKA_PASSWORD>"
    # The one-shot creates every principal's SCRAM user: it is given their passwords, no service is.
    provision = environment(SERVICES["provision"])
    assert {interpolated(provision[f"{p.upper()}_KAFKA_PASSWORD"]) for p in PRINCIPALS if p != "admin"} == {
        f"<{p.upper()}_KAFKA_PASSWORD>" for p in PRINCIPALS if p != "admin"}  # fmt: skip
    for name in set(KANS_SERVICES) - {"provision"}:
        others = [v for v in environment(SERVICES[name]) if v.endswith("_KAFKA_PASSWORD") and not v.startswith("KANS_")]
        assert not others, name


def test_the_credentials_compose_reads_are_never_committed_nor_built_into_the_image() -> None:
    assert ".env" in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    tracked = subprocess.run(["git", "ls-files", ".env"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""


def test_clickhouse_credentials_and_database_match_the_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(SERVICES["clickhouse"])
    volumes = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["clickhouse"]["volumes"]}
    assert volumes["/var/lib/clickhouse"] in COMPOSE["volumes"]
    assert SERVICES["clickhouse"]["healthcheck"]["test"]
    for name in KANS_SERVICES:
        settings = settings_for(name, monkeypatch)
        dsn = urlparse(settings.clickhouse_url)
        assert (dsn.scheme, dsn.hostname, dsn.port) == ("http", "clickhouse", 8123), name
        assert (dsn.username, dsn.password) == (env["CLICKHOUSE_USER"], env["CLICKHOUSE_PASSWORD"]), name
        assert settings.clickhouse_database == env["CLICKHOUSE_DB"], name


@pytest.mark.parametrize("name", KANS_SERVICES)
def test_command_is_a_real_kans_subcommand(name: str) -> None:
    command = SERVICES[name]["command"]
    assert isinstance(command, list), "exec form, so `kans` is PID 1's child of init and gets the signals"
    assert command[0] == "kans"
    # Walk the CLI: every word names a subcommand and the last one runs something (not a group).
    cli = typer.main.get_command(app)
    for word in command[1:]:
        subcommands = getattr(cli, "commands", None)  # a group (typer vendors click: duck-typed)
        assert subcommands is not None, f"{command}: {cli.name} takes no subcommand {word!r}"
        assert word in subcommands, f"{command}: no subcommand {word!r}"
        cli = subcommands[word]
    assert getattr(cli, "commands", None) is None, f"{command} only names a group"
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", KANS_SERVICES)
def test_settings_resolve_for_the_containers(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(SERVICES[name])
    assert all(isinstance(value, str) for value in env.values()), "quote values: YAML would make true/8000 non-str"
    settings = settings_for(name, monkeypatch)
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.clickhouse_url.startswith("http://")
    assert settings.embedded_clickhouse is False
    assert settings.data_dir == Path("/data")
    hosts = (settings.ingest_host, settings.api_host, settings.projections_host, settings.inbound_host)
    assert hosts == ("0.0.0.0",) * 4
    if name == "api":
        assert settings.writer_in_api is False, "the writer is its own service with a ClickHouse server"
        assert settings.projections_base_url == "http://projections:6066"


def test_the_api_finds_the_projections_worker_where_it_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    url = urlparse(settings_for("api", monkeypatch).projections_base_url)
    assert url.hostname in SERVICES
    assert url.port == settings_for(url.hostname, monkeypatch).projections_port


@pytest.mark.parametrize("name", ["api", "ingest"])
def test_the_api_and_the_ingest_find_the_dispatch_worker(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = urlparse(settings_for(name, monkeypatch).dispatch_base_url)
    assert url.hostname == "dispatch" and url.hostname in SERVICES
    assert url.port == settings_for("dispatch", monkeypatch).dispatch_port


def test_every_kans_variable_is_known_to_settings() -> None:
    used = set(re.findall(r"\bKANS_[A-Z0-9_]+\b", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used, "the services are configured through KANS_ variables"
    assert used <= KANS_VARIABLES, f"unknown to kans/settings.py: {sorted(used - KANS_VARIABLES)}"


def test_published_ports_and_healthchecks_match_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    api, ingest = settings_for("api", monkeypatch), settings_for("ingest", monkeypatch)
    live = settings_for("live", monkeypatch)
    assert container_ports(SERVICES["api"]) == {api.api_port} == {8000}
    assert container_ports(SERVICES["ingest"]) == {ingest.ingest_port} == {8001}
    assert container_ports(SERVICES["live"]) == {live.live_port} == {8002}
    assert live.live_host == "0.0.0.0"
    # The API's dashboard, opened at the API's published address, reads the live process at its published address.
    assert api.live_public_url == f"http://127.0.0.1:{live.live_port}"
    assert f"http://127.0.0.1:{api.api_port}" in live.live_cors_origins.split(",")
    inbound = settings_for("inbound", monkeypatch)
    for name, port in (("api", api.api_port), ("ingest", ingest.ingest_port), ("projections", api.projections_port),
                       ("inbound", inbound.inbound_port), ("live", live.live_port)):  # fmt: skip
        probe = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/" in probe, name


def test_dependencies_exist_and_start_in_order() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
            assert condition in CONDITIONS, f"{name} -> {dependency}: {condition}"
            if condition == "service_healthy":
                assert SERVICES[dependency].get("healthcheck"), f"{name} waits for {dependency} to be healthy"
            if condition == "service_completed_successfully":
                assert SERVICES[dependency].get("restart", "no") == "no", f"{dependency} is a one-shot"
    assert SERVICES["provision"]["command"] == ["kans", "kafka", "provision"]
    assert depends_on(SERVICES["provision"]) == {"kafka": "service_healthy"}
    for name in LONG_RUNNING:
        deps = depends_on(SERVICES[name])
        assert deps["provision"] == "service_completed_successfully", name
        assert deps["kafka"] == "service_healthy", name
    for name in ("writer", "api"):
        assert depends_on(SERVICES[name])["clickhouse"] == "service_healthy", name


def test_dockerfile_installs_the_packages_and_runs_unprivileged() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    copied = {line.split()[1] for line in instructions if line.startswith("COPY")}
    assert {"pyproject.toml", "core", "kans", "schemas", "services"} <= copied
    assert all((REPO_ROOT / path).exists() for path in copied)
    ignored = set((REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert not copied & ignored, "the build context must contain what the Dockerfile copies"
    # A regular install: the services read nothing from a checkout (see the packaging test below).
    assert "pip install --no-cache-dir --no-deps ." in DOCKERFILE.read_text(encoding="utf-8")
    users = [line.split()[1] for line in instructions if line.startswith("USER")]
    assert users and users[-1] not in {"root", "0"}


def test_an_installed_package_carries_everything_the_services_read(tmp_path: Path) -> None:
    """Build the wheel the image installs and run the services' file lookups from it, outside the checkout."""
    source, wheels, site = tmp_path / "source", tmp_path / "wheels", tmp_path / "site"
    for name in ("core", "kans", "schemas", "services"):  # what the Dockerfile copies (a build writes into it)
        shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
                   check=True, cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("kans_platform-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, cwd=tmp_path)  # fmt: skip
    probe = (
        "import core.settings as s, services.warehouse.clickhouse as ch, services.ingest.spreadsheets.mapping as m\n"
        "from services.ingest.credentials import load_key_ring\n"
        "import services.api.main as api, services.api.routes.dashboard as dashboard, schemas.compat as compat\n"
        f"assert not str(s.__file__).startswith({str(REPO_ROOT)!r}), s.__file__\n"
        "assert [v for v, _ in ch.migration_files()][:7] == [1, 2, 3, 4, 5, 6, 7]\n"
        "assert load_key_ring(s.Settings().api_keys_file, production=False)\n"
        "assert sorted(p.stem for p in m.MAPPINGS_DIR.glob('*.yaml'))\n"
        "assert api.create_app and dashboard.DASHBOARD.is_file()\n"
        "import services.api.live_main as live\nassert live.create_live_app\n"
        "import services.dispatch.ruleset as rules\nassert rules.load_rule_set().version == 'dispatch-rules-v1'\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANS_")}
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{probe}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr


def test_every_service_that_seals_or_erases_shares_one_pupil_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingest and the inbound worker issue references and seal; the writer (and the ingest) destroy a key on
    erasure: one vault file on one volume, or a pupil would get two references and an erasure would miss a copy."""
    paths = {name: settings_for(name, monkeypatch).pupil_vault_path for name in ("ingest", "inbound", "writer")}
    assert set(paths.values()) == {Path("/data/vault/pupils.sqlite")}
    for name in paths:
        assert "pupil-vault:/data/vault" in SERVICES[name].get("volumes", []), name
    assert "pupil-vault" in COMPOSE["volumes"]
    assert all("pupil-vault:/data/vault" not in svc.get("volumes", []) for name, svc in SERVICES.items()
               if name not in paths)  # fmt: skip
    assert "mkdir -p /data/vault" in DOCKERFILE.read_text(encoding="utf-8")  # owned by the service user


def test_the_api_asks_both_projections_workers_each_on_its_own_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers split the partitions; the API merges only when every partition answered, so it must ask both."""
    for reader in ("api", "live"):
        asks = settings_for(reader, monkeypatch).projections_base_urls
        assert asks == ["http://projections:6066", "http://projections-2:6066"], reader
    for name in ("projections", "projections-2"):
        worker = settings_for(name, monkeypatch)
        assert (worker.projections_host, worker.projections_port) == ("0.0.0.0", 6066), name
        assert SERVICES[name]["command"] == ["kans", "serve", "projections"]
