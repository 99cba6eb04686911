"""The generator sends the pupil's home address with its referrals (ReferralSubmitted v4), so the demo shows R06
counting addresses: a pupil referred again keeps the address, a few siblings share one, a referral without a
residence sends none; every submission is valid against the contract and seals to a household key."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from schemas.registry import SUBMISSION_ADAPTER, seal
from tests.factories import TEST_PUPIL_SECRET, TEST_VAULT


def test_referrals_send_addresses_shared_by_one_pupils_referrals_and_by_some_siblings() -> None:
    referrals = [s for s in generate(GeneratorParams(years=year_range("2019-2020"), seed=7))
                 if s["event_type"] == "ReferralSubmitted"]  # fmt: skip
    assert referrals and all(s["schema_version"] == 4 for s in referrals)
    with_postcode = [s for s in referrals if s["payload"].get("residence_postcode")]
    assert all(s["payload"]["household_address"]["postcode"] == s["payload"]["residence_postcode"]
               for s in with_postcode)  # fmt: skip
    assert all("household_address" not in s["payload"] for s in referrals if s not in with_postcode)
    homes = Counter(tuple(sorted(s["payload"]["household_address"].items(), key=str)) for s in with_postcode)
    pupils_per_home: dict[tuple[object, ...], set[str]] = {}
    for s in with_postcode:
        home = tuple(sorted(s["payload"]["household_address"].items(), key=str))
        pupils_per_home.setdefault(home, set()).add(s["payload"]["pupil_id"])
    assert len(homes) < len(with_postcode)  # fewer addresses than referrals, as the report's Table 2
    assert any(len(pupils) > 1 for pupils in pupils_per_home.values())  # siblings under one roof
    sealed = seal(SUBMISSION_ADAPTER.validate_python(with_postcode[0]), datetime.now(UTC), TEST_PUPIL_SECRET,
                  TEST_VAULT)  # fmt: skip
    assert sealed.payload.household_key is not None  # type: ignore[attr-defined]
    assert "household_address" not in sealed.model_dump_json()
