"""The events of the known history (see tests/stats_history.py): providers, primary and secondary referrals with
their round tables and trajectories, group referrals. Kept as compact data: the tests count these by hand."""

from __future__ import annotations

from typing import Any

from tests.stats_history import History

# fmt: off


def group(gid: str, level: str, form: str, grade: str, kind: str, pupils: int, module: str, **extra: Any) -> dict:
    return {"group_id": gid, "school_id": extra.pop("school", "school-x"), "level": level, "education_form": form,
            "grade": grade, "group_kind": kind, "pupil_count": pupils, "requested_module": module, **extra}


def providers(h: History) -> None:
    for pid, name in (("tigo", "Tigo"), ("frambozenhof", "'t FramboZENHOF"), ("groep-intro", "Groep INTRO"),
                      ("abrusco", "Abrusco")):
        h.add("ProviderRegistered", f"p:{pid}", "2016-09-01", {"provider_id": pid, "name": name,
              "valid_from": "2016-09-01"})
    h.add("ModuleOffered", "m:abrusco:coach", "2016-09-01", {"provider_id": "abrusco", "module_id": "coach",
          "kind": "school_coach", "name": "Coach op school", "levels": ["secondary"], "valid_from": "2016-09-01"})
    h.add("ModuleOffered", "m:abrusco:individual", "2016-09-01", {"provider_id": "abrusco", "module_id": "individual",
          "kind": "individual", "name": "Individueel traject", "levels": ["secondary"], "valid_from": "2016-09-01"})


def primary(h: History) -> None:
    """2019-2020: RP1-RP5 (RP5 = RP1's pupil again), RP6 retracted (entered in error); 2018-2019: RQ1, RQ2."""
    mainstream = {"education_form": "primary_mainstream", "school_location": "brussels", "residential_setting": "none"}
    h.referral("RP1", "2019-09-16", "P1", "primary", **mainstream, grade="grade_1", gender="boy", birth_year=2012,
               residence_postcode="1030", home_language="french", school_delay="none", primary_schools_attended=1,
               absence_b_half_days=3, absence_z_half_days=10, risk_behaviours=["behaviour_problems"],
               discipline="threatened", ambulant_care=["psychological_support", "mental_health_centre"],
               support_network=True)
    h.referral("RP2", "2019-10-07", "P2", "primary", channel="external_clb", education_form="primary_mainstream",
               grade="grade_4", gender="girl", birth_year=2010, school_location="outside_brussels",
               residence_postcode="1600", home_language="other", school_delay="one_year", primary_schools_attended=2,
               risk_behaviours=[], discipline="none", residential_setting="foster_care", support_network=False)
    h.referral("RP3", "2020-05-11", "P3", "primary", **mainstream, channel="school_direct", offer_type="corona",
               grade="grade_3", gender="boy", birth_year=2011, residence_postcode="1080", home_language="french",
               school_delay="one_year", primary_schools_attended=1, absence_b_half_days=20, absence_z_half_days=0,
               risk_behaviours=["other"], discipline="none", ambulant_care=[])
    h.referral("RP4", "2020-05-12", "P4", "primary", offer_type="corona", education_form="primary_special_needs",
               grade="not_applicable", bubao_type="type_3", gender="girl", birth_year=2010, school_location="brussels",
               home_language="dutch", primary_schools_attended=3, absence_b_half_days=40, absence_z_half_days=7,
               risk_behaviours=["demotivation", "internalising"], discipline="procedure_started",
               ambulant_care=["context_support"], residential_setting="none", support_network=True)
    h.referral("RP5", "2020-01-13", "P1", "primary", **mainstream, grade="grade_1", gender="boy", birth_year=2012,
               residence_postcode="1030", home_language="french", school_delay="none", primary_schools_attended=1,
               absence_b_half_days=2, absence_z_half_days=1, risk_behaviours=["behaviour_problems"],
               discipline="excluded", ambulant_care=[], support_network=True)
    h.referral("RP6", "2019-11-04", "P6", "primary", **mainstream, grade="grade_2", gender="boy", birth_year=2012,
               school_delay="none")
    h.add("ReferralWithdrawn", "w:RP6", "2019-11-20", {"referral_id": "RP6", "kind": "retracted",
          "reason": "entered_in_error"}, version=2)
    h.add("ReferralAmended", "a:RP2", "2019-12-02", {"referral_id": "RP2", "changes": {
          "school_delay": "two_years", "residence_postcode": "1070"}})
    h.add("ReferralAmended", "a:RP1", "2020-02-03", {"referral_id": "RP1", "changes": {
          "risk_behaviours": ["behaviour_problems", "truancy"]}})
    h.add("AdviceGiven", "adv:RP2", "2019-10-20", {"referral_id": "RP2", "kind": "youth_care"})
    h.round_table("RP1", "RT1", "RoundTableScheduled", "2019-09-20", scheduled_for="2019-09-27")
    h.round_table("RP1", "RT1", "RoundTableHeld", "2019-09-27", outcomes=["trajectories_to_start"],
                  trajectories_to_start=2)
    h.round_table("RP5", "RT2", "RoundTableScheduled", "2020-01-15", scheduled_for="2020-01-22")
    h.round_table("RP5", "RT2", "RoundTableCancelled", "2020-01-20", reason="practical")
    h.trajectory("RP1", "T1", "2019-09-30", "tigo", "day-care")
    h.then("TrajectoryStarted", "RP1", "T1", "2019-10-07", half_days_per_week=2)
    h.then("TrajectoryProgressReported", "RP1", "T1", "2019-12-02", duration_bucket="over_3_months")
    h.then("TrajectoryClosed", "RP1", "T1", "2020-03-13", perspective="back_full_time_current_school")
    h.trajectory("RP1", "T2", "2019-10-01", "frambozenhof", "day-care")
    h.then("TrajectoryStarted", "RP1", "T2", "2019-10-14")
    h.then("TrajectoryStoppedEarly", "RP1", "T2", "2020-03-16", reason="corona_crisis")
    h.trajectory("RP3", "T3", "2020-05-12", "groep-intro", "corona-support", "corona")
    h.then("TrajectoryStarted", "RP3", "T3", "2020-05-14", half_days_per_week=1)
    h.then("TrajectoryProgressReported", "RP3", "T3", "2020-06-01", duration_bucket="one_to_three_months")
    h.then("TrajectoryClosed", "RP3", "T3", "2020-06-30", perspective="continues_next_year")
    h.trajectory("RP4", "T4", "2020-05-13", "abrusco", "corona-support", "corona")
    h.then("TrajectoryNotStarted", "RP4", "T4", "2020-06-15", reason="too_late_in_year")
    h.trajectory("RP5", "T5", "2020-01-27", "tigo", "day-care")
    h.then("TrajectoryNotStarted", "RP5", "T5", "2020-02-10", reason="provider_capacity")
    h.referral("RQ1", "2018-10-01", "Q1", "primary", gender="boy", birth_year=2010, discipline="threatened")
    h.referral("RQ2", "2019-03-04", "Q2", "primary", gender="girl", birth_year=2010, discipline="none")


