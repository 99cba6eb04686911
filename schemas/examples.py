"""One valid example per event type and version: shown in the OpenAPI docs, and checked by the tests to validate."""

from __future__ import annotations

import copy
from typing import Any

from schemas.catalogue import LATEST_VERSION

_BASE = "2025-10-06T09:30:00+02:00"
_REF, _TRJ, _GRP = "R-2025-0042", "T-2025-0042-1", "G-2025-0007"
_RT = {"referral_id": _REF, "round_table_id": "RT-2025-0042-1"}
_TR = {"referral_id": _REF, "trajectory_id": _TRJ}
_GT = {"group_referral_id": _GRP, "group_id": f"{_GRP}-a", "group_trajectory_id": f"GT-{_GRP}-a"}
_REFERRAL_V1 = {
    "referral_id": _REF, "pupil_key": "3f2a9c0d5b7e41a8b6c4d2e0f1a3b5c7", "channel": "lars",
    "referrer_id": "clb-brussel-1", "offer_type": "regular", "level": "secondary", "gender": "girl",
    "birth_year": 2010, "birth_month": 4,
}  # fmt: skip
_TRACE = [
    {"rule": "minimum_age", "provider_id": "abrusco", "module_id": "individual", "verdict": "passed",
     "facts": {"minimum_age": 0, "pupil_age": 15}},
    {"rule": "capacity", "provider_id": "groep-intro", "module_id": "individual", "verdict": "full",
     "facts": {"capacity": 12, "occupied": 11, "proposed": 1}},
    {"rule": "capacity", "provider_id": "abrusco", "module_id": "individual", "verdict": "has_room",
     "facts": {"capacity": 13, "occupied": 9, "proposed": 0}},
    {"rule": "decision", "provider_id": "abrusco", "module_id": "individual", "verdict": "chosen", "facts": {}},
]  # fmt: skip
_CLASS_GROUP = {
    "group_id": f"{_GRP}-a", "school_id": "school-0421", "school_location": "brussels", "level": "secondary",
    "education_form": "secondary_a_stream", "grade": "grade_1", "group_kind": "class_group", "pupil_count": 22,
    "requested_module": "class_action", "preferred_provider_id": "abrusco", "class_action_theme": "class_relations",
}  # fmt: skip
_BUSO_GROUP = {
    "group_id": f"{_GRP}-b", "school_id": "school-0421", "school_location": "brussels", "level": "secondary",
    "education_form": "secondary_special_needs", "grade": "not_applicable", "buso_type": "type_3",
    "buso_training_form": "ov3", "group_kind": "restorative_group", "pupil_count": 3, "requested_module": "restorative",
}  # fmt: skip

