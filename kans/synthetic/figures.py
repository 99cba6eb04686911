"""Distributions of the referral profile, taken from the desk's 2019-2020 annual report (table/graph numbers in
the comments; where the report gives no figure, a plausible one that fits its text). Pure data plus `Weighted`,
a fast weighted choice."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted choice among values: `pick(rng)` costs one random number and a bisection."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def counts(pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
    return Weighted(pairs)


# --- primary (report §1.1.2) -------------------------------------------------------------------------------
PRIMARY_BOY_SHARE = {"regular": 27 / 35, "corona": 0.5}  # T1: 27/8 regular, 18/18 corona
PRIMARY_GRADE = counts([(1, 12), (2, 12), (3, 11), (4, 11), (5, 8), (6, 7)])  # G3: graad 1 24, 2 22, 3 15
PRIMARY_SPECIAL_NEEDS_SHARE = 0.06  # 3 of 71 (6 of 38 the year before)
BUBAO_TYPE = counts([("type_3", 5), ("type_7", 2), ("basic_offer", 2), ("type_9", 1), ("type_4", 1)])
PRIMARY_DELAY = {  # G5: regular 57/33/8 %, corona 44/41/11 %
    "regular": counts([(0, 58), (1, 33), (2, 8), (3, 1)]),
    "corona": counts([(0, 44), (1, 41), (2, 11), (3, 4)]),
}
PRIMARY_SCHOOLS = counts([(1, 56), (2, 29), (3, 14), (5, 1)])  # G6
PRIMARY_SCHOOL_LOCATION = counts([("brussels", 63), ("outside_brussels", 7), ("unknown", 1)])
PRIMARY_RESIDENCE = counts([  # T2 (62 registrations)
    ("1030", 12), ("1070", 11), ("1080", 10), ("1090", 6), ("1000", 3), ("1081", 3), ("1050", 2), ("1140", 2),
    ("1020", 1), ("1060", 2), ("1082", 1), ("1180", 1), ("1200", 1), ("1310", 1), ("1400", 1), ("1650", 1),
    ("1860", 1), (None, 3),
])  # fmt: skip
PRIMARY_LANGUAGE = counts([("french", 34), ("other", 27), ("dutch", 5), ("unknown", 2)])  # G4
PRIMARY_RISK = {"behaviour_problems": 24 / 35, "demotivation": 3 / 35, "internalising": 2 / 35, "truancy": 0.02}
PRIMARY_DISCIPLINE = counts([("none", 23), ("threatened", 7), ("procedure_started", 4), ("excluded", 1)])
PRIMARY_CARE = {  # G9, of 71
    "psychological_support": 7, "mental_health_centre": 5, "context_support": 5, "child_abuse_centre": 4,
    "psychiatry": 3, "jac_caw": 2, "ocj": 1, "youth_court_social_service": 1, "crisis_support": 1, "ckg": 1,
    "other": 3,
}  # fmt: skip
PRIMARY_RESIDENTIAL = counts([("none", 66), ("foster_care", 1), ("facility", 1), ("boarding_school", 1),
                              ("unknown", 2)])  # fmt: skip
PRIMARY_SUPPORT_NETWORK = 17 / 71

# --- secondary (report §2.1.2) -----------------------------------------------------------------------------
SECONDARY_BOY_SHARE = {"regular": 0.74, "corona": 0.49}  # 70% without corona in 19-20, 76% / 79% before
SECONDARY_FORM = counts([  # G21 without the part-time (L&W) pupils, who are drawn by part_time_share
    ("secondary_aso", 46), ("secondary_bso", 44), ("secondary_a_stream", 28), ("secondary_b_stream", 28),
    ("secondary_tso", 30), ("secondary_special_needs", 25), ("secondary_kso", 4), ("secondary_okan", 3),
    ("unknown", 3),
])  # fmt: skip
SECONDARY_GRADES = {  # G20/G22: first graad for A/B-stream, later grades decreasing; BSO has a 7th year
    "secondary_a_stream": counts([(1, 60), (2, 40)]),
    "secondary_b_stream": counts([(1, 60), (2, 40)]),
    "secondary_aso": counts([(3, 35), (4, 27), (5, 21), (6, 17)]),
    "secondary_tso": counts([(3, 33), (4, 27), (5, 22), (6, 18)]),
    "secondary_kso": counts([(3, 30), (4, 30), (5, 20), (6, 20)]),
    "secondary_bso": counts([(3, 30), (4, 25), (5, 20), (6, 15), (7, 10)]),
}
BUSO_TYPE = counts([("basic_offer", 8), ("type_9", 6), ("type_3", 4), ("type_2", 3), ("type_7", 3), ("type_6", 1)])
BUSO_TRAINING_FORM = counts([("ov3", 20), ("ov4", 3), ("ov2", 1), ("ov1", 1)])  # G23: mostly OV3
SECONDARY_DELAY = counts([(0, 52), (1, 24), (2, 14), (3, 7), (4, 3)])  # G25: 42% none with part-time
PART_TIME_DELAY = counts([(0, 15), (1, 22), (2, 30), (3, 23), (4, 10)])
PART_TIME_AGE = counts([(15, 8), (16, 22), (17, 35), (18, 22), (19, 9), (20, 4)])  # G19: the 17-year-olds peak
SECONDARY_PRIMARY_SCHOOLS = counts([(0, 21), (1, 120), (2, 64), (3, 45), (4, 12), (5, 4)])  # G26
SECONDARY_SCHOOLS = counts([(1, 105), (2, 65), (3, 45), (4, 25), (5, 16), (6, 8)])  # G27: 9% five or more
SECONDARY_SCHOOL_LOCATION = counts([("brussels", 260), ("outside_brussels", 17), ("unknown", 3)])
SECONDARY_RESIDENCE = counts([  # T7: 227 Brussels, 53 elsewhere, 2 unknown
    ("1080", 46), ("1070", 42), ("1000", 22), ("1020", 15), ("1030", 14), ("1082", 13), ("1190", 11),
    ("1081", 8), ("1200", 7), ("1090", 6), ("1060", 5), ("1050", 5), ("1120", 5), ("1140", 5), ("1083", 5),
    ("1180", 4), ("1210", 4), ("1130", 2), ("1160", 1), ("1170", 1), ("1150", 1), ("1040", 1),
    ("1800", 6), ("1950", 3), ("1850", 3), ("1500", 2), ("1480", 2), ("1700", 2), ("1601", 2), ("1780", 1),
    ("1860", 1), ("1830", 1), ("2820", 1), ("2830", 1), ("1400", 1), ("3080", 1), ("6040", 1), ("1982", 1),
    ("9160", 1), ("1745", 1), ("1653", 1), ("1790", 1), ("1670", 1), ("1820", 1), ("1831", 1), ("1701", 1),
    ("1853", 1), ("1702", 1), ("1502", 1), ("1703", 1), ("2800", 1), ("1731", 1), ("1540", 1), ("1740", 1),
    ("3300", 1), ("1640", 1), ("7012", 1), ("9400", 1), ("1652", 1), ("1651", 1), ("1600", 4), (None, 2),
])  # fmt: skip
SECONDARY_LANGUAGE = counts([("french", 50), ("other", 32), ("dutch", 15), ("unknown", 3)])  # G24
SECONDARY_RISK = {"behaviour_problems": 0.5, "demotivation": 0.33, "truancy": 0.22, "internalising": 0.14,
                  "other": 0.06}  # fmt: skip
PART_TIME_RISK = {"behaviour_problems": 0.3, "demotivation": 0.6, "truancy": 0.4, "internalising": 0.12,
                  "other": 0.06}  # fmt: skip
SECONDARY_DISCIPLINE = counts([("none", 190), ("threatened", 32), ("procedure_started", 51), ("excluded", 3),
                               ("unknown", 4)])  # fmt: skip
SECONDARY_SITUATION = {  # G30, of 280; 32 of the 68 part-time pupils had an increased early-leaving risk
    "early_leaving_risk": 0.2, "repeated_year": 38 / 280, "frequent_study_field_change": 23 / 280,
    "mainstream_despite_special_needs_advice": 5 / 280,
}  # fmt: skip
B_STREAM_FROM_PRIMARY_4_5 = 7 / 28  # moved from the 4th/5th primary grade to 1B
SECONDARY_CARE = {  # G31, 116 involvements for 280 referrals; "other" the most frequent
    "other": 25, "youth_court_social_service": 18, "psychiatry": 16, "mental_health_centre": 16,
    "psychological_support": 13, "ocj": 11, "context_support": 8, "jac_caw": 5, "crisis_support": 3,
    "solentra": 2, "child_abuse_centre": 2, "yar": 1,
}  # fmt: skip
SECONDARY_RESIDENTIAL = counts([  # G32: 31 of 280 in a residential setting
    ("none", 245), ("boarding_school", 9), ("mfc", 7), ("facility", 6), ("community_institution", 2),
    ("supported_independent_living", 2), ("psychiatry", 1), ("foster_care", 1), ("oooc", 1), ("other", 2),
    ("unknown", 4),
])  # fmt: skip
SECONDARY_SUPPORT_NETWORK = 11 / 280

# --- both levels --------------------------------------------------------------------------------------------
# The actual language when home_language is `other`: the languages the LARS export names (its mapping).
OTHER_LANGUAGE = counts([("ar", 40), ("ber", 18), ("tr", 8), ("ro", 8), ("bg", 5), ("pl", 4), ("es", 4),
                         ("pt", 4), ("sq", 3), ("ru", 3), ("en", 3), (None, 10)])  # fmt: skip
# Half-days of absence at referral (G7, G28): buckets 0-5, 6-15, 16-30, > 30.
ABSENCE_BUCKETS = ((0, 5), (6, 15), (16, 30), (31, 120))
ABSENCES = {
    ("primary", "b"): counts([(0, 88), (1, 8), (2, 3), (3, 1)]),
    ("primary", "z"): counts([(0, 80), (1, 14), (2, 4), (3, 2)]),
    ("primary", "other"): counts([(0, 85), (1, 11), (2, 3), (3, 1)]),
    ("secondary", "b"): counts([(0, 49), (1, 22), (2, 14), (3, 15)]),  # 49% 0-5 B-codes
    ("secondary", "z"): counts([(0, 58), (1, 25), (2, 11), (3, 6)]),
    ("secondary", "other"): counts([(0, 66), (1, 20), (2, 9), (3, 5)]),
    ("part_time", "b"): counts([(0, 25), (1, 33), (2, 22), (3, 20)]),
}
CHANNEL = {  # report: 266 via LARS, 12 external CLBs, 2 intake (secondary); 65 / 6 (primary)
    ("primary", "regular"): counts([("lars", 91), ("external_clb", 9)]),
    ("secondary", "regular"): counts([("lars", 94), ("external_clb", 4.5), ("intake", 1), ("self", 0.5)]),
    ("primary", "corona"): counts([("lars", 70), ("school_direct", 25), ("external_clb", 5)]),
    ("secondary", "corona"): counts([("lars", 60), ("school_direct", 36), ("external_clb", 4)]),
}
ADVICE_KIND = counts([("youth_care", 50), ("no_kans_offer", 30), ("school_internal_support", 10),
                      ("alternative_learning_path", 6), ("other", 4)])  # fmt: skip
WITHDRAW_REASON = counts([("no_longer_needed", 40), ("pupil_unwilling", 20), ("parents_unwilling", 10),
                          ("other_help_started", 12), ("moved", 8), ("duplicate_referral", 6),
                          ("entered_in_error", 4)])  # fmt: skip

# --- what happens to referrals and trajectories (report §1.1.3-1.1.5, §2.1.3-2.1.4) ---------------------------
ROUND_TABLE_CANCEL = counts([("practical", 5), ("pupil_unwilling", 3), ("no_longer_needed", 1), ("other", 1)])
TRAJECTORIES_AT_ROUND_TABLE = counts([(1, 80), (2, 17), (3, 3)])  # with follow-ups: 96 x1, 40 x2, 11 x3, 1 x4
NOT_STARTED = {  # G11 / §2.1.4.1: 9 pupil, 2 each provider/practical/school/parents, 1 each of the rest
    "regular": counts([("pupil_unwilling", 9), ("provider_declines", 2), ("practical", 2), ("school_unwilling", 2),
                       ("parents_unwilling", 2), ("no_longer_needed", 1), ("youth_court_measure", 1),
                       ("other_help_started", 1), ("other", 1)]),
    "corona": counts([("pupil_unwilling", 3), ("school_youth_coach", 2), ("other", 1)]),
}  # fmt: skip
EARLY_STOP = counts([("pupil_drops_out", 45), ("conditions_not_met", 15), ("other_help_started", 15),
                     ("heavy_class_problems", 5), ("other", 20)])  # fmt: skip
PERSPECTIVE = {  # G13, G38: most pupils go back full time to their school; very few change school for discipline
    "primary": counts([("back_full_time_current_school", 70), ("school_change_fresh_start", 6),
                       ("school_change_other", 6), ("youth_care", 4), ("unknown", 14)]),
    "secondary": counts([("back_full_time_current_school", 52), ("school_change_fresh_start", 9),
                         ("school_change_discipline", 2), ("school_change_other", 6),
                         ("alternative_learning_path", 9), ("work", 4), ("youth_care", 5), ("unknown", 13)]),
    "corona": counts([("back_full_time_current_school", 85), ("unknown", 15)]),
}  # fmt: skip
