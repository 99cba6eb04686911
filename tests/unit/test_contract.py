"""The event contract: validation names the field and the allowed values; derived fields; frozen events;
pseudonymisation at the boundary and the personal-data guard on identifiers and free text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from core.pupil_vault import PupilVault
from schemas.catalogue import STORED_AS
from schemas.envelope import EVENT_ID_NAMESPACE, event_id_bytes, event_id_for, school_year_of
from schemas.export import OUT, dumps, rendered
from schemas.privacy import (
    contains_email,
    contains_national_number,
    contains_phone,
    national_number_valid,
    person_name_in,
)
from schemas.pseudonym import normalise_pupil_id, pupil_key
from schemas.registry import EVENT_VERSIONS, SUBMISSION_ADAPTER, example_submission, parse_event, seal

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECRET = b"unit-test-pupil-key-secret"
NRN_1985 = "85.07.31-123.05"  # a well-formed national register number (checksum of a pre-2000 birth)
NRN_2005 = "05031234532"  # born in 2005: the check digits use the 2 prefix


def submit(data: dict) -> object:  # type: ignore[type-arg]
    return SUBMISSION_ADAPTER.validate_python(data)


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        ("2019-09-01T00:00:00+02:00", "2019-2020"),
        ("2020-08-31T23:59:00+02:00", "2019-2020"),
        # 22:30 UTC on 31 August is already 1 September in Brussels: the next school year.
        ("2020-08-31T22:30:00+00:00", "2020-2021"),
        ("2020-01-15T10:00:00+01:00", "2019-2020"),
    ],
)
def test_school_year_runs_september_to_august_in_brussels_time(moment: str, year: str) -> None:
    assert school_year_of(datetime.fromisoformat(moment)) == year


@pytest.mark.parametrize(("event_type", "version"), list(EVENT_VERSIONS), ids=lambda v: str(v))
def test_every_example_validates_seals_and_round_trips(event_type: str, version: int) -> None:
    vault = PupilVault(None)
    seal(submit(example_submission("ReferralSubmitted")), NOW, SECRET, vault)  # the example pupil is known
    submission = submit(example_submission(event_type, version))
    event = seal(submission, NOW, SECRET, vault)  # type: ignore[arg-type]
    assert (event.event_type, event.schema_version) == (event_type, STORED_AS.get((event_type, version), version))
    assert event.event_id == event_id_for("lars", f"lars:{event_type}:R-2025-0042")
    assert event.school_year == "2025-2026"
    parsed = parse_event(event.model_dump_json())
    assert parsed.event_type == event_type
    if version == parsed.schema_version:
        assert parsed == event


def test_unknown_code_names_field_and_allowed_values() -> None:
    data = example_submission("TrajectoryNotStarted")
    data["payload"]["reason"] = "bored"
    with pytest.raises(ValidationError) as info:
        submit(data)
    (error,) = info.value.errors()
    assert error["loc"][-2:] == ("payload", "reason")
    assert "pupil_unwilling" in error["msg"] and "provider_capacity" in error["msg"]


def test_unknown_fields_are_refused_so_no_personal_data_slips_in() -> None:
    data = example_submission("ReferralSubmitted")
    data["payload"]["pupil_name"] = "Jan Janssens"
    with pytest.raises(ValidationError) as info:
        submit(data)
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    assert info.value.errors()[0]["loc"][-1] == "pupil_name"


def test_v1_pupil_key_must_be_pseudonymous() -> None:
    data = example_submission("ReferralSubmitted", 1)
    data["payload"]["pupil_key"] = "85073112305"  # shaped like a national register number
    with pytest.raises(ValidationError) as info:
        submit(data)
    assert info.value.errors()[0]["loc"][-1] == "pupil_key"


def test_v2_submission_sends_pupil_id_and_never_a_pupil_key() -> None:
    data = example_submission("ReferralSubmitted")
    data["payload"]["pupil_key"] = "3f2a9c0d5b7e41a8b6c4d2e0f1a3b5c7"
    with pytest.raises(ValidationError) as info:
        submit(data)
    assert {e["loc"][-1] for e in info.value.errors()} == {"pupil_key"}


def test_sealing_replaces_the_pupil_id_by_its_keyed_hash_and_stores_no_identifier() -> None:
    data = example_submission("ReferralSubmitted")
    data["payload"]["pupil_id"] = NRN_1985
    vault = PupilVault(None)
    event = seal(submit(data), NOW, SECRET, vault)  # type: ignore[arg-type]
    stored = event.model_dump_json()
    key = pupil_key(SECRET, NRN_1985)
    assert event.payload.pupil_ref == vault.ref_of(key)  # type: ignore[attr-defined]
    assert vault.unseal(event.payload.pupil_ref, event.payload.pupil_key_sealed) == key  # type: ignore[attr-defined]
    assert "pupil_id" not in stored and "85073112305" not in stored and NRN_1985 not in stored and key not in stored
    assert "pupil_id" not in json.dumps(rendered()["ReferralSubmitted.v3.json"]["$defs"])


def test_the_same_pupil_from_two_systems_links_and_the_secret_matters() -> None:
    assert normalise_pupil_id(" 85.07.31-123.05 ") == normalise_pupil_id("85073112305") == "85073112305"
    assert pupil_key(SECRET, "lars-00042") == pupil_key(SECRET, "LARS 00042")
    assert pupil_key(SECRET, "lars-00042") != pupil_key(b"another-secret", "lars-00042")
    assert len(pupil_key(SECRET, "x")) == 64


def test_sealing_a_referral_without_the_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        seal(submit(example_submission("ReferralSubmitted")), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("85073112305", True), (NRN_2005, True), ("85073112306", False), ("05031234504", False), ("1234", False)],
)
def test_national_number_check_digits_before_and_after_2000(digits: str, valid: bool) -> None:
    assert national_number_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (NRN_1985, True), ("rijksregister 85073112305 gekend", True), ("05.03.12-345.32", True),
        ("85.07.31-123.06", False), ("R-2025-0042", False), ("lars:ReferralSubmitted:R-2025-0042", False),
    ],
)  # fmt: skip
def test_national_number_detection(text: str, found: bool) -> None:
    assert contains_national_number(text) is found


def test_email_and_phone_detection() -> None:
    assert contains_email("mail jan.peeters@school.be")
    assert not contains_email("clb:kans@desk")
    for phone in ("0471 12 34 56", "02/123.45.67", "+32 471 12 34 56", "0032471123456"):
        assert contains_phone(phone), phone
    for text in ("2019-2020", "06/01/2026", "14 halve dagen", "R-0042-1234-56"):
        assert not contains_phone(text), text
    assert contains_phone("lars:0471123456", whole_segments=True)
    assert not contains_phone("R-0042-1234-56", whole_segments=True)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("gesprek met Jan Janssens gepland", "Jan Janssens"), ("J. Peeters volgt op", "J. Peeters"),
        ("broer Ahmed el Amrani", "Ahmed el Amrani"), ("PEETERS Jan", "PEETERS Jan"),
        ("volgt lessen Arabisch", None), ("Andere hulp via CGG en OCJ", None), ("woont in Neder-Over-Heembeek", None),
    ],
)  # fmt: skip
def test_person_name_heuristic(text: str, name: str | None) -> None:
    assert person_name_in(text) == name


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("payload", "referral_id"), "85073112305"),
        (("payload", "school_id"), "0471123456"),
        (("payload", "referrer_id"), "85.07.31-123.05"),
        (("actor",), "clb:jan.peeters@clb.be"),
        (("source_ref",), "lars:jan.peeters@clb.be"),
        (("payload", "other_specification"), "besproken met Jan Janssens"),
        (("payload", "other_specification"), "bel moeder 0471 12 34 56"),
    ],
)
def test_identifiers_and_free_text_refuse_personal_data_naming_the_field(path: tuple[str, ...], value: str) -> None:
    data = example_submission("ReferralSubmitted")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        submit(data)
    (error,) = info.value.errors()
    assert error["type"] == "personal_data" and error["loc"][-1] == path[-1]
    assert path[-1] in error["msg"]


def test_free_text_without_personal_data_is_kept() -> None:
    data = example_submission("AdviceGiven")
    data["payload"].update(kind="other", other_specification="Advies: eerst logopedie in Anderlecht")
    assert submit(data).payload.other_specification == "Advies: eerst logopedie in Anderlecht"  # type: ignore[attr-defined]


def test_offset_less_time_is_refused() -> None:
    data = example_submission("TrajectoryStarted")
    data["occurred_at"] = "2025-10-06T09:30:00"
    with pytest.raises(ValidationError) as info:
        submit(data)
    assert info.value.errors()[0]["loc"][-1] == "occurred_at"


def test_events_are_frozen() -> None:
    event = seal(submit(example_submission("TrajectoryClosed")), NOW)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        event.actor = "desk:someone-else"  # type: ignore[misc]


def test_stored_event_with_inconsistent_derived_fields_is_rejected() -> None:
    event = seal(submit(example_submission("TrajectoryClosed")), NOW)  # type: ignore[arg-type]
    tampered = json.loads(event.model_dump_json())
    tampered["school_year"] = "2024-2025"
    with pytest.raises(ValidationError, match="school_year"):
        parse_event(json.dumps(tampered))


def test_exported_json_schemas_match_the_models() -> None:
    """Fails when a model changes without `kans schemas export` (the checked-in contract would drift)."""
    expected = rendered()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in OUT.glob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    for name, schema in expected.items():
        assert on_disk[name] == dumps(schema), f"{name} drifted: run `kans schemas export`"


def test_code_lists_are_exported_as_enums() -> None:
    schema = rendered()["TrajectoryClosed.v1.submission.json"]
    perspective = schema["$defs"]["TrajectoryClosedPayload"]["properties"]["perspective"]
    assert "youth_care" in perspective["enum"] and perspective["x-codelist"] == "perspective"


def test_the_group_reasons_the_report_names_are_codes_with_their_dutch_labels() -> None:
    """Report 2019-2020: "In één situatie vroeg de titularis nog even af te wachten" (not started); "stopgezet
    omwille van de te zware klasproblematiek" and "eerder in te zetten op de individuele begeleiding van een aantal
    leerlingen" (stopped early). Each is a code a source can send, and R57's rows say it in Dutch."""
    from services.warehouse.statistics.labels import LabelContext, dimension_label

    cases = [("GroupTrajectoryNotStarted", "not_started", "school_asked_to_wait", "School (titularis) vroeg af te "
              "wachten"), ("GroupTrajectoryStoppedEarly", "stopped_early", "class_problems_too_heavy",
              "Te zware klasproblematiek (vechtpartijen, politie, geen vat op de groep)"),
             ("GroupTrajectoryStoppedEarly", "stopped_early", "individual_support_instead",
              "Individuele begeleiding van leerlingen in de plaats")]  # fmt: skip
    for event_type, status, reason, dutch in cases:
        data = example_submission(event_type)
        data["payload"] = {**data["payload"], "reason": reason}
        assert SUBMISSION_ADAPTER.validate_python(data).payload.reason == reason  # type: ignore[attr-defined]
        assert dimension_label("reason", reason, {"status": status}, LabelContext()) == dutch
    refused = example_submission("GroupTrajectoryNotStarted")
    refused["payload"] = {**refused["payload"], "reason": "teacher_on_holiday"}
    with pytest.raises(ValidationError, match="school_asked_to_wait"):
        SUBMISSION_ADAPTER.validate_python(refused)