def secondary(h: History) -> None:
    """2019-2020: RS1-RS6 (RS6 carried over from RQ3's trajectory, RS5 recorded late); 2018-2019: RQ3-RQ5."""
    h.referral("RS1", "2019-09-09", "S1", "secondary", education_form="secondary_a_stream", grade="grade_1",
               gender="boy", birth_year=2007, school_id="school-a", school_location="brussels",
               residence_postcode="1080", home_language="french", school_delay="none", primary_schools_attended=1,
               secondary_schools_attended=1, absence_b_half_days=0, absence_z_half_days=2, absence_other_half_days=5,
               risk_behaviours=["behaviour_problems"], discipline="procedure_started",
               school_situation=["early_leaving_risk"], ambulant_care=["youth_court_social_service"],
               residential_setting="none", support_network=False)
    h.referral("RS2", "2019-10-14", "S2", "secondary", education_form="secondary_part_time", grade="not_applicable",
               gender="girl", birth_year=2003, school_id="clw-1", school_location="brussels",
               residence_postcode="1070", home_language="other", school_delay="three_or_more",
               primary_schools_attended=0, secondary_schools_attended=3, absence_b_half_days=25,
               risk_behaviours=["truancy", "demotivation"], discipline="none",
               school_situation=["early_leaving_risk", "repeated_year"], residential_setting="boarding_school")
    h.referral("RS3", "2020-04-27", "S3", "secondary", channel="school_direct", offer_type="corona",
               education_form="secondary_bso", grade="grade_3", gender="boy", birth_year=2006, school_id="school-b",
               school_location="outside_brussels", residence_postcode="1800", home_language="dutch",
               school_delay="one_year", primary_schools_attended=2, secondary_schools_attended=2,
               absence_b_half_days=10, absence_z_half_days=3, absence_other_half_days=0, risk_behaviours=["other"],
               discipline="none", school_situation=[], ambulant_care=[], residential_setting="none",
               support_network=False)
    h.referral("RS4", "2020-04-06", "S4", "secondary", channel="intake", education_form="secondary_special_needs",
               grade="not_applicable", buso_type="type_9", buso_training_form="ov3", gender="girl", birth_year=2004)
    h.referral("RS5", "2020-02-03", "S5", "secondary", education_form="secondary_part_time", grade="not_applicable",
               gender="boy", birth_year=2003, school_id="clw-1", school_location="brussels",
               residence_postcode="1000", home_language="french", school_delay="two_years",
               primary_schools_attended=1, secondary_schools_attended=4, absence_b_half_days=60,
               absence_z_half_days=4, absence_other_half_days=2, risk_behaviours=["truancy"], discipline="threatened",
               school_situation=["frequent_study_field_change"], ambulant_care=["ocj", "youth_court_social_service"],
               residential_setting="none", support_network=False, recorded="2020-09-15")
    h.referral("RS6", "2019-09-02", "Q3", "secondary", channel="kans_rereferral", education_form="secondary_aso",
               grade="grade_4", gender="boy", birth_year=2004, school_id="school-a", school_location="brussels",
               residence_postcode="1082", home_language="french", school_delay="one_year",
               primary_schools_attended=1, secondary_schools_attended=2, absence_b_half_days=8,
               absence_z_half_days=0, absence_other_half_days=1, risk_behaviours=["behaviour_problems"],
               discipline="none", school_situation=[], ambulant_care=[], residential_setting="none",
               support_network=False)
    h.round_table("RS1", "RT3", "RoundTableHeld", "2019-09-19", outcomes=["trajectories_to_start",
                  "advice_youth_care"], trajectories_to_start=2)
    h.round_table("RS2", "RT4", "RoundTableHeld", "2019-10-21", outcomes=["trajectories_to_start"],
                  trajectories_to_start=1)
    h.round_table("RS5", "RT5", "RoundTableHeld", "2020-02-10", outcomes=["decision_not_to_start"])
    h.round_table("RS4", "RT6", "RoundTableScheduled", "2020-04-10", scheduled_for="2020-04-20")
    h.round_table("RS4", "RT6", "RoundTableCancelled", "2020-04-17", reason="corona_crisis")
    h.trajectory("RS1", "T6", "2019-09-23", "abrusco", "individual")
    h.then("TrajectoryStarted", "RS1", "T6", "2019-09-30", half_days_per_week=1)
    h.then("TrajectoryProgressReported", "RS1", "T6", "2019-11-04", duration_bucket="one_to_three_months")
    h.then("TrajectoryClosed", "RS1", "T6", "2019-12-20", perspective="back_full_time_current_school")
    h.trajectory("RS1", "T7", "2019-09-23", "groep-intro", "group-formation")
    h.then("TrajectoryStarted", "RS1", "T7", "2019-10-01", half_days_per_week=3)
    h.then("TrajectoryStoppedEarly", "RS1", "T7", "2020-03-16", reason="corona_crisis")
    h.trajectory("RS2", "T8", "2019-10-22", "abrusco", "coach")
    h.then("TrajectoryStarted", "RS2", "T8", "2019-10-28", half_days_per_week=2)
    h.then("TrajectoryProgressReported", "RS2", "T8", "2020-02-03", duration_bucket="over_3_months")
    h.then("TrajectoryClosed", "RS2", "T8", "2020-06-26", perspective="alternative_learning_path")
    h.trajectory("RS3", "T9", "2020-04-27", "groep-intro", "corona-support", "corona")
    h.then("TrajectoryStarted", "RS3", "T9", "2020-04-28", half_days_per_week=1)
    h.then("TrajectoryClosed", "RS3", "T9", "2020-06-19", perspective="back_full_time_current_school")
    h.trajectory("RS3", "T10", "2020-05-04", "abrusco", "corona-support", "corona")
    h.then("TrajectoryNotStarted", "RS3", "T10", "2020-05-06", reason="school_youth_coach")
    h.referral("RQ3", "2018-09-10", "Q3", "secondary", education_form="secondary_aso", grade="grade_3", gender="boy",
               birth_year=2004)
    h.referral("RQ4", "2018-11-05", "Q4", "secondary", education_form="secondary_part_time", gender="girl",
               birth_year=2002)
    h.referral("RQ5", "2019-04-15", "Q5", "secondary", education_form="secondary_bso", gender="boy", birth_year=2003)
    h.trajectory("RQ3", "T11", "2018-09-24", "abrusco", "individual")
    h.then("TrajectoryStarted", "RQ3", "T11", "2018-10-01", half_days_per_week=2)
    h.then("TrajectoryClosed", "RQ3", "T11", "2019-06-28", perspective="continues_next_year")
    h.add("TrajectoryCarriedOver", "co:T12", "2019-09-02", {
        "referral_id": "RS6", "trajectory_id": "T12", "previous_referral_id": "RQ3", "previous_trajectory_id": "T11",
        "to_school_year": "2019-2020", "provider_id": "abrusco", "module_id": "individual", "offer_type": "regular"})
    h.then("TrajectoryProgressReported", "RS6", "T12", "2019-12-02", half_days_per_week=2,
           duration_bucket="over_3_months")
    h.then("TrajectoryClosed", "RS6", "T12", "2020-06-26", perspective="back_full_time_current_school")


