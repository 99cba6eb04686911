"""The event catalogue: every registration of DOMAIN §2-§7 as a frozen, versioned event with the right stream key;
upcasting on read; the domain rules the payloads enforce; code lists as data; the AsyncAPI document."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from core.pupil_vault import PupilVault
from schemas.catalogue import EVENT_TYPES, EVENT_VERSIONS, LATEST_VERSION
from schemas.codelists import allowed, label, load_codelists, municipality_for_postcode
from schemas.envelope import event_id_for
from schemas.projections import LOAD_CHANGE_KINDS
from schemas.pseudonym import pupil_key
from schemas.referral_profile import ReferralProfile
from schemas.referrals import ReferralAmendedPayload, ReferralSubmittedPayload, amended
from schemas.referrals_v1 import V1_MISSING_PROFILE, ReferralSubmittedV1
from schemas.referrals_v2 import ReferralSubmittedV2Payload
from schemas.registry import SUBMISSION_ADAPTER, example_submission, parse_event, seal

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECRET = b"unit-test-pupil-key-secret"
VAULT = PupilVault(None)
STREAM_KEYS = {"Referral": "referral_id", "Advice": "referral_id", "RoundTable": "referral_id",
               "Trajectory": "referral_id", "Group": "group_referral_id", "Provider": "provider_id",
               "Module": "provider_id", "Dispatch": "referral_id", "WaitingList": "referral_id",
               "Pupil": "pupil_ref"}  # fmt: skip
REGISTRATIONS = {
    "ReferralSubmitted", "ReferralAmended", "ReferralWithdrawn", "AdviceGiven", "RoundTableScheduled", "RoundTableHeld",
    "RoundTableCancelled", "DispatchProposed", "DispatchBlocked", "WaitingListJoined", "WaitingListLeft",
    "TrajectoryDispatched", "TrajectoryStarted", "TrajectoryNotStarted",
    "TrajectoryProgressReported", "TrajectoryStoppedEarly", "TrajectoryClosed", "TrajectoryCarriedOver",
    "GroupReferralSubmitted", "GroupTrajectoryDispatched", "GroupTrajectoryStarted", "GroupTrajectoryNotStarted",
    "GroupTrajectoryStoppedEarly", "GroupTrajectoryCompleted", "ProviderRegistered", "ModuleOffered", "ModuleWithdrawn",
    "ProviderCapacitySet", "ProviderMinimumAgeSet", "ProviderAcceptingReferralsSet", "ProviderReachabilitySet",
    "ProviderTravelRegionSet", "ProviderCoachSettingSet", "ProviderCoronaCoachingReported",
    "PupilErased",
}  # fmt: skip


def submit(event_type: str, version: int | None = None, occurred_at: str | None = None, **payload: Any) -> Any:
    data = example_submission(event_type, version)
    data["payload"].update(payload)
    if occurred_at:
        data["occurred_at"] = occurred_at
    return SUBMISSION_ADAPTER.validate_python(data)


def refused(event_type: str, match: str, **kwargs: Any) -> None:
    with pytest.raises(ValidationError, match=match):
        submit(event_type, **kwargs)


# -- the catalogue -------------------------------------------------------------------------------------------------
def test_every_registration_of_the_domain_is_an_event_type() -> None:
    assert set(EVENT_TYPES) == REGISTRATIONS
    assert LATEST_VERSION["ReferralSubmitted"] == 4
    assert {("ReferralSubmitted", 1), ("ReferralSubmitted", 2), ("ReferralSubmitted", 3)} <= set(EVENT_VERSIONS)


@pytest.mark.parametrize(("event_type", "version"), list(EVENT_VERSIONS), ids=str)
def test_events_are_frozen_versioned_past_tense_and_keyed_by_their_entity(event_type: str, version: int) -> None:
    cls = EVENT_VERSIONS[(event_type, version)]
    payload = cls.model_fields["payload"].annotation
    assert cls.model_config["frozen"] and cls.model_config["extra"] == "forbid"
    assert payload.model_config["frozen"] and payload.model_config["extra"] == "forbid"  # type: ignore[union-attr]
    # The verb is past tense, optionally followed by one adverb (StoppedEarly, CarriedOver).
    past_tense = r"(ed|Set|Held|Given|Withdrawn|Left)([A-Z][a-z]+)?$"
    assert re.search(past_tense, event_type), f"{event_type} is not past tense"
    prefix = next(p for p in STREAM_KEYS if event_type.startswith(p))
    assert payload.stream_field == STREAM_KEYS[prefix]  # type: ignore[union-attr]
    assert cls.__doc__ and payload.__doc__, "docstrings become the OpenAPI and JSON Schema text"


def test_a_submission_without_schema_version_is_version_1_and_version_2_must_say_so() -> None:
    data = example_submission("ReferralSubmitted", 1)
    del data["schema_version"]
    assert SUBMISSION_ADAPTER.validate_python(data).schema_version == 1
    v2 = example_submission("ReferralSubmitted")
    del v2["schema_version"]
    with pytest.raises(ValidationError):  # read as version 1: pupil_id and the profile are unknown fields there
        SUBMISSION_ADAPTER.validate_python(v2)
    with pytest.raises(ValidationError, match="Input should be 1"):
        SUBMISSION_ADAPTER.validate_python({**example_submission("TrajectoryStarted"), "schema_version": 7})


# -- versions and upcasting ----------------------------------------------------------------------------------------
def test_version_1_is_stored_as_sent_and_read_as_version_4_with_explicit_unknowns() -> None:
    stored = seal(submit("ReferralSubmitted", 1), NOW)
    assert isinstance(stored, ReferralSubmittedV1)
    raw = stored.model_dump_json()
    assert json.loads(raw)["schema_version"] == 1
    event = parse_event(raw)
    assert event.schema_version == 4 and event.event_id == stored.event_id
    payload = event.payload
    assert isinstance(payload, ReferralSubmittedPayload)
    # The source's own key is the reference of a v1 event; nothing of it is sealed.
    assert (payload.pupil_ref, payload.pupil_key_sealed, payload.household_key) == (
        stored.payload.pupil_key,
        None,
        None,
    )
    assert payload.gender == "girl"
    assert (payload.education_form, payload.school_delay, payload.discipline) == ("unknown", "unknown", "unknown")
    assert payload.risk_behaviours is None and payload.absence_b_half_days is None


def test_the_upcaster_states_every_field_version_2_added() -> None:
    v1_fields = set(ReferralSubmittedV1.model_fields["payload"].annotation.model_fields)  # type: ignore[union-attr]
    v2_fields = set(ReferralSubmittedV2Payload.model_fields)
    assert set(V1_MISSING_PROFILE) == v2_fields - v1_fields


def test_a_version_2_submission_is_stored_as_version_4_with_its_pupil_key_sealed() -> None:
    vault = PupilVault(None)
    stored = seal(submit("ReferralSubmitted", 2), NOW, SECRET, vault)
    raw = json.loads(stored.model_dump_json())
    key = pupil_key(SECRET, "LARS-000123")
    assert raw["schema_version"] == 4 and "pupil_key" not in raw["payload"] and key not in stored.model_dump_json()
    assert raw["payload"]["household_key"] is None  # a version-2 submission sends no address
    assert raw["payload"]["pupil_ref"] == vault.ref_of(key)
    assert vault.unseal(raw["payload"]["pupil_ref"], raw["payload"]["pupil_key_sealed"]) == key
    again = seal(submit("ReferralSubmitted", 3), NOW, SECRET, vault)  # the same pupil: the same reference and text
    assert again.payload.model_dump() == stored.payload.model_dump()
    with pytest.raises(ValueError, match="vault"):
        seal(submit("ReferralSubmitted"), NOW, SECRET)


def test_a_stored_version_2_event_reads_as_version_4_with_its_key_as_reference() -> None:
    v2 = example_submission("ReferralSubmitted", 2)
    payload = {k: v for k, v in v2["payload"].items() if k != "pupil_id"}
    event_id = str(event_id_for(v2["source_system"], v2["source_ref"]))
    stored = {**v2, "payload": {**payload, "pupil_key": "ab" * 32}, "event_id": event_id,
              "recorded_at": "2025-10-06T09:00:00+00:00", "stream_id": payload["referral_id"],
              "school_year": "2025-2026"}  # fmt: skip
    event = parse_event(json.dumps(stored))
    assert event.schema_version == 4
    assert (event.payload.pupil_ref, event.payload.pupil_key_sealed) == ("ab" * 32, None)  # type: ignore[attr-defined]
    assert event.payload.household_key is None  # type: ignore[attr-defined]


def test_an_invalid_stored_v1_event_is_refused_not_upcast() -> None:
    stored = json.loads(seal(submit("ReferralSubmitted", 1), NOW).model_dump_json())
    stored["payload"]["gender"] = "alien"
    with pytest.raises(ValidationError, match="gender"):
        parse_event(json.dumps(stored))


@pytest.mark.parametrize(
    ("reason", "kind"),
    [("entered_in_error", "retracted"), ("duplicate_referral", "retracted"), ("no_longer_needed", "withdrawn"),
     ("pupil_unwilling", "withdrawn"), ("parents_unwilling", "withdrawn"), ("other_help_started", "withdrawn"),
     ("moved", "withdrawn"), ("other", "withdrawn")],
)  # fmt: skip
def test_a_version_1_withdrawal_is_read_as_what_its_reason_meant(reason: str, kind: str) -> None:
    """Version 1 said only why: a registration error is a retraction, every other reason the referral's outcome."""
    stored = seal(submit("ReferralWithdrawn", 1, reason=reason), NOW)
    assert json.loads(stored.model_dump_json())["schema_version"] == 1  # stored as sent
    event = parse_event(stored.model_dump_json())
    assert event.schema_version == 2 and event.event_id == stored.event_id
    assert (event.payload.kind, event.payload.reason) == (kind, reason)  # type: ignore[attr-defined]