# The current version of each event type, as a source sends it.
EXAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "ReferralSubmitted": {
        "referral_id": _REF, "pupil_id": "LARS-000123", "channel": "lars", "referrer_id": "clb-brussel-1",
        "offer_type": "regular", "level": "secondary", "education_form": "secondary_b_stream", "grade": "grade_2",
        "gender": "girl", "birth_year": 2010, "birth_month": 4, "school_id": "school-0421",
        "school_location": "brussels", "residence_postcode": "1080", "home_language": "other",
        "home_language_code": "ar", "school_delay": "one_year", "primary_schools_attended": 2,
        "secondary_schools_attended": 1, "absence_b_half_days": 14, "absence_z_half_days": 6,
        "absence_other_half_days": 0, "risk_behaviours": ["truancy", "demotivation"], "discipline": "threatened",
        "school_situation": ["early_leaving_risk"], "ambulant_care": ["mental_health_centre"],
        "residential_setting": "none", "support_network": False,
        "household_address": {"street": "Rue de la Loi", "house_number": "16", "box": None, "postcode": "1080"},
    },
    "ReferralAmended": {"referral_id": _REF, "changes": {"school_delay": "two_years", "residence_postcode": "1020"}},
    "ReferralWithdrawn": {"referral_id": _REF, "kind": "withdrawn", "reason": "no_place_available"},
    "AdviceGiven": {"referral_id": _REF, "kind": "youth_care"},
    "RoundTableScheduled": {**_RT, "scheduled_for": "2025-10-20"},
    "RoundTableHeld": {**_RT, "outcomes": ["trajectories_to_start", "advice_youth_care"], "trajectories_to_start": 1},
    "RoundTableCancelled": {**_RT, "reason": "practical"},
    "DispatchProposed": {**_TR, "proposal_id": "P-kfhagnomcbdjlpie", "provider_id": "abrusco",
                         "module_id": "individual", "offer_type": "regular", "trigger": "round_table",
                         "trigger_event_id": "6a1f4c1e-2b3d-5e4f-8a9b-0c1d2e3f4a5b", "rule_set": "dispatch-rules-v1",
                         "decided_on": "2025-10-06", "waiting_since": "2025-09-22", "trace": _TRACE},
    "DispatchBlocked": {**_TR, "offer_type": "regular", "trigger": "round_table",
                        "trigger_event_id": "6a1f4c1e-2b3d-5e4f-8a9b-0c1d2e3f4a5b", "rule_set": "dispatch-rules-v1",
                        "decided_on": "2025-10-06", "waiting_since": "2025-09-22",
                        "trace": [{"rule": "candidates", "verdict": "no_candidate",
                                   "facts": {"module_kinds": ["therapeutic_day_care"], "level": "primary"}}]},
    "WaitingListJoined": {**_TR, "offer_type": "regular", "trigger": "round_table",
                          "trigger_event_id": "6a1f4c1e-2b3d-5e4f-8a9b-0c1d2e3f4a5b", "rule_set": "dispatch-rules-v1",
                          "decided_on": "2025-10-06", "waiting_since": "2025-09-22", "trace": _TRACE,
                          "places": [{"provider_id": "groep-intro", "module_id": "individual"}]},
    "WaitingListLeft": {**_TR, "places": [{"provider_id": "groep-intro", "module_id": "individual"}],
                        "reason": "proposed", "proposal_id": "P-kfhagnomcbdjlpie", "waiting_since": "2025-09-22",
                        "left_on": "2025-10-06"},
    "TrajectoryDispatched": {**_TR, "provider_id": "abrusco", "module_id": "individual", "offer_type": "regular",
                             "proposal_id": "P-kfhagnomcbdjlpie", "overridden": False, "override_reason": None},
    "TrajectoryStarted": {**_TR, "half_days_per_week": 2},
    "TrajectoryNotStarted": {**_TR, "reason": "pupil_unwilling"},
    "TrajectoryProgressReported": {**_TR, "half_days_per_week": 2, "class_hours": 12,
                                   "duration_bucket": "one_to_three_months"},
    "TrajectoryStoppedEarly": {**_TR, "reason": "pupil_drops_out"},
    "TrajectoryClosed": {**_TR, "perspective": "back_full_time_current_school"},
    "TrajectoryCarriedOver": {**_TR, "previous_referral_id": "R-2024-0117", "previous_trajectory_id": "T-2024-0117-1",
                              "to_school_year": "2025-2026", "provider_id": "abrusco", "module_id": "individual",
                              "offer_type": "regular"},
    "GroupReferralSubmitted": {"group_referral_id": _GRP, "channel": "lars", "referrer_id": "clb-brussel-1",
                               "for_school_year": "2025-2026", "groups": [_CLASS_GROUP, _BUSO_GROUP]},
    "GroupTrajectoryDispatched": {**_GT, "provider_id": "abrusco", "module": "class_action",
                                  "proposal_id": "P-hkgnmlbiopaekdfjcmgogbia", "overridden": False,
                                  "override_reason": None},
    "GroupTrajectoryStarted": {**_GT},
    "GroupTrajectoryNotStarted": {**_GT, "reason": "individual_trajectory_instead"},
    "GroupTrajectoryStoppedEarly": {**_GT, "reason": "conditions_not_met", "class_hours": 4},
    "GroupTrajectoryCompleted": {**_GT, "class_hours": 7.5, "pupils_reached": 21},
    "ProviderRegistered": {"provider_id": "groep-intro", "name": "Groep INTRO", "postcode": "1000",
                           "valid_from": "2019-09-01"},
    "ModuleOffered": {"provider_id": "abrusco", "module_id": "class-action", "kind": "class_action",
                      "name": "Klasactie", "levels": ["primary", "secondary"], "valid_from": "2019-09-01"},
    "ModuleWithdrawn": {"provider_id": "abrusco", "module_id": "class-action", "valid_from": "2026-07-01"},
    "ProviderCapacitySet": {"provider_id": "abrusco", "module_id": "individual", "capacity": 12,
                            "valid_from": "2025-09-01"},
    "ProviderMinimumAgeSet": {"provider_id": "huppeldepup", "module_id": "day-care", "minimum_age": 10,
                              "valid_from": "2019-09-01"},
    "ProviderAcceptingReferralsSet": {"provider_id": "abrusco", "module_id": "class-action", "accepting": False,
                                      "valid_from": "2026-04-06", "valid_until": "2026-08-31"},
    "ProviderReachabilitySet": {"provider_id": "tigo", "reachable_via_desk": False, "valid_from": "2026-01-01"},
    "ProviderTravelRegionSet": {"provider_id": "abrusco", "module_id": None, "valid_from": "2025-09-01",
                                "municipalities": ["anderlecht", "molenbeek_saint_jean", "outside_brussels"]},
    "ProviderCoachSettingSet": {"provider_id": "abrusco", "setting_id": "coach-school-0421-ft",
                                "school_id": "school-0421", "track": "full_time", "half_days_per_week": 4,
                                "valid_from": "2025-09-01", "valid_until": "2026-08-31"},
    "ProviderCoronaCoachingReported": {"provider_id": "abrusco", "report_id": "corona-2025-studylab",
                                       "school_year": "2025-2026", "kind": "study_lab", "pupils": 15,
                                       "period_from": "2025-09-01", "period_until": "2025-10-06"},
    "PupilErased": {"pupil_id": "LARS-000123", "reason": "request_of_pupil_or_parents"},
}  # fmt: skip
# Older versions still accepted on submission.
_REFERRAL_V3 = {k: v for k, v in EXAMPLE_PAYLOADS["ReferralSubmitted"].items() if k != "household_address"}
LEGACY_EXAMPLE_PAYLOADS: dict[tuple[str, int], dict[str, Any]] = {
    ("ReferralSubmitted", 1): _REFERRAL_V1,
    ("ReferralSubmitted", 2): _REFERRAL_V3,  # the same submission as version 3
    ("ReferralSubmitted", 3): _REFERRAL_V3,
    ("ReferralWithdrawn", 1): {"referral_id": _REF, "reason": "no_longer_needed"},
    ("TrajectoryDispatched", 1): {**_TR, "provider_id": "abrusco", "module_id": "individual", "offer_type": "regular"},
    ("GroupTrajectoryDispatched", 1): {**_GT, "provider_id": "abrusco", "module": "class_action"},
}


def example_submission(event_type: str, version: int | None = None) -> dict[str, Any]:
    """A complete submission of `event_type` (default: its current version) with the example payload."""
    latest = LATEST_VERSION[event_type]
    version = latest if version is None else version
    payload = EXAMPLE_PAYLOADS[event_type] if version == latest else LEGACY_EXAMPLE_PAYLOADS[(event_type, version)]
    return {
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": _BASE,
        "source_system": "lars",
        "source_ref": f"lars:{event_type}:{_REF}",
        "actor": "clb:clb-brussel-1",
        "payload": copy.deepcopy(payload),
    }
