"""The pupil key vault (core/pupil_vault.py) on a real SQLite file: references, sealing, crypto-shredding."""

from __future__ import annotations

import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.pupil_vault import PupilVault
from schemas.pseudonym import pupil_key

SECRET = b"unit-test-pupil-key-secret"
A, B = pupil_key(SECRET, "LARS-A"), pupil_key(SECRET, "LARS-B")


def test_a_pupil_has_one_random_reference_and_a_deterministic_seal(tmp_path: Path) -> None:
    vault = PupilVault(tmp_path / "v" / "pupils.sqlite")
    ref_a, sealed_a = vault.seal_pupil(A)
    assert vault.seal_pupil(A) == (ref_a, sealed_a)  # a resubmitted referral is byte for byte the same event
    ref_b, sealed_b = vault.seal_pupil(B)
    assert len({ref_a, ref_b}) == 2 and len(ref_a) == 32 and ref_a not in A and A not in sealed_a
    assert (vault.unseal(ref_a, sealed_a), vault.unseal(ref_b, sealed_b)) == (A, B)
    assert vault.unseal(ref_b, sealed_a) is None  # a sealed key copied onto another pupil's reference opens nothing
    assert vault.ref_of(A) == ref_a and vault.ref_of(pupil_key(SECRET, "LARS-C")) is None
    assert len(vault) == 2  # ref_of never issues one
    assert stat.S_IMODE((tmp_path / "v" / "pupils.sqlite").stat().st_mode) == 0o600


def test_a_batch_of_new_pupils_is_issued_in_one_write_and_known_ones_keep_theirs(tmp_path: Path) -> None:
    vault = PupilVault(tmp_path / "pupils.sqlite")
    ref_a, _ = vault.seal_pupil(A)
    keys = [pupil_key(SECRET, f"LARS-{n}") for n in range(50)]
    vault.issue([A, *keys, *keys])
    assert len(vault) == 51 and vault.ref_of(A) == ref_a
    assert len({vault.seal_pupil(k)[0] for k in keys}) == 50 and len(vault) == 51


def test_two_processes_sharing_the_file_issue_one_reference_per_pupil(tmp_path: Path) -> None:
    path = tmp_path / "pupils.sqlite"
    one, two = PupilVault(path), PupilVault(path)
    with ThreadPoolExecutor(8) as pool:
        refs = set(pool.map(lambda i: (one if i % 2 else two).seal_pupil(A)[0], range(40)))
    assert len(refs) == 1 and two.ref_of(A) == one.ref_of(A) == refs.pop()


def test_erasure_destroys_the_key_in_every_file_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "pupils.sqlite"
    vault = PupilVault(path)
    ref_a, sealed_a = vault.seal_pupil(A)
    ref_b, sealed_b = vault.seal_pupil(B)
    with sqlite3.connect(path) as db:
        (data_key,) = db.execute("SELECT data_key FROM pupils WHERE pupil_ref = ?", (ref_a,)).fetchone()
    assert data_key in path.read_bytes() + _wal(path)  # where it was before

    assert vault.erase(ref_a) is True and vault.erase(ref_a) is False
    assert vault.unseal(ref_a, sealed_a) is None and vault.ref_of(A) is None and vault.is_erased(ref_a)
    assert vault.unseal(ref_b, sealed_b) == B and not vault.is_erased(ref_b)  # the others untouched
    leftovers = path.read_bytes() + _wal(path)
    assert data_key not in leftovers and A.encode() not in leftovers and ref_b.encode() in leftovers
    assert vault.erased_refs() == {ref_a}
    # The identifier referred again is a new pupil to the log.
    assert vault.seal_pupil(A)[0] not in (ref_a, ref_b)


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