def test_a_withdrawal_states_its_kind_and_a_reason_that_fits_it() -> None:
    assert submit("ReferralWithdrawn", kind="withdrawn", reason="redirected_youth_care_gate").schema_version == 2
    assert submit("ReferralWithdrawn", kind="retracted", reason="entered_in_error").payload.kind == "retracted"
    refused("ReferralWithdrawn", "reason 'entered_in_error' does not fit kind withdrawn; allowed values: .*clb",
            kind="withdrawn", reason="entered_in_error")  # fmt: skip
    refused("ReferralWithdrawn", "allowed values: entered_in_error, duplicate_referral, other", kind="retracted",
            reason="no_place_available")  # fmt: skip
    refused("ReferralWithdrawn", "'gone' is not a withdrawal_kind code; allowed values: withdrawn, retracted",
            kind="gone")  # fmt: skip
    v2 = example_submission("ReferralWithdrawn")
    del v2["schema_version"]
    with pytest.raises(ValidationError, match="kind"):  # read as version 1, where kind is an unknown field
        SUBMISSION_ADAPTER.validate_python(v2)


# -- the referral profile ------------------------------------------------------------------------------------------
def test_the_full_profile_is_stored_and_missing_fields_are_explicitly_unknown() -> None:
    full = seal(submit("ReferralSubmitted"), NOW, SECRET, VAULT).payload
    assert full.residence_municipality == "molenbeek_saint_jean"  # type: ignore[attr-defined]  # derived from 1080
    minimal = {k: v for k, v in example_submission("ReferralSubmitted")["payload"].items()
               if k in ("referral_id", "pupil_id", "channel", "referrer_id", "offer_type", "level", "gender",
                        "birth_year", "birth_month")}  # fmt: skip
    data = {**example_submission("ReferralSubmitted"), "payload": minimal}
    stored = json.loads(seal(SUBMISSION_ADAPTER.validate_python(data), NOW, SECRET, VAULT).model_dump_json())["payload"]
    assert set(stored) == set(ReferralSubmittedPayload.model_fields)
    assert stored["home_language"] == "unknown" and stored["support_network"] is None


