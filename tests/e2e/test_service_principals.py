"""Each service process of the platform acts on the broker as its own principal (kans/processes.py gives it that
principal's password only), as `make up`'s processes do (`kans serve` takes it from the broker's credentials file)."""

from __future__ import annotations

from pathlib import Path

from core.kafka_acls import SERVICE_PRINCIPALS
from kans.kafka_credentials import read
from tests.platform import Platform


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_every_service_process_has_its_own_principal_and_no_other_password(platform: Platform) -> None:
    settings = platform.settings
    assert settings.kafka_credentials_file is not None
    passwords = read(settings.kafka_credentials_file)
    assert set(platform.procs) >= {"ingest", "projections", "api"}
    for name, proc in platform.procs.items():
        env = environment_of(proc.pid)
        principal = SERVICE_PRINCIPALS[name]
        assert env["KANS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert (env["KANS_KAFKA_USERNAME"], env["KANS_KAFKA_PASSWORD"]) == (principal, passwords[principal]), name
        others = {password for who, password in passwords.items() if who != principal}
        assert not others & set(env.values()), f"{name} holds another principal's password"
        assert "KANS_KAFKA_CREDENTIALS_FILE" not in env, f"{name} must not find every password"
