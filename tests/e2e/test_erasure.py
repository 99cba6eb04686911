"""Erasure of a pupil end to end (services as processes, real broker and chDB, the vault file they share): after the
desk's PupilErased nothing links the pupil's events back to the pupil, in Kafka, in the vault, or through any API,
while the pupil still counts in the statistics."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import httpx

from core.auth import Role, development_headers
from core.pupil_vault import PupilVault
from core.topics import events_topic
from schemas.pseudonym import pupil_key
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import dispatch, referral
from tests.kafka_helpers import read_topics

U = uuid.uuid4().hex[:6]
CLB = f"clb-erase-{U}"
PUPIL, OTHER = f"LARS-ERASE-{U}", f"LARS-KEEP-{U}"
R1, R2, R3, R4 = (f"RER{n}-{U}" for n in range(1, 5))
YEAR = "2025-2026"


def erasure(pupil_id: str, ref: str, system: str = "desk") -> dict[str, Any]:
    return {"event_type": "PupilErased", "schema_version": 1, "occurred_at": "2026-01-05T10:00:00+01:00",
            "source_system": system, "source_ref": ref, "actor": "desk:dpo",
            "payload": {"pupil_id": pupil_id, "reason": "request_of_pupil_or_parents"}}  # fmt: skip


def history(platform: Platform, referral_id: str) -> int:
    return platform.api.get(f"/v1/referrals/{referral_id}/events").status_code


def pupils_and_referrals(platform: Platform) -> tuple[int, int]:
    question = {"measures": ["referrals", "pupils"], "dimensions": ["referrer_id"], "years": [YEAR]}
    answer = platform.api.post("/v1/query", json=question)
    assert answer.status_code == 200, answer.text
    row = next(r for r in answer.json()["rows"] if r["referrer_id"] == CLB)
    return row["pupils"], row["referrals"]


def records_of(platform: Platform, *referral_ids: str) -> list[Any]:
    topic = events_topic(platform.settings)
    return [r for r in read_topics(platform.settings, [topic], timeout_s=30) if r.key.decode() in referral_ids]


def test_an_erased_pupil_still_counts_but_nothing_links_back_to_it(platform: Platform) -> None:
    settings = platform.settings
    secret = settings.pupil_key_secret.get_secret_value().encode()
    key, other_key = pupil_key(secret, PUPIL), pupil_key(secret, OTHER)
    platform.post(
        referral(R1, referrer_id=CLB, pupil_id=PUPIL),
        referral(R2, "2026-01-05T09:00:00+01:00", referrer_id=CLB, pupil_id=PUPIL),  # referred again
        referral(R3, referrer_id=CLB, pupil_id=OTHER),
        dispatch(R1, f"T-{R1}", "abrusco"),
    )
    for rid in (R1, R2, R3):
        wait_for(lambda rid=rid: history(platform, rid) == 200, timeout_s=60, what=f"{rid} stored")
    assert pupils_and_referrals(platform) == (2, 3)

    # Before: the log has the pupil's reference and its sealed key, never the key or the identifier.
    vault = PupilVault(settings.pupil_vault_path)  # the file the ingest and the API share
    ref = vault.ref_of(key)
    assert ref is not None and ref != vault.ref_of(other_key)
    submitted = {r.key.decode(): r for r in records_of(platform, R1, R2) if b'"ReferralSubmitted"' in r.value}
    sealed = {rid: r.value for rid, r in submitted.items()}
    assert set(sealed) == {R1, R2}
    for value in sealed.values():
        assert ref.encode() in value and key.encode() not in value and PUPIL.encode() not in value
    payload = platform.api.get(f"/v1/referrals/{R1}/events").json()["events"][0]["payload"]
    assert payload["pupil_ref"] == ref and vault.unseal(ref, payload["pupil_key_sealed"]) == key
    with sqlite3.connect(settings.pupil_vault_path) as db:
        (data_key,) = db.execute("SELECT data_key FROM pupils WHERE pupil_ref = ?", (ref,)).fetchone()

    # Only the desk erases: a source system's key, a CLB's token are refused, and nothing is destroyed.
    lars = httpx.post(f"{settings.ingest_base_url}/v1/events", json=erasure(PUPIL, f"erase-lars-{U}", "lars"),
                      headers={"X-API-Key": "kans-dev-lars"}, timeout=30)  # fmt: skip
    clb = httpx.post(f"{settings.ingest_base_url}/v1/events", json=erasure(PUPIL, f"erase-clb-{U}", "lars"),
                     headers=development_headers(settings, Role.clb, [CLB]), timeout=30)  # fmt: skip
    assert (lars.status_code, clb.status_code) == (403, 403), (lars.text, clb.text)
    assert lars.json()["errors"][0]["type"] == "desk_only"
    assert vault.ref_of(key) == ref

    desk = httpx.post(f"{settings.ingest_base_url}/v1/events", json=erasure(PUPIL, f"erase-{U}"),
                      headers=development_headers(settings), timeout=30)  # fmt: skip
    assert desk.status_code == 202, desk.text

    # The vault: no row, no key, the data key gone from its files; the sealed key opens no more.
    assert vault.ref_of(key) is None and vault.is_erased(ref)
    assert vault.unseal(ref, payload["pupil_key_sealed"]) is None
    for path in (settings.pupil_vault_path, settings.pupil_vault_path.with_name("pupils.sqlite-wal")):
        if path.exists():
            stored = path.read_bytes()
            assert data_key not in stored and key.encode() not in stored, path

    # Kafka: the erasure names only the reference; no record holds the key or the identifier.
    erased = [r for r in read_topics(settings, [events_topic(settings)], timeout_s=30) if r.key.decode() == ref]
    assert len(erased) == 1 and b'"PupilErased"' in erased[0].value
    assert key.encode() not in erased[0].value and PUPIL.encode() not in erased[0].value

    # The APIs: the erased pupil's referrals are gone for every reader; the other pupil's stay; the counts stay.
    wait_for(lambda: history(platform, R1) == 410, timeout_s=60, what="R1's history refused after the erasure")
    assert (history(platform, R1), history(platform, R2), history(platform, R3)) == (410, 410, 200)
    clb_reads = httpx.get(f"{settings.api_base_url}/v1/referrals/{R1}/events", timeout=30,
                          headers=development_headers(settings, Role.clb, [CLB]))  # fmt: skip
    assert clb_reads.status_code == 410
    assert pupils_and_referrals(platform) == (2, 3)

    # Erasing again finds nobody: 422 naming the field, nothing published.
    again = httpx.post(f"{settings.ingest_base_url}/v1/events", json=erasure(PUPIL, f"erase-again-{U}"),
                       headers=development_headers(settings), timeout=30)  # fmt: skip
    assert again.status_code == 422, again.text
    (error,) = again.json()["errors"]
    assert error["field"] == "body.payload.pupil_id" and "no pupil with this pupil_id is known" in error["message"]
    assert PUPIL not in again.text

    # The same identifier referred later is a new pupil to the log: a new reference, readable history.
    platform.post(referral(R4, "2026-02-02T09:00:00+01:00", referrer_id=CLB, pupil_id=PUPIL))
    wait_for(lambda: history(platform, R4) == 200, timeout_s=60, what=f"{R4} stored")
    new_ref = vault.ref_of(key)
    assert new_ref is not None and new_ref != ref
    assert platform.api.get(f"/v1/referrals/{R4}/events").json()["events"][0]["payload"]["pupil_ref"] == new_ref
    assert pupils_and_referrals(platform) == (3, 4)
    vault.close()