@pytest.mark.parametrize(
    ("postcode", "municipality"),
    [("1020", "brussels_city"), ("1120", "brussels_city"), ("1130", "brussels_city"), ("1210", "saint_josse_ten_noode"),
     ("1500", "outside_brussels"), ("9000", "outside_brussels"), ("1299", None), ("0999", None)],
)  # fmt: skip
def test_municipality_from_postcode(postcode: str, municipality: str | None) -> None:
    assert municipality_for_postcode(postcode) == municipality


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"residence_postcode": "1299"}, "1000, 1020"),  # the error lists the Brussels postcodes
        ({"residence_postcode": "1080", "residence_municipality": "jette"}, "does not match postcode"),
        ({"level": "primary", "education_form": "secondary_aso"}, "not a primary education form"),
        ({"buso_type": "type_3"}, "secondary_special_needs"),
        ({"level": "primary", "education_form": "primary_special_needs", "grade": "not_applicable"},
         "secondary referrals only"),
        ({"home_language": "french"}, "home_language=other"),
        ({"risk_behaviours": ["truancy", "truancy"]}, "only once"),
        ({"primary_schools_attended": -1}, "greater than or equal"),
    ],
)  # fmt: skip
def test_profile_rules(changes: dict[str, Any], match: str) -> None:
    refused("ReferralSubmitted", match, **changes)


