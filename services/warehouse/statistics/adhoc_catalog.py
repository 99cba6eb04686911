"""What an ad hoc question may use: the whitelisted measures and dimensions of each folded source.

Callers name measures and dimensions; only these names exist, each mapped to a fixed SQL expression here. No
text from a caller ever becomes SQL: filter values are bound as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.warehouse.statistics.group_stats import MODULE, REACHED, REACHED_EFFECTIVELY_RUN
from services.warehouse.statistics.sql_parts import AGE, PART_TIME, REGION, STAGE, SUPPORT_NETWORK, multi
from services.warehouse.statistics.trajectory_stats import DURATION, HALF_DAYS


@dataclass(frozen=True)
class Measure:
    source: str
    sql: str
    label_nl: str
    base: str | None = None  # for a median or mean: the count of units behind it (suppression)


@dataclass(frozen=True)
class Dimension:
    sql: str
    multi: bool = False  # a multi-select: one row per code (ARRAY JOIN), filters match any code
    per_school: bool = False  # desk only (privacy)


STARTED_WAIT = "started AND NOT carried_over AND started_at >= dispatched_at"
WAIT_DAYS = f"quantileExactInclusiveIf(0.5)(dateDiff('day', dispatched_at, started_at), {STARTED_WAIT})"
REFERRAL_TO_START = (
    "quantileExactInclusiveIf(0.5)(dateDiff('day', referred_at, started_at), started AND NOT carried_over)"
)
MEASURES: dict[str, Measure] = {
    "referrals": Measure("referrals", "count()", "Aanmeldingen"),
    "pupils": Measure("referrals", "uniqExact(pupil_key)", "Aangemelde leerlingen"),
    "advised_referrals": Measure("referrals", "countIf(advised)", "Aanmeldingen met enkel advies"),
    "trajectories": Measure("trajectories", "count()", "Aangeboden trajecten"),
    "started_trajectories": Measure("trajectories", "countIf(started)", "Opgestarte trajecten"),
    "effectively_run_trajectories": Measure("trajectories", "countIf(started AND NOT "
                                            "stopped_early)", "Effectief gelopen trajecten"),
    "pupils_with_trajectory": Measure("trajectories", "uniqExact(pupil_key)", "Leerlingen met een traject"),
    "waiting_days_median": Measure("trajectories", WAIT_DAYS, "Wachttijd doorgave tot opstart (mediaan, dagen)",
                                   base=f"countIf({STARTED_WAIT})"),
    "referral_to_start_days_median": Measure("trajectories", REFERRAL_TO_START, "Wachttijd aanmelding tot opstart "
                                             "(mediaan, dagen)", base="countIf(started AND NOT carried_over)"),
    "round_tables": Measure("round_tables", "count()", "Rondetafels"),
    "groups": Measure("groups", "count()", "Aangemelde groepen"),
    "group_referrals": Measure("groups", "uniqExact(group_referral_id)", "Groepsaanmeldingen"),
    "started_groups": Measure("groups", "countIf(started)", "Opgestarte groepen"),
    "pupils_in_groups": Measure("groups", "sum(pupil_count)", "Aangemelde leerlingen (groepen)"),
    "pupils_reached": Measure("groups", REACHED, "Bereikte leerlingen (opgestarte groepen)"),
    "pupils_effectively_run": Measure("groups", REACHED_EFFECTIVELY_RUN, "Bereikte leerlingen (effectief gelopen "
                                      "groepen)"),
    "class_hours": Measure("groups", "sumIf(class_hours, started)", "Lesuren",
                           base="countIf(started AND class_hours IS NOT NULL)"),
    "mean_class_hours": Measure("groups", "avgIf(class_hours, started)", "Gemiddeld aantal lesuren",
                                base="countIf(started AND class_hours IS NOT NULL)"),
}  # fmt: skip

_COMMON = {"school_year": Dimension("school_year"), "level": Dimension("level"), "channel": Dimension("channel"),
           "source_system": Dimension("source_system"),  # where the referral was registered (LARS or elsewhere)
           "offer_type": Dimension("offer_type"), "education_form": Dimension("education_form"),
           "school_id": Dimension("ifNull(school_id, '')", per_school=True)}  # fmt: skip
_SCHOOLING = {
    "grade": Dimension("grade"),
    "stage": Dimension(STAGE),
    "bubao_type": Dimension("bubao_type"),
    "buso_type": Dimension("buso_type"),
    "buso_training_form": Dimension("buso_training_form"),
}
DIMENSIONS: dict[str, dict[str, Dimension]] = {
    "referrals": {
        **_COMMON, **_SCHOOLING, "month": Dimension("month"), "gender": Dimension("gender"), "age": Dimension(AGE),
        "referrer_id": Dimension("referrer_id"), "school_location": Dimension("school_location"),
        "part_time": Dimension(PART_TIME), "residence_postcode": Dimension("residence_postcode"),
        "municipality": Dimension("residence_municipality"), "region": Dimension(REGION),
        "home_language": Dimension("home_language"), "school_delay": Dimension("school_delay"),
        "primary_schools_attended": Dimension("toString(primary_schools_attended)"),
        "secondary_schools_attended": Dimension("toString(secondary_schools_attended)"),
        "discipline": Dimension("discipline"), "residential_setting": Dimension("residential_setting"),
        "support_network": Dimension(SUPPORT_NETWORK), "advice_kind": Dimension("advice_kind"),
        "risk_behaviour": Dimension(multi("risk_behaviours"), multi=True),
        "school_situation": Dimension(multi("school_situation"), multi=True),
        "care_service": Dimension(multi("ambulant_care"), multi=True),
    },
    "trajectories": {
        **_COMMON, "month": Dimension("formatDateTime(toTimeZone(dispatched_at, 'Europe/Brussels'), '%Y-%m')"),
        "provider": Dimension("provider_id"), "module": Dimension("module_id"), "status": Dimension("status"),
        "not_started_reason": Dimension("if(not_started, not_started_reason, NULL)"),
        "early_stop_reason": Dimension("if(stopped_early, early_stop_reason, NULL)"),
        "perspective": Dimension("if(closed, perspective, NULL)"), "duration_bucket": Dimension(DURATION),
        "half_days_per_week": Dimension(HALF_DAYS),
    },
    "round_tables": {
        **{k: v for k, v in _COMMON.items() if k != "school_id"}, "status": Dimension("status"),
        "cancel_reason": Dimension("if(cancelled, cancel_reason, NULL)"),
    },
    "groups": {
        **_COMMON, **_SCHOOLING, "offer_type": Dimension("offer_type"), "month": Dimension("month"),
        "school_id": Dimension("school_id", per_school=True), "school_location": Dimension("school_location"),
        "group_kind": Dimension("group_kind"), "requested_module": Dimension("requested_module"),
        "group_module": Dimension(MODULE), "provider": Dimension("provider_id"), "status": Dimension("status"),
    },
}  # fmt: skip
