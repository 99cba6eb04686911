"""Generated Kafka credentials: one random password per principal (and the controller listener's), kept in an env
file of mode 0600, never committed, and handed to each process as its own principal's only.

The local broker generates `<data_dir>/kafka/credentials.env` at its first start (`kans/kafka_local.py`);
`kans kafka credentials --out FILE` writes one for docker compose. One line per principal:
`INGEST_KAFKA_PASSWORD=...` (the names compose interpolates). A tool run by hand (`kans topics create`, ...) acts as
`admin` and `kans serve <service>` as its service's principal, from that file, unless KANS_KAFKA_USERNAME is set.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.kafka_acls import ADMIN, PRINCIPALS
from core.settings import Settings

CONTROLLER = "controller"  # the controller listener's own user (SASL PLAIN, the broker's JAAS), not a SCRAM user
SECURITY_VARIABLES = ("KANS_KAFKA_SECURITY_PROTOCOL", "KANS_KAFKA_SASL_MECHANISM", "KANS_KAFKA_USERNAME",
                      "KANS_KAFKA_PASSWORD")  # fmt: skip
HEADER = """\
# Kafka credentials, generated: never commit this file (mode 0600). One SCRAM password per principal; a process acts
# as one of them (KANS_KAFKA_USERNAME=<principal>, KANS_KAFKA_PASSWORD=<its password>). CONTROLLER is the broker's
# own controller listener (SASL PLAIN). See README, "Broker security".
"""


def variable(principal: str) -> str:
    """The env-file name of a principal's password: `INGEST_KAFKA_PASSWORD`."""
    return f"{principal.upper()}_KAFKA_PASSWORD"


def local_credentials_file(settings: Settings) -> Path:
    """Where the local broker of these settings keeps its generated credentials."""
    return settings.data_dir / "kafka" / "credentials.env"


def parse(text: str) -> dict[str, str]:
    """Passwords by principal, from env-file lines `NAME_KAFKA_PASSWORD=value` (other lines are ignored)."""
    passwords = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#") and name.endswith("_KAFKA_PASSWORD"):
            passwords[name.removesuffix("_KAFKA_PASSWORD").lower()] = value.strip().strip("'\"")
    return passwords


def read(path: Path) -> dict[str, str]:
    return parse(path.read_text(encoding="utf-8"))


def generate(path: Path) -> dict[str, str]:
    """The passwords in `path`, after adding a random one for every principal (and the controller) it lacks; the
    file is written only by its owner's hand or this function, readable by its owner only."""
    passwords = read(path) if path.exists() else {}
    missing = [name for name in (*PRINCIPALS, CONTROLLER) if not passwords.get(name)]
    if not missing:
        return passwords
    passwords.update({name: secrets.token_urlsafe(24) for name in missing})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(HEADER + "".join(f"{variable(name)}={passwords[name]}\n" for name in passwords))
    partial.replace(path)
    return passwords


def as_principal(settings: Settings, principal: str, passwords: Mapping[str, str]) -> Settings:
    """`settings` acting as `principal` over SASL (SCRAM)."""
    return settings.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_username": principal,
                                       "kafka_password": SecretStr(passwords[principal])})  # fmt: skip


def principal_env(settings: Settings, principal: str | None = None) -> dict[str, str]:
    """The environment that makes a child process connect like `settings`, as `principal` when given (its password
    from `settings.kafka_credentials_file`), else as `settings`' own principal."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {"KANS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    username, password = settings.kafka_username, settings.kafka_password.get_secret_value()
    if principal is not None and settings.kafka_credentials_file is not None:
        username, password = principal, read(settings.kafka_credentials_file)[principal]
    return dict(zip(SECURITY_VARIABLES, (settings.kafka_security_protocol, settings.kafka_sasl_mechanism, username,
                                         password), strict=True))  # fmt: skip


def credentials_file_of(environ: Mapping[str, str]) -> Path:
    """The credentials file a tool uses: KANS_KAFKA_CREDENTIALS_FILE, else the local broker's of KANS_DATA_DIR."""
    if named := environ.get("KANS_KAFKA_CREDENTIALS_FILE"):
        return Path(named).expanduser().resolve()
    data_dir = Path(environ.get("KANS_DATA_DIR") or Settings.model_fields["data_dir"].default)
    return data_dir.expanduser().resolve() / "kafka" / "credentials.env"


def act_as(principal: str, environ: MutableMapping[str, str] = os.environ) -> bool:
    """Before a process reads its settings: unless KANS_KAFKA_USERNAME is set, put `principal`'s credentials from
    the credentials file (when there is one) into `environ`. True when it did."""
    if environ.get("KANS_KAFKA_USERNAME"):
        return False
    path = credentials_file_of(environ)
    if not path.exists():
        return False
    environ.update({
        "KANS_KAFKA_SECURITY_PROTOCOL": environ.get("KANS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        "KANS_KAFKA_USERNAME": principal,
        "KANS_KAFKA_PASSWORD": read(path)[principal],
        "KANS_KAFKA_CREDENTIALS_FILE": str(path),
    })  # fmt: skip
    return True


def tool_settings(settings: Settings) -> Settings:
    """A tool's settings: as given when they name a principal, else `admin` from the credentials file if any."""
    if settings.kafka_username:
        return settings
    path = settings.kafka_credentials_file or local_credentials_file(settings)
    if not path.exists():
        return settings
    return as_principal(settings, ADMIN, read(path)).model_copy(update={"kafka_credentials_file": path})


def security_of(settings: Settings) -> dict[str, Any]:
    """The connection fields of `settings`, to give another `Settings` (e.g. `isolated_settings(..., **them)`)."""
    return {name: getattr(settings, name) for name in ("kafka_security_protocol", "kafka_sasl_mechanism",
                                                         "kafka_username", "kafka_password", "kafka_credentials_file")}