def test_an_amendment_changes_only_the_fields_it_lists_and_keeps_explicit_nulls() -> None:
    original = seal(submit("ReferralSubmitted"), NOW, SECRET, VAULT).payload
    event = seal(submit("ReferralAmended", changes={"residence_postcode": "1120", "support_network": None}), NOW)
    raw = json.loads(event.model_dump_json())["payload"]["changes"]
    assert raw == {"residence_postcode": "1120", "residence_municipality": "brussels_city", "support_network": None}
    assert parse_event(event.model_dump_json()) == event
    current = amended(original, event.payload)  # type: ignore[arg-type]
    assert (current.residence_municipality, current.support_network, current.school_delay) == (
        "brussels_city", None, "one_year",
    )  # fmt: skip
    assert current.pupil_ref == original.pupil_ref  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "match"),
    [({}, "at least one"), ({"level": None}, "level cannot be null"), ({"pupil_ref": "ab" * 16}, "Extra inputs")],
)
def test_amendment_rules(changes: dict[str, Any], match: str) -> None:
    refused("ReferralAmended", match, changes=changes)


def test_an_amendment_that_breaks_the_profile_as_a_whole_is_refused_when_applied() -> None:
    original = seal(submit("ReferralSubmitted"), NOW, SECRET, VAULT).payload
    change = ReferralAmendedPayload.model_validate({"referral_id": "R-2025-0042", "changes": {"level": "primary"}})
    with pytest.raises(ValidationError, match="education form"):
        amended(original, change)  # type: ignore[arg-type]


# -- triage, trajectories, groups, providers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event_type", "payload", "match"),
    [
        ("RoundTableHeld", {"outcomes": ["trajectories_to_start", "decision_not_to_start"]}, "exclude each other"),
        ("RoundTableHeld", {"outcomes": []}, "at least 1"),
        ("RoundTableCancelled", {"reason": "weather"}, "corona_crisis"),
        ("TrajectoryProgressReported", {"half_days_per_week": None, "class_hours": None, "duration_bucket": None},
         "progress report gives"),
        ("TrajectoryCarriedOver", {"previous_trajectory_id": "T-2025-0042-1"}, "new trajectory_id"),
        ("TrajectoryCarriedOver", {"to_school_year": "2027-2028"}, "to_school_year"),
        ("GroupReferralSubmitted", {"groups": []}, "at least 1"),
        ("ProviderAcceptingReferralsSet", {"valid_until": "2026-01-01"}, "before valid_from"),
        ("ProviderCapacitySet", {"valid_from": "1999-12-31"}, "after 2000"),
        ("ProviderRegistered", {"name": "info@groep-intro.be"}, "e-mail"),
    ],
)  # fmt: skip
def test_payload_rules(event_type: str, payload: dict[str, Any], match: str) -> None:
    refused(event_type, match, **payload)


def test_group_rules() -> None:
    group = example_submission("GroupReferralSubmitted")["payload"]["groups"][0]
    refused(
        "GroupReferralSubmitted",
        "at least 2 pupils",
        groups=[{**group, "group_kind": "restorative_group", "pupil_count": 1, "class_action_theme": None}],
    )
    refused(
        "GroupReferralSubmitted",
        "only for requested_module class_action",
        groups=[{**group, "requested_module": "theme_workshop"}],
    )
    refused("GroupReferralSubmitted", "unique", groups=[group, group])


