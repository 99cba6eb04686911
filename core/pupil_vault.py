"""The pupil key vault: what makes erasure possible in an immutable log (crypto-shredding).

For each pupil the vault holds one row: the pupil key (the HMAC of the pupil's identifier, `schemas.pseudonym`),
a random **reference** (`pupil_ref`, what the log and the warehouse link the pupil's referrals by) and a random
256-bit **data key**. A sealed referral carries the reference and its pupil key encrypted with the data key
(AES-256-GCM, the reference as associated data). Erasing a pupil deletes its row: the reference then leads nowhere,
the sealed key can never be opened again, and the pupil's identifier no longer finds anything (a referral of the
same identifier later gets a new reference). The vault keeps the erased references (random, nothing else) so that
routes can refuse them.

Storage: SQLite in WAL mode (one file, shared by the processes that seal or erase on one host, each with its own
connection; writes serialise on SQLite's lock). `secure_delete` overwrites a deleted row's bytes, and a checkpoint
after each erasure empties the write-ahead log, so the destroyed key is not left in free pages. In production the
same interface can sit in front of a KMS; what the log holds does not change.

Sealing is deterministic for a pupil (the nonce is derived from the data key): the same pupil sealed twice gives the
same text, so a resubmitted referral is byte-for-byte the event it was. Equal texts reveal only what the reference
already says (same pupil).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pupils (
    pupil_key  TEXT PRIMARY KEY,
    pupil_ref  TEXT NOT NULL UNIQUE,
    data_key   BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erased (
    pupil_ref TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);
"""
_NONCE_LABEL = b"kans-pupil-key-nonce-v1"
_SEAL_PREFIX = "v1."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_with(data_key: bytes, pupil_ref: str, pupil_key: str) -> str:
    """The pupil key encrypted with the pupil's data key (deterministic nonce, the reference bound as associated
    data: a sealed key copied onto another pupil's reference does not open)."""
    nonce = hmac.new(data_key, _NONCE_LABEL, hashlib.sha256).digest()[:12]
    return _SEAL_PREFIX + _b64(AESGCM(data_key).encrypt(nonce, pupil_key.encode("ascii"), pupil_ref.encode("ascii")))


def open_with(data_key: bytes, pupil_ref: str, sealed: str) -> str | None:
    if not sealed.startswith(_SEAL_PREFIX):
        return None
    nonce = hmac.new(data_key, _NONCE_LABEL, hashlib.sha256).digest()[:12]
    try:
        plain = AESGCM(data_key).decrypt(nonce, _unb64(sealed[len(_SEAL_PREFIX):]), pupil_ref.encode("ascii"))
    except (InvalidTag, ValueError):
        return None
    return plain.decode("ascii")


class PupilVault:
    """The vault on one SQLite file (created on first use). Thread-safe; one connection per instance."""

    def __init__(self, path: Path | None) -> None:
        """The vault in the file `path` (created, readable by its owner only); None: in memory, for tests and
        benchmarks that write straight to the log (its references are lost with the process)."""
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            ":memory:" if path is None else path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if path is not None:
            os.chmod(path, 0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def seal_pupil(self, pupil_key: str) -> tuple[str, str]:
        """(reference, sealed pupil key) of this pupil; a new reference and data key on its first sealing."""
        with self._lock:
            row = self._db.execute(
                "SELECT pupil_ref, data_key FROM pupils WHERE pupil_key = ?", (pupil_key,)
            ).fetchone()
            if row is None:
                ref, key = secrets.token_hex(16), AESGCM.generate_key(bit_length=256)
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "INSERT OR IGNORE INTO pupils (pupil_key, pupil_ref, data_key, created_at) VALUES (?, ?, ?, ?)",
                        (pupil_key, ref, key, datetime.now(UTC).isoformat()),
                    )
                    # Another process may have issued one first: the row in the file is the pupil's.
                    row = self._db.execute(
                        "SELECT pupil_ref, data_key FROM pupils WHERE pupil_key = ?", (pupil_key,)
                    ).fetchone()
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        ref, key = row
        return ref, seal_with(key, ref, pupil_key)

    def issue(self, pupil_keys: Iterable[str]) -> None:
        """Issue references and data keys to the pupils among these that have none, in one transaction (a batch of
        referrals costs one write, not one per new pupil); `seal_pupil` then finds them."""
        rows = [(key, secrets.token_hex(16), AESGCM.generate_key(bit_length=256), datetime.now(UTC).isoformat())
                for key in set(pupil_keys)]  # fmt: skip
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO pupils (pupil_key, pupil_ref, data_key, created_at) VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def ref_of(self, pupil_key: str) -> str | None:
        """The reference of a known pupil; None when the pupil was never sealed or is erased."""
        with self._lock:
            row = self._db.execute("SELECT pupil_ref FROM pupils WHERE pupil_key = ?", (pupil_key,)).fetchone()
        return None if row is None else str(row[0])

    def unseal(self, pupil_ref: str, sealed: str) -> str | None:
        """The pupil key in a sealed text; None once the pupil is erased (or when the text is not this pupil's)."""
        with self._lock:
            row = self._db.execute("SELECT data_key FROM pupils WHERE pupil_ref = ?", (pupil_ref,)).fetchone()
        return None if row is None else open_with(row[0], pupil_ref, sealed)

    def erase(self, pupil_ref: str) -> bool:
        """Destroy the pupil's data key and its link to the pupil key. Idempotent; True when a row was destroyed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.execute("DELETE FROM pupils WHERE pupil_ref = ?", (pupil_ref,)).rowcount
                self._db.execute("INSERT OR IGNORE INTO erased (pupil_ref, erased_at) VALUES (?, ?)",
                                 (pupil_ref, datetime.now(UTC).isoformat()))  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            # The deleted row's pages were zeroed (secure_delete); the log's copy goes with the checkpoint. Another
            # process reading at this moment can hold the log back: the next erasure's checkpoint completes it.
            if self.path is not None:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return gone > 0

    def is_erased(self, pupil_ref: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM erased WHERE pupil_ref = ?", (pupil_ref,)).fetchone() is not None

    def erased_refs(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT pupil_ref FROM erased")}

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pupils").fetchone()[0])


__all__ = ["PupilVault", "open_with", "seal_with"]