@pytest.mark.parametrize(("source_system", "source_ref"), [
    ("lars", "lars:ReferralSubmitted:R-2025-0042"), ("desk", "x"), ("clb_form", "é/ü:ß-€"), ("lars", "~" * 200),
])  # fmt: skip
def test_the_event_id_is_the_uuid5_of_its_source_record(source_system: str, source_ref: str) -> None:
    """event_id_for builds the UUID from its bytes (a third of the cost of reading an event): it must stay uuid5."""
    expected = uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_system}\x1f{source_ref}")
    assert event_id_for(source_system, source_ref) == expected
    assert event_id_bytes(source_system, source_ref) == expected.bytes
    assert expected.version == 5 and expected.variant == uuid.RFC_4122


def test_an_event_whose_id_is_not_derived_from_its_source_record_is_refused() -> None:
    submission = SUBMISSION_ADAPTER.validate_python(example_submission("ReferralSubmitted"))
    sealed = seal(submission, datetime(2025, 10, 1, tzinfo=UTC), b"k" * 32, PupilVault(None))
    event = json.loads(sealed.model_dump_json())
    assert parse_event(json.dumps(event).encode()).event_id == uuid.UUID(event["event_id"])
    other = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{event['source_system']}\x1f{event['source_ref']}-other"))
    with pytest.raises(ValidationError, match="event_id is not derived"):
        parse_event(json.dumps({**event, "event_id": other}).encode())
