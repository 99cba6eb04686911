"""Ownership on the way in (services/ingest/ownership.py): for every event type of the catalogue, who may submit it
about a stream the log knows, who may not, and what the refusal says; batches judged in order; the facts the
ownership index reads from a stored event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.catalogue import EVENT_TYPES
from schemas.registry import SUBMISSION_ADAPTER, example_submission, seal
from schemas.stream_owners import FACT_EVENT_TYPES, facts_in_record, facts_of
from services.ingest.credentials import ApiKey
from services.ingest.ownership import RULES, KnownOwners, judge, submittable
from tests.factories import TEST_PUPIL_SECRET, TEST_VAULT

REF, TRJ, GRP, GTR = "R-2025-0042", "T-2025-0042-1", "G-2025-0007", "GT-G-2025-0007-a"  # the examples' ids
DESK = ApiKey("desk", frozenset({"desk"}), frozenset({"*"}), frozenset({"*"}), desk=True)
LARS = ApiKey("lars", frozenset({"lars"}), frozenset({"*"}))
CLB_1 = ApiKey("clb-1", frozenset({"lars"}), frozenset({"clb-brussel-1"}))
CLB_2 = ApiKey("clb-2", frozenset({"lars"}), frozenset({"clb-brussel-2"}))
ABRUSCO = ApiKey("abrusco", frozenset({"provider_portal"}), frozenset(), frozenset({"abrusco"}))
TIGO = ApiKey("tigo", frozenset({"provider_portal"}), frozenset(), frozenset({"tigo"}))
PORTAL = ApiKey("portal", frozenset({"provider_portal"}), frozenset(), frozenset({"*"}))
NOBODY = ApiKey("nobody", frozenset({"lars"}), frozenset())

# What the log says about the examples' streams: clb-brussel-1 referred them, the desk dispatched to abrusco.
LOG = KnownOwners({("referral", REF): "clb-brussel-1", ("trajectory", REF, TRJ): "abrusco",
                   ("group", GRP): "clb-brussel-1", ("group_trajectory", GRP, GTR): "abrusco"})  # fmt: skip
EMPTY = KnownOwners()

# Every event type of the catalogue: (who may submit it about the examples' streams, who may not, and the refusal
# that one gets: reason and field). A new event type fails `test_every_event_type_has_a_rule_and_a_case` until it
# is added here and to ownership.RULES.
CASES: dict[str, tuple[ApiKey, ApiKey, str, str]] = {
    "ReferralSubmitted": (CLB_1, CLB_2, "referrer_not_in_scope", "payload.referrer_id"),
    "ReferralAmended": (CLB_1, CLB_2, "not_in_scope", "payload.referral_id"),
    "ReferralWithdrawn": (CLB_1, CLB_2, "not_in_scope", "payload.referral_id"),
    "AdviceGiven": (CLB_1, ABRUSCO, "not_in_scope", "payload.referral_id"),
    "RoundTableScheduled": (DESK, CLB_1, "desk_only", "event_type"),
    "RoundTableHeld": (DESK, CLB_1, "desk_only", "event_type"),
    "RoundTableCancelled": (DESK, ABRUSCO, "desk_only", "event_type"),
    "DispatchProposed": (DESK, CLB_1, "desk_only", "event_type"),
    "DispatchBlocked": (DESK, ABRUSCO, "desk_only", "event_type"),
    "WaitingListJoined": (DESK, CLB_1, "desk_only", "event_type"),
    "WaitingListLeft": (DESK, ABRUSCO, "desk_only", "event_type"),
    "TrajectoryDispatched": (DESK, CLB_1, "desk_only", "event_type"),
    "TrajectoryStarted": (ABRUSCO, TIGO, "not_in_scope", "payload.trajectory_id"),
    "TrajectoryNotStarted": (ABRUSCO, TIGO, "not_in_scope", "payload.trajectory_id"),
    "TrajectoryProgressReported": (ABRUSCO, TIGO, "not_in_scope", "payload.trajectory_id"),
    "TrajectoryStoppedEarly": (ABRUSCO, CLB_1, "not_in_scope", "payload.trajectory_id"),
    "TrajectoryClosed": (ABRUSCO, TIGO, "not_in_scope", "payload.trajectory_id"),
    "TrajectoryCarriedOver": (DESK, ABRUSCO, "desk_only", "event_type"),
    "GroupReferralSubmitted": (CLB_1, CLB_2, "referrer_not_in_scope", "payload.referrer_id"),
    "GroupTrajectoryDispatched": (DESK, CLB_1, "desk_only", "event_type"),
    "GroupTrajectoryStarted": (ABRUSCO, TIGO, "not_in_scope", "payload.group_trajectory_id"),
    "GroupTrajectoryNotStarted": (ABRUSCO, TIGO, "not_in_scope", "payload.group_trajectory_id"),
    "GroupTrajectoryStoppedEarly": (ABRUSCO, TIGO, "not_in_scope", "payload.group_trajectory_id"),
    "GroupTrajectoryCompleted": (ABRUSCO, CLB_1, "not_in_scope", "payload.group_trajectory_id"),
    "ProviderRegistered": (DESK, ABRUSCO, "desk_only", "event_type"),
    "ModuleOffered": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ModuleWithdrawn": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ProviderCapacitySet": (ABRUSCO, CLB_1, "provider_not_in_scope", "payload.provider_id"),
    "ProviderMinimumAgeSet": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ProviderAcceptingReferralsSet": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ProviderReachabilitySet": (DESK, TIGO, "desk_only", "event_type"),
    "ProviderTravelRegionSet": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ProviderCoachSettingSet": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "ProviderCoronaCoachingReported": (ABRUSCO, TIGO, "provider_not_in_scope", "payload.provider_id"),
    "PupilErased": (DESK, LARS, "desk_only", "event_type"),
}
# The stream-bound types whose answer about a stream the caller may not see must not depend on whether it exists.
ABOUT_A_STREAM = sorted(name for name, case in CASES.items() if case[2] == "not_in_scope")


def sub(event_type: str, **payload: Any) -> Any:
    data = example_submission(event_type)
    if event_type == "ProviderMinimumAgeSet":  # the example is another provider's: make it abrusco's
        data["payload"]["provider_id"] = "abrusco"
    data["payload"].update(payload)
    return SUBMISSION_ADAPTER.validate_python(data)


def test_every_event_type_has_a_rule_and_a_case() -> None:
    assert set(RULES) == set(EVENT_TYPES)
    assert set(CASES) == set(EVENT_TYPES), "add the new event type to CASES (and its rule to ownership.RULES)"


@pytest.mark.parametrize("event_type", sorted(CASES))
def test_the_owner_and_the_desk_may_submit_it(event_type: str) -> None:
    owner, _, _, _ = CASES[event_type]
    assert judge(owner, [sub(event_type)], LOG) == []
    assert judge(DESK, [sub(event_type)], LOG) == []
    assert judge(DESK, [sub(event_type)], EMPTY) == [], "the desk may act on a stream the log does not know yet"


@pytest.mark.parametrize("event_type", sorted(CASES))
def test_anyone_else_is_refused_naming_the_event_the_field_and_what_it_may_act_on(event_type: str) -> None:
    _, other, reason, field = CASES[event_type]
    (refusal,) = judge(other, [sub("AdviceGiven"), sub(event_type)] if other is CLB_1 else [sub(event_type)], LOG)
    assert (refusal.index, refusal.event_type, refusal.reason, refusal.field) == (
        1 if other is CLB_1 else 0, event_type, reason, field)  # fmt: skip
    assert event_type in refusal.message and other.name in refusal.message
    if reason == "desk_only":
        assert refusal.allowed == submittable(other) and event_type not in refusal.allowed
    elif reason == "not_in_scope":
        assert refusal.value in (REF, TRJ, GTR) and refusal.allowed
        assert "whether it exists is not said" in refusal.message
    else:
        assert refusal.allowed == tuple(sorted(other.referrers if "referrer" in reason else other.providers))


@pytest.mark.parametrize("event_type", ABOUT_A_STREAM)
def test_a_stream_one_may_not_see_gets_the_same_answer_whether_it_exists_or_not(event_type: str) -> None:
    owner, other, _, _ = CASES[event_type]
    assert judge(other, [sub(event_type)], LOG) == judge(other, [sub(event_type)], EMPTY) != []
    assert judge(owner, [sub(event_type)], EMPTY) != [], "not even its rightful owner acts on an unknown stream"


def test_a_caller_for_every_referrer_or_provider_may_act_before_the_log_knows_the_stream() -> None:
    assert judge(LARS, [sub("ReferralAmended"), sub("ReferralWithdrawn")], EMPTY) == []
    assert judge(PORTAL, [sub("TrajectoryStarted"), sub("GroupTrajectoryCompleted")], EMPTY) == []
    # ... but what the log knows still binds it: LARS may not dispatch, the portal may not withdraw
    assert [r.reason for r in judge(LARS, [sub("TrajectoryDispatched")], EMPTY)] == ["desk_only"]
    assert [r.field for r in judge(PORTAL, [sub("ReferralWithdrawn")], LOG)] == ["payload.referral_id"]


def test_a_batch_is_judged_in_order_and_a_refused_event_establishes_nothing() -> None:
    new = [sub("ReferralSubmitted", referral_id="R-NEW"), sub("ReferralAmended", referral_id="R-NEW")]
    assert judge(CLB_1, new, EMPTY) == []
    assert [(r.index, r.reason) for r in judge(CLB_1, new[::-1], EMPTY)] == [(0, "not_in_scope")]
    others = [sub("ReferralSubmitted", referral_id="R-NEW", referrer_id="clb-brussel-2"), new[1]]
    assert [(r.index, r.reason) for r in judge(CLB_1, others, EMPTY)] == [(0, "referrer_not_in_scope"),
                                                                           (1, "not_in_scope")]  # fmt: skip
    # The desk's referral, dispatch to abrusco and start in one batch; then only abrusco may report on it.
    desk_batch = [sub("ReferralSubmitted", referral_id="R-NEW"),
                  sub("TrajectoryDispatched", referral_id="R-NEW", trajectory_id="T-NEW"),
                  sub("TrajectoryStarted", referral_id="R-NEW", trajectory_id="T-NEW")]  # fmt: skip
    assert judge(DESK, desk_batch, EMPTY) == []
    log = KnownOwners(fact for s in desk_batch for fact in facts_of(s.event_type, s.payload))
    progress = sub("TrajectoryProgressReported", referral_id="R-NEW", trajectory_id="T-NEW")
    assert judge(ABRUSCO, [progress], log) == []
    assert [r.reason for r in judge(TIGO, [progress], log)] == ["not_in_scope"]
    # A trajectory id is only ever looked up with its own referral: abrusco's T-NEW under another referral is not its.
    assert judge(ABRUSCO, [sub("TrajectoryClosed", referral_id=REF, trajectory_id="T-NEW")], log) != []


def test_a_redispatch_moves_the_trajectory_to_the_new_provider() -> None:
    redispatch = sub("TrajectoryDispatched", provider_id="tigo")
    log = KnownOwners({**LOG.facts, **dict(facts_of(redispatch.event_type, redispatch.payload))})
    assert judge(TIGO, [sub("TrajectoryStarted")], log) == []
    assert judge(ABRUSCO, [sub("TrajectoryStarted")], log) != []


def test_a_referral_id_in_use_by_another_referrer_is_taken_and_a_handover_needs_both_referrers() -> None:
    (taken,) = judge(CLB_2, [sub("ReferralSubmitted", referrer_id="clb-brussel-2")], LOG)
    assert (taken.reason, taken.field, taken.value) == ("id_taken", "payload.referral_id", REF)
    (group_taken,) = judge(CLB_2, [sub("GroupReferralSubmitted", referrer_id="clb-brussel-2")], LOG)
    assert (group_taken.reason, group_taken.field) == ("id_taken", "payload.group_referral_id")
    assert judge(CLB_1, [sub("ReferralSubmitted")], LOG) == []  # its own referral again, under another ref
    handover = sub("ReferralAmended", changes={"referrer_id": "clb-brussel-2"})
    (refused,) = judge(CLB_1, [handover], LOG)
    assert (refused.reason, refused.field, refused.allowed) == ("referrer_not_in_scope", "payload.changes.referrer_id",
                                                                ("clb-brussel-1",))  # fmt: skip
    assert judge(LARS, [handover, sub("ReferralWithdrawn")], LOG) == []
    assert facts_of(handover.event_type, handover.payload) == [(("referral", REF), "clb-brussel-2")]
    assert judge(CLB_1, [handover, sub("ReferralWithdrawn")], LOG)[0].index == 0


def test_the_facts_an_event_establishes() -> None:
    expected = {
        "ReferralSubmitted": [(("referral", REF), "clb-brussel-1")],
        "GroupReferralSubmitted": [(("group", GRP), "clb-brussel-1")],
        "TrajectoryDispatched": [(("trajectory", REF, TRJ), "abrusco")],
        "TrajectoryCarriedOver": [(("trajectory", REF, TRJ), "abrusco")],
        "GroupTrajectoryDispatched": [(("group_trajectory", GRP, GTR), "abrusco")],
    }
    for event_type in EVENT_TYPES:
        s = sub(event_type)
        assert facts_of(event_type, s.payload) == expected.get(event_type, []), event_type
    assert set(expected) | {"ReferralAmended"} == FACT_EVENT_TYPES  # an amendment only when it changes the referrer


def test_what_each_kind_of_caller_may_submit_at_all() -> None:
    assert submittable(DESK) == tuple(EVENT_TYPES)
    assert submittable(NOBODY) == ()
    assert set(submittable(CLB_1)) == {"ReferralSubmitted", "ReferralAmended", "ReferralWithdrawn", "AdviceGiven",
                                       "GroupReferralSubmitted"}  # fmt: skip
    assert "TrajectoryStarted" in submittable(ABRUSCO) and "ReferralWithdrawn" not in submittable(ABRUSCO)
    (refusal,) = judge(NOBODY, [sub("ReferralWithdrawn")], LOG)
    assert refusal.allowed == ("nothing: the key acts for no referrer, no provider and not as the desk",)


def test_the_index_reads_the_same_facts_from_a_stored_event_as_from_the_whole_event() -> None:
    now = datetime.now(UTC)
    for event_type in EVENT_TYPES:
        event = seal(sub(event_type), now, TEST_PUPIL_SECRET, TEST_VAULT)
        raw = event.model_dump_json().encode()
        if event_type in FACT_EVENT_TYPES:
            assert facts_in_record(raw) == facts_of(event_type, event.payload), event_type
        else:
            with pytest.raises(ValidationError):
                facts_in_record(raw)
    handover = seal(sub("ReferralAmended", changes={"referrer_id": "clb-brussel-2"}), now)
    assert facts_in_record(handover.model_dump_json().encode()) == [(("referral", REF), "clb-brussel-2")]
    v1 = seal(SUBMISSION_ADAPTER.validate_python(example_submission("ReferralSubmitted", 1)), now)
    assert facts_in_record(v1.model_dump_json().encode()) == [(("referral", REF), "clb-brussel-1")]


def test_a_record_whose_owner_fields_are_not_valid_establishes_nothing() -> None:
    stored = json.loads(seal(sub("TrajectoryDispatched"), datetime.now(UTC)).model_dump_json())
    with pytest.raises(ValueError, match="stream_id"):
        facts_in_record(json.dumps({**stored, "stream_id": "R-OTHER"}).encode())
    for field, value in (("provider_id", "jan.janssens@example.org"), ("provider_id", None), ("trajectory_id", "")):
        with pytest.raises(ValidationError):
            facts_in_record(json.dumps({**stored, "payload": {**stored["payload"], field: value}}).encode())
    with pytest.raises(ValidationError):
        facts_in_record(b"not json")