@pytest.mark.parametrize(
    ("occurred_at", "for_school_year", "stored"),
    [
        ("2026-05-20T10:00:00+02:00", "2026-2027", "2026-2027"),  # May: a request for next year belongs to it
        ("2026-08-31T10:00:00+02:00", "2026-2027", "2026-2027"),
        ("2026-06-10T10:00:00+02:00", "2025-2026", "2025-2026"),  # June, for this year (e.g. restorative)
        ("2026-06-10T10:00:00+02:00", None, "2025-2026"),  # left out: the year of occurred_at
        ("2026-04-30T10:00:00+02:00", "2026-2027", None),  # April: too early for next year
        ("2025-10-06T10:00:00+02:00", "2024-2025", None),
    ],
)
def test_group_referral_school_year(occurred_at: str, for_school_year: str | None, stored: str | None) -> None:
    if stored is None:
        refused("GroupReferralSubmitted", "for_school_year", occurred_at=occurred_at, for_school_year=for_school_year)
        return
    event = seal(submit("GroupReferralSubmitted", occurred_at=occurred_at, for_school_year=for_school_year), NOW)
    assert event.payload.for_school_year == stored  # type: ignore[attr-defined]
    assert event.school_year == "2025-2026"  # the envelope's year stays derived from occurred_at
    assert parse_event(event.model_dump_json()) == event


# -- code lists ----------------------------------------------------------------------------------------------------
def test_code_lists_named_by_the_domain_exist_with_dutch_labels() -> None:
    lists = load_codelists()
    for name in ("education_form", "bubao_type", "buso_type", "buso_training_form", "grade", "risk_behaviour",
                 "school_situation", "care_service", "residential_setting", "discipline", "home_language",
                 "advice_kind", "round_table_outcome", "round_table_cancel_reason", "withdraw_reason", "group_kind",
                 "group_module", "class_action_theme", "duration_bucket", "school_location", "municipality",
                 "brussels_postcode", "not_started_reason", "early_stop_reason", "perspective"):  # fmt: skip
        assert lists[name], name
        assert all(re.fullmatch(r"[a-z0-9_]+", code) for code in lists[name]), name
    assert allowed("buso_training_form") == ["ov1", "ov2", "ov3", "ov4"]
    assert label("brussels_postcode", "1120") == "Neder-Over-Heembeek"
    communes = [c for c in allowed("municipality") if c not in ("outside_brussels", "unknown")]
    assert len(communes) == 19
    assert {municipality_for_postcode(p) for p in allowed("brussels_postcode")} == set(communes)


def test_every_code_field_refers_to_an_existing_list() -> None:
    schemas = json.dumps([cls.model_json_schema() for cls in EVENT_VERSIONS.values()])
    used = set(re.findall(r'"x-codelist": "([a-z_]+)"', schemas))
    assert used <= set(load_codelists()) and "care_service" in used


def test_education_forms_start_with_their_level() -> None:
    levels = tuple(f"{level}_" for level in allowed("level"))
    assert all(form == "unknown" or form.startswith(levels) for form in allowed("education_form"))
    assert ReferralProfile.model_fields["education_form"].default == "unknown"


# -- the AsyncAPI document -----------------------------------------------------------------------------------------
def test_asyncapi_describes_every_event_type_and_version_on_its_topics() -> None:
    doc = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith(("3.", "2.6"))
    addresses = {channel["address"]: channel for channel in doc["channels"].values()}
    assert {"kans.events.v1", "kans.ingest.source-refs.v1", "kans.inbound.v1", "kans.inbound.dlq.v1"} <= set(addresses)
    messages = doc["components"]["messages"]
    for event_type, version in EVENT_VERSIONS:
        for channel, suffix in (("kans.events.v1", ""), ("kans.inbound.v1", ".submission")):
            wanted = f"../schemas/jsonschema/{event_type}.v{version}{suffix}.json"
            refs = [messages[ref["$ref"].rsplit("/", 1)[1]] for ref in addresses[channel]["messages"].values()]
            assert wanted in [m["payload"]["schema"]["$ref"] for m in refs], f"{wanted} missing on {channel}"
    for message in messages.values():
        ref = message["payload"].get("schema", {}).get("$ref")
        assert ref is None or (REPO / "docs" / ref).resolve().is_file(), ref


def test_asyncapi_describes_every_load_change_kind_with_its_models_schema() -> None:
    """The projections' internal topic too: each kind of load change is a message whose payload is its model's."""
    doc = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    (channel,) = [c for c in doc["channels"].values() if c["address"] == "kans-projections-load-changes"]
    messages = [doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]] for ref in channel["messages"].values()]
    described = {m["payload"]["schema"]["properties"]["kind"]["const"]: m["payload"]["schema"] for m in messages}
    assert described == {kind: cls.model_json_schema(mode="serialization") for kind, cls in LOAD_CHANGE_KINDS.items()}
