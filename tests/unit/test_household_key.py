"""The household key (issue 14, rule 3): referrals from one address share a pseudonymous key derived at sealing, the
address itself never reaches the stored event, and older versions read as version 4 without one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.pupil_vault import PupilVault
from core.settings import Settings
from schemas.households import HouseholdAddress, household_key, normalise_address
from schemas.pseudonym import pupil_key
from schemas.referrals_v3 import upcast_referral_submitted_v3_to_v4
from schemas.registry import SUBMISSION_ADAPTER, example_submission, parse_event, seal
from services.ingest.routes import events
from tests.factories import referral as factory_referral
from tests.unit.ingest_fakes import FakePublisher, fake_ingest
from tests.unit.test_ingest_routes import client_for

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECRET = b"unit-test-pupil-key-secret"


def address(**fields: Any) -> HouseholdAddress:
    return HouseholdAddress(**{"street": "Rue de l'Église", "house_number": "12", "box": "3", "postcode": "1080",
                               **fields})  # fmt: skip


def referral(household: dict[str, Any] | None, pupil: str = "LARS-000123", **profile: Any) -> Any:
    data = example_submission("ReferralSubmitted")
    data["payload"].update(pupil_id=pupil, household_address=household, **profile)
    return SUBMISSION_ADAPTER.validate_python(data)


def test_the_same_address_written_otherwise_is_the_same_household_a_flat_or_a_street_elsewhere_is_not() -> None:
    same = household_key(SECRET, address())
    assert household_key(SECRET, address(street="  rue de l eglise ", box=" 3")) == same
    assert household_key(SECRET, address(street="RUE DE L'EGLISE")) == same
    assert normalise_address(address()) == "1080|ruedeleglise|12|3"
    assert household_key(SECRET, address(box="4")) != same  # another flat of the building
    assert household_key(SECRET, address(postcode="1070")) != same
    assert household_key(b"another-secret", address()) != same  # without the secret it cannot be recomputed
    assert len(same) == 64 and same != pupil_key(SECRET, normalise_address(address()))
    with pytest.raises(ValueError, match="secret"):
        household_key(b"", address())


def test_two_pupils_of_one_address_share_the_key_and_no_part_of_the_address_is_stored() -> None:
    vault = PupilVault(None)
    home = {"street": "Rue de la Loi", "house_number": "16", "box": None, "postcode": "1080"}
    first = seal(referral(home), NOW, SECRET, vault)
    sibling = seal(referral({**home, "street": "rue de la loi"}, pupil="LARS-000124"), NOW, SECRET, vault)
    assert first.schema_version == 4
    assert first.payload.household_key == sibling.payload.household_key  # type: ignore[attr-defined]
    assert first.payload.pupil_ref != sibling.payload.pupil_ref  # type: ignore[attr-defined]
    stored = first.model_dump_json()
    assert "household_address" not in stored and "Loi" not in stored and '"16"' not in stored
    assert parse_event(stored).payload.household_key == first.payload.household_key  # type: ignore[attr-defined]
    without = seal(referral(None), NOW, SECRET, vault)
    assert without.payload.household_key is None  # type: ignore[attr-defined]


def test_an_address_outside_the_residence_postcode_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"household_address\.postcode must equal residence_postcode") as err:
        referral({"street": "Rue de la Loi", "house_number": "16", "postcode": "1000"}, residence_postcode="1080")
    assert "Rue de la Loi" not in str(err.value.errors(include_input=False))
    with pytest.raises(ValidationError, match="house_number"):
        referral({"street": "Rue de la Loi", "house_number": "sixteen", "postcode": "1080"})


def test_version_3_submissions_and_stored_events_read_as_version_4_without_a_household() -> None:
    vault = PupilVault(None)
    v3 = seal(SUBMISSION_ADAPTER.validate_python(example_submission("ReferralSubmitted", 3)), NOW, SECRET, vault)
    assert v3.schema_version == 4 and v3.payload.household_key is None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):  # version 3 has no address field
        data = example_submission("ReferralSubmitted", 3)
        data["payload"]["household_address"] = {"street": "x", "house_number": "1", "postcode": "1080"}
        SUBMISSION_ADAPTER.validate_python(data)
    stored = json.loads(v3.model_dump_json())
    stored["schema_version"] = 3
    del stored["payload"]["household_key"]
    event = parse_event(json.dumps(stored))
    assert event.schema_version == 4 and event.payload.household_key is None  # type: ignore[attr-defined]
    assert upcast_referral_submitted_v3_to_v4({"referral_id": "R-1"}) == {"referral_id": "R-1", "household_key": None}


# --- through the ingest's REST route (in-memory publisher) -----------------------------------------------------------
def _v4(rid: str, home: dict[str, Any], **profile: Any) -> dict[str, Any]:
    data = factory_referral(rid, household_address=home, **profile)
    return {**data, "schema_version": 4}


def test_the_ingest_publishes_the_key_not_the_address_and_answers_a_misplaced_address_with_a_422() -> None:
    publisher = FakePublisher()
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as client:
        home = {"street": "Rue de la Loi", "house_number": "16", "postcode": "1080"}
        assert client.post("/v1/events", json=_v4("R-H1", home, residence_postcode="1080")).status_code == 202
        assert client.post("/v1/events", json=_v4("R-H2", home)).status_code == 202  # a sibling, no residence given
        first, sibling = (e.payload for e in publisher.events)
        assert first.household_key == sibling.household_key and first.household_key is not None  # type: ignore[attr-defined]
        assert all("Loi" not in e.model_dump_json() for e in publisher.events)
        response = client.post("/v1/events", json=_v4("R-H3", home, residence_postcode="1000"))
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert "household_address.postcode must equal residence_postcode (1000)" in error["message"]
        assert "Loi" not in response.text
        bad = client.post("/v1/events", json=_v4("R-H4", {**home, "house_number": "zestien"}))
        assert bad.status_code == 422 and "household_address.house_number" in bad.text and "zestien" not in bad.text
        assert len(publisher.events) == 2
