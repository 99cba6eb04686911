"""The audit trail end to end (services as processes, real broker and chDB): a desk's read of a pupil's history is
one record, a CLB's refused read of another CLB's referral is one too, both in Kafka `kans.audit.v1` and, through
the audit writer, in ClickHouse, where only the desk may read them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from core.auth import Role, development_headers
from core.topics import audit_topic
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import referral
from tests.kafka_helpers import read_topics

U = uuid.uuid4().hex[:6]
CLB_A, CLB_B = f"clb-a-{U}", f"clb-b-{U}"
READ, PROBED = f"RAUD1-{U}", f"RAUD2-{U}"


def trail(platform: Platform, **params: str) -> list[dict[str, Any]]:
    response = platform.api.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["records"]  # type: ignore[no-any-return]


def test_reads_and_refusals_are_recorded_once_each_and_only_the_desk_reads_them(platform: Platform) -> None:
    settings = platform.settings
    platform.post(referral(READ, referrer_id=CLB_A), referral(PROBED, referrer_id=CLB_A))
    for referral_id in (READ, PROBED):  # stored (these polls are audited too: `since` leaves them out below)
        def stored(url: str = f"/v1/referrals/{referral_id}/events") -> bool:
            return platform.api.get(url).status_code == 200

        wait_for(stored, timeout_s=60, what=f"{referral_id} stored")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    time.sleep(1.5)
    desk = httpx.get(f"{settings.api_base_url}/v1/referrals/{READ}/events", timeout=30,
                     headers={**development_headers(settings), "X-Access-Reason": "complaint 2025-17"})  # fmt: skip
    clb_b = development_headers(settings, Role.clb, [CLB_B])
    refused = httpx.get(f"{settings.api_base_url}/v1/referrals/{PROBED}/events", headers=clb_b, timeout=30)
    assert (desk.status_code, refused.status_code) == (200, 404)

    wait_for(lambda: trail(platform, referral_id=READ, since=since), timeout_s=30, what="the desk's read recorded")
    wait_for(lambda: trail(platform, referral_id=PROBED, since=since), timeout_s=30, what="the refusal recorded")
    time.sleep(3)  # nothing more comes: exactly one each
    (read,) = trail(platform, referral_id=READ, since=since)
    (probe,) = trail(platform, referral_id=PROBED, since=since)
    assert (read["subject"], read["role"], read["status"], read["outcome"], read["reason"]) == (
        "dev-desk", "desk", 200, "served", "complaint 2025-17")
    assert read["route"] == "/v1/referrals/{referral_id}/events"
    assert (probe["subject"], probe["role"], probe["scope"], probe["status"], probe["outcome"]) == (
        f"dev-clb-{CLB_B}", "clb", [CLB_B], 404, "refused")
    assert trail(platform, subject=f"dev-clb-{CLB_B}") == [probe]

    # The same two records are in the append-only topic the table is fed from.
    ids = {read["audit_id"], probe["audit_id"]}
    on_topic = [json.loads(r.value) for r in read_topics(settings, [audit_topic(settings)], timeout_s=30)]
    assert sorted(r["audit_id"] for r in on_topic if r["audit_id"] in ids) == sorted(ids)

    # Only the desk reads the trail.
    for role, scope in ((Role.clb, [CLB_A]), (Role.policy, []), (Role.provider, ["p"])):
        asked = httpx.get(f"{settings.api_base_url}/v1/audit", headers=development_headers(settings, role, scope))
        assert asked.status_code == 403, (role, asked.text)