def group_history(h: History) -> None:
    """Primary G1, G2 and secondary G3 (asked in May 2019 for 2019-2020), G4 in 2019-2020; G5 in 2018-2019."""
    h.groups("G1", "2019-10-15",
             group("g1a", "primary", "primary_mainstream", "grade_6", "class_group", 22, "class_action",
                   class_action_theme="resilience_self_control"),
             group("g1b", "primary", "primary_mainstream", "grade_5", "class_group", 20, "theme_workshop"))
    h.groups("G2", "2019-11-12", group("g2a", "primary", "primary_special_needs", "not_applicable",
             "school_composed_group", 6, "school_composed_group", bubao_type="type_7"))
    h.group_event("GroupTrajectoryDispatched", "G1", "g1a", "2019-10-20", provider_id="abrusco", module="class_action")
    h.group_event("GroupTrajectoryStarted", "G1", "g1a", "2019-11-04")
    h.group_event("GroupTrajectoryCompleted", "G1", "g1a", "2019-12-20", class_hours=12, pupils_reached=21)
    h.group_event("GroupTrajectoryDispatched", "G1", "g1b", "2019-10-20", provider_id="abrusco",
                  module="theme_workshop")
    h.group_event("GroupTrajectoryStarted", "G1", "g1b", "2019-11-05")
    h.group_event("GroupTrajectoryStoppedEarly", "G1", "g1b", "2020-03-16", reason="corona_crisis", class_hours=2)
    h.group_event("GroupTrajectoryDispatched", "G2", "g2a", "2019-11-20", provider_id="abrusco",
                  module="school_composed_group")
    h.group_event("GroupTrajectoryNotStarted", "G2", "g2a", "2020-03-20", reason="corona_crisis")
    h.groups("G3", "2019-05-20",
             group("g3a", "secondary", "secondary_a_stream", "grade_1", "class_group", 24, "theme_workshop"),
             group("g3b", "secondary", "secondary_a_stream", "grade_2", "class_group", 25, "theme_workshop"),
             group("g3c", "secondary", "secondary_special_needs", "not_applicable", "class_group", 10,
                   "class_action", buso_type="basic_offer", buso_training_form="ov3"),
             for_school_year="2019-2020")
    h.groups("G4", "2019-10-08", group("g4a", "secondary", "secondary_bso", "grade_3", "restorative_group", 3,
                                       "restorative"))
    h.group_event("GroupTrajectoryDispatched", "G3", "g3a", "2019-09-05", provider_id="abrusco",
                  module="theme_workshop")
    h.group_event("GroupTrajectoryStarted", "G3", "g3a", "2019-09-16")
    h.group_event("GroupTrajectoryCompleted", "G3", "g3a", "2019-09-16", class_hours=3, pupils_reached=24)
    h.group_event("GroupTrajectoryDispatched", "G3", "g3b", "2019-09-05", provider_id="abrusco",
                  module="theme_workshop")
    h.group_event("GroupTrajectoryStarted", "G3", "g3b", "2019-09-17")
    h.group_event("GroupTrajectoryCompleted", "G3", "g3b", "2019-09-17", class_hours=6, pupils_reached=23)
    h.group_event("GroupTrajectoryDispatched", "G3", "g3c", "2019-09-10", provider_id="groep-intro",
                  module="class_action")
    h.group_event("GroupTrajectoryStarted", "G3", "g3c", "2019-10-01")
    h.groups("G5", "2018-10-10", group("g5a", "secondary", "secondary_aso", "grade_3", "class_group", 20,
                                       "class_action"))
    h.group_event("GroupTrajectoryDispatched", "G5", "g5a", "2018-10-15", provider_id="abrusco", module="class_action")
    h.group_event("GroupTrajectoryStarted", "G5", "g5a", "2018-10-22")
    h.group_event("GroupTrajectoryCompleted", "G5", "g5a", "2018-12-14", class_hours=8, pupils_reached=19)
