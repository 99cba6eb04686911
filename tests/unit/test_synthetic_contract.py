"""Every generated submission passes the event contract, seals into a valid stored event, and is within the scope
of the development key the demo uses (source system `demo`, acting as the desk), ownership included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.settings import DEV_API_KEYS_FILE
from kans.synthetic.generator import generate
from kans.synthetic.output import DEMO_API_KEY
from kans.synthetic.params import GeneratorParams, year_range
from schemas.registry import SUBMISSION_LIST_ADAPTER, seal
from services.ingest.credentials import authenticate, load_key_ring, scope_violations
from services.ingest.ownership import KnownOwners, judge
from tests.factories import TEST_PUPIL_SECRET, TEST_VAULT


@pytest.fixture(scope="module")
def decade() -> list[dict[str, Any]]:
    return list(generate(GeneratorParams(years=year_range("2017-2018..2026-2027"), seed=8, scale=0.8)))


def test_every_generated_submission_passes_the_contract_and_seals(decade: list[dict[str, Any]]) -> None:
    submissions = SUBMISSION_LIST_ADAPTER.validate_python(decade)
    now = datetime.now(UTC)
    sealed = [seal(s, now, TEST_PUPIL_SECRET, TEST_VAULT) for s in submissions]
    assert len(sealed) == len(decade) > 15_000
    keys = {e.payload.pupil_ref for e in sealed if e.event_type == "ReferralSubmitted"}  # type: ignore[attr-defined]
    pupils = {s["payload"]["pupil_id"] for s in decade if s["event_type"] == "ReferralSubmitted"}
    assert len(keys) == len(pupils), "one pupil id, one reference"


def test_the_demo_key_may_submit_everything_the_generator_makes(decade: list[dict[str, Any]]) -> None:
    key = authenticate(load_key_ring(DEV_API_KEYS_FILE), DEMO_API_KEY)
    submissions = SUBMISSION_LIST_ADAPTER.validate_python(decade)
    assert {s.source_system for s in submissions} == {"demo"}
    assert scope_violations(key, submissions) == []
    assert judge(key, submissions, KnownOwners()) == []  # it acts as the desk: every referral, trajectory, provider
    assert key.ref_namespace is None  # the demo's refs (and so its event ids) are the source system's own
