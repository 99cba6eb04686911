"""The test suite's own Kafka broker and data directory, apart from the ones `make up` uses (`.kans/`, 9092/9093).

Decided here, once per session, before anything reads `Settings`: `tests/conftest.py` claims a slot and exports its
`KANS_*` settings, so `pytest tests/...` and `kans test` run alike. A slot is a data directory `.kans-test/<n>/`
(wiped when claimed, removed when the session ends) with broker port 19092 + 2n and controller port 19093 + 2n,
held by a file lock for the life of the session: sessions running at the same time never share a broker.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from core.settings import Settings
from kans.kafka_credentials import principal_env
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT

TEST_DATA_ROOT = REPO_ROOT / ".kans-test"
FIRST_BROKER_PORT = 19092
SLOTS = 8
# `make up`'s data directory (the default, relative to the checkout where make runs).
DEFAULT_DATA_DIR = REPO_ROOT / Settings.model_fields["data_dir"].default
# What the tests name their own things (kans.processes.isolated_settings): topic prefixes and databases.
TEST_TRACE = re.compile(r"^(t[0-9a-f]{10}\.|test_[0-9a-f]{10})")


@dataclass(frozen=True)
class SuiteBroker:
    slot: int
    lock: IO[str]

    @property
    def data_dir(self) -> Path:
        return TEST_DATA_ROOT / str(self.slot)

    @property
    def broker_port(self) -> int:
        return FIRST_BROKER_PORT + 2 * self.slot

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, kafka_bootstrap=f"127.0.0.1:{self.broker_port}",
                        kafka_broker_port=self.broker_port, kafka_controller_port=self.broker_port + 1)  # fmt: skip

    @property
    def environment(self) -> dict[str, str]:
        """The settings every test, fixture and child process of the session resolves. The broker is secured like
        `make up`'s: the tests act as admin, each service process the platform starts as its own principal
        (kans/processes.py), with the passwords generated into the slot (`credentials.env`)."""
        s = self.settings()
        admin = self.kafka().client_settings()
        return {"KANS_DATA_DIR": str(s.data_dir), "KANS_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
                "KANS_KAFKA_BROKER_PORT": str(s.kafka_broker_port),
                "KANS_KAFKA_CONTROLLER_PORT": str(s.kafka_controller_port),
                **principal_env(admin), "KANS_KAFKA_CREDENTIALS_FILE": str(self.kafka().credentials_file)}  # fmt: skip

    def kafka(self) -> LocalKafka:
        return LocalKafka(self.settings())

    def wipe(self) -> None:
        """Stop a broker left by a session that was killed, and forget its data."""
        self.kafka().stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def release(self) -> None:
        self.wipe()
        (TEST_DATA_ROOT / f"{self.slot}.lock").unlink(missing_ok=True)
        self.lock.close()
        with contextlib.suppress(OSError):
            TEST_DATA_ROOT.rmdir()  # only when no other session holds a slot


# The ports are the machine's, not the checkout's: a session of another clone holds its slot's ports with a lock here.
PORT_LOCKS = Path(tempfile.gettempdir()) / "kans-test-ports"
_port_locks: dict[int, IO[str]] = {}


def ports_taken(slot: int) -> bool:
    """Lock the slot's ports for this process (held until it ends); True when another session or process has them."""
    PORT_LOCKS.mkdir(exist_ok=True)
    lock = (PORT_LOCKS / f"{slot}.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return True
    port = FIRST_BROKER_PORT + 2 * slot
    for candidate in (port, port + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                lock.close()
                return True
    _port_locks[slot] = lock
    return False


def claim() -> SuiteBroker:
    """The first free slot, locked until `release` (or until this process ends, however it ends)."""
    TEST_DATA_ROOT.mkdir(exist_ok=True)
    for slot in range(SLOTS):
        path = TEST_DATA_ROOT / f"{slot}.lock"
        lock = path.open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if not path.exists() or path.stat().st_ino != os.fstat(lock.fileno()).st_ino:
            lock.close()  # the session that held it removed the file meanwhile: this lock guards nothing
            continue
        broker = SuiteBroker(slot, lock)
        broker.wipe()
        if ports_taken(slot):  # by another checkout's session, or anything else on this machine
            lock.close()
            continue
        return broker
    raise RuntimeError(f"all {SLOTS} test broker slots under {TEST_DATA_ROOT} are held by running test sessions")


def traces_of_tests(data_dir: Path = DEFAULT_DATA_DIR) -> set[str]:
    """What of the tests' own naming lies in a data directory: topic partitions in its broker's log directory,
    databases in its embedded ClickHouse (a partition being deleted is renamed, not written)."""
    places = [data_dir / "kafka" / "data", data_dir / "clickhouse" / "metadata", data_dir / "clickhouse" / "data"]
    return {f"{place.relative_to(data_dir)}/{entry.name}" for place in places if place.is_dir()
            for entry in place.iterdir()
            if TEST_TRACE.match(entry.name) and not entry.name.endswith("-delete")}  # fmt: skip
