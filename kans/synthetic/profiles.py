"""Who is referred: a pupil (stable across referrals and years) and the full referral profile of DOMAIN §4, drawn
from the report's distributions (`figures`). Age, grade and school delay always agree:
school-year start - birth year = 5 (primary) or 11 (secondary) + grade + years of delay."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kans.synthetic import figures as f
from kans.synthetic.calendar import randint

AGE_BASE = {"primary": 5, "secondary": 11}
DELAY_CODES = ("none", "one_year", "two_years", "three_or_more", "three_or_more")
CORONA_FORM = f.counts([("secondary_a_stream", 35), ("secondary_b_stream", 12), ("secondary_aso", 15),
                        ("secondary_tso", 10), ("secondary_bso", 15), ("secondary_part_time", 6),
                        ("secondary_special_needs", 5), ("secondary_okan", 2)])  # fmt: skip
UNGRADED_AGE = {"primary_special_needs": (6, 12), "secondary_special_needs": (13, 20), "secondary_okan": (12, 17),
                "unknown": (12, 18)}  # fmt: skip


@dataclass(slots=True)
class Pupil:
    """A pupil as the generator knows them: the source's pupil id and what does not change between referrals."""

    pupil_id: str
    gender: str
    birth_year: int
    birth_month: int
    travel_ok: bool  # day-care places outside Brussels are feasible for this family
    profile: dict[str, Any]  # the schooling part of the latest referral, advanced a year at re-referral
    school: tuple[str | None, str] = (None, "unknown")  # school id and location
    household: dict[str, Any] | None = None  # the home address the source sends (only its key is stored)


def _delay_years(rng: random.Random, level: str, offer: str, part_time: bool) -> int:
    if part_time:
        return f.PART_TIME_DELAY.pick(rng)
    return f.PRIMARY_DELAY[offer].pick(rng) if level == "primary" else f.SECONDARY_DELAY.pick(rng)


def schooling(rng: random.Random, level: str, offer: str, part_time_share: float) -> tuple[dict[str, Any], int]:
    """Level, education form, grade and special-needs fields, with the age (years since birth at the school year's
    start) that fits them."""
    if level == "primary":
        if rng.random() < f.PRIMARY_SPECIAL_NEEDS_SHARE:
            low, high = UNGRADED_AGE["primary_special_needs"]
            return {"level": level, "education_form": "primary_special_needs", "grade": "not_applicable",
                    "bubao_type": f.BUBAO_TYPE.pick(rng)}, randint(rng, low, high)  # fmt: skip
        grade, delay = f.PRIMARY_GRADE.pick(rng), _delay_years(rng, level, offer, False)
        return {"level": level, "education_form": "primary_mainstream", "grade": f"grade_{grade}",
                "school_delay": DELAY_CODES[delay]}, AGE_BASE[level] + grade + delay  # fmt: skip
    if offer == "corona":
        form = CORONA_FORM.pick(rng)
    else:
        form = "secondary_part_time" if rng.random() < part_time_share else f.SECONDARY_FORM.pick(rng)
    if form == "secondary_part_time":
        grade_code = "not_applicable" if rng.random() < 0.94 else "unknown"
        return {
            "level": level,
            "education_form": form,
            "grade": grade_code,
            "school_delay": DELAY_CODES[_delay_years(rng, level, offer, True)],
        }, f.PART_TIME_AGE.pick(rng)
    if form in f.SECONDARY_GRADES:
        grade, delay = f.SECONDARY_GRADES[form].pick(rng), _delay_years(rng, level, offer, False)
        return {"level": level, "education_form": form, "grade": f"grade_{grade}",
                "school_delay": DELAY_CODES[delay]}, AGE_BASE[level] + grade + delay  # fmt: skip
    low, high = UNGRADED_AGE[form]
    fields: dict[str, Any] = {"level": level, "education_form": form,
                              "grade": "unknown" if form == "unknown" else "not_applicable"}  # fmt: skip
    if form == "secondary_special_needs":
        fields.update(buso_type=f.BUSO_TYPE.pick(rng), buso_training_form=f.BUSO_TRAINING_FORM.pick(rng))
    return fields, randint(rng, low, high)


def new_pupil(rng: random.Random, pupil_id: str, start_year: int, level: str, offer: str,
              part_time_share: float) -> Pupil:  # fmt: skip
    """A pupil referred for the first time in the school year starting `start_year`."""
    fields, age = schooling(rng, level, offer, part_time_share)
    boy_share = (f.PRIMARY_BOY_SHARE if level == "primary" else f.SECONDARY_BOY_SHARE)[offer]
    roll = rng.random()
    gender = "boy" if roll < boy_share else "girl" if roll < 0.993 else "other" if roll < 0.996 else "unknown"
    return Pupil(pupil_id, gender, start_year - age, randint(rng, 1, 12), rng.random() < 0.7, fields)


def advance_year(rng: random.Random, pupil: Pupil) -> bool:
    """Move the pupil's schooling on by one school year (or a repeated year); False when they leave the levels
    the desk serves. The age-grade rule keeps holding: a repeated year adds a year of delay."""
    fields = pupil.profile
    grade = fields.get("grade", "")
    if not grade.startswith("grade_"):
        return fields["level"] == "secondary" and fields["education_form"] != "secondary_special_needs"
    number, delay = int(grade[6:]), DELAY_CODES.index(fields.get("school_delay", "none"))
    if rng.random() < 0.15 and delay < 3:
        fields["school_delay"] = DELAY_CODES[delay + 1]
        return True
    top = 6 if fields["level"] == "primary" else (7 if fields["education_form"] == "secondary_bso" else 6)
    if number < top:
        fields["grade"] = f"grade_{number + 1}"
        if fields["education_form"] in ("secondary_a_stream", "secondary_b_stream") and number + 1 > 2:
            fields["education_form"] = "secondary_bso" if fields["education_form"] == "secondary_b_stream" else (
                "secondary_aso" if rng.random() < 0.5 else "secondary_tso")  # fmt: skip
        return True
    if fields["level"] == "primary":
        pupil.profile = {"level": "secondary", "education_form": "secondary_a_stream", "grade": "grade_1",
                         "school_delay": fields["school_delay"]}  # fmt: skip
        return True
    return False


def _multi(rng: random.Random, shares: Mapping[str, float], scale: float = 1.0) -> list[str]:
    return [code for code, share in shares.items() if rng.random() < share * scale]


# The report's 'Andere' ambulant care by kind, where a source codes it (of the secondary 25: diagnostics 4, speech
# therapy 3, street work 3, the Roma service 1, youth work 1; of the primary 3: diagnostics, D'Broej and one other).
OTHER_CARE_KINDS = {False: ["diagnostic_assessment"] * 4 + ["speech_therapy", "street_work"] * 3
                    + ["roma_mediation", "youth_work"] + ["other"] * 13,
                    True: ["diagnostic_assessment", "youth_work", "other"]}  # fmt: skip


def _other_care_kind(pupil: Pupil, care: list[str], primary: bool) -> list[str]:
    """'other' ambulant care as its coded kind, chosen from a hash of the pupil (the year's random stream is left as
    it was before the kinds had codes)."""
    if "other" not in care:
        return care
    kinds = OTHER_CARE_KINDS[primary]
    kind = kinds[int(hashlib.sha256(f"care|{pupil.pupil_id}".encode()).hexdigest()[:8], 16) % len(kinds)]
    return [kind if code == "other" else code for code in care]


def _absence(rng: random.Random, key: tuple[str, str]) -> int:
    low, high = f.ABSENCE_BUCKETS[f.ABSENCES[key].pick(rng)]
    return randint(rng, low, high)


def referral_profile(rng: random.Random, pupil: Pupil, offer: str) -> dict[str, Any]:
    """Every profile field of a referral (DOMAIN §4) except channel and referrer, in the contract's names.
    Unregistered answers stay visible: `unknown` codes and nulls in a few percent of the referrals."""
    fields = pupil.profile
    level, form = fields["level"], fields["education_form"]
    primary, corona, part_time = level == "primary", offer == "corona", form == "secondary_part_time"
    profile: dict[str, Any] = {"offer_type": offer, **fields, "gender": pupil.gender,
                               "birth_year": pupil.birth_year, "birth_month": pupil.birth_month,
                               "school_id": pupil.school[0], "school_location": pupil.school[1]}  # fmt: skip
    postcode = (f.PRIMARY_RESIDENCE if primary else f.SECONDARY_RESIDENCE).pick(rng)
    if postcode is not None:
        profile["residence_postcode"] = postcode
    language = (f.PRIMARY_LANGUAGE if primary else f.SECONDARY_LANGUAGE).pick(rng)
    profile["home_language"] = language
    if language == "other" and (code := f.OTHER_LANGUAGE.pick(rng)) is not None:
        profile["home_language_code"] = code
    if "school_delay" not in profile:
        profile["school_delay"] = "unknown" if form != "secondary_special_needs" else DELAY_CODES[randint(rng, 0, 2)]
    elif rng.random() < 0.02:
        profile["school_delay"] = "unknown"
    if primary:
        profile["primary_schools_attended"] = f.PRIMARY_SCHOOLS.pick(rng)
    else:
        profile["primary_schools_attended"] = f.SECONDARY_PRIMARY_SCHOOLS.pick(rng) if rng.random() > 0.03 else None
        first_grade = fields.get("grade") == "grade_1"
        profile["secondary_schools_attended"] = randint(rng, 1, 2) if first_grade else f.SECONDARY_SCHOOLS.pick(rng)
    if rng.random() > 0.04:  # absences not registered for a few referrals
        profile["absence_b_half_days"] = _absence(rng, ("part_time" if part_time else level, "b"))
        profile["absence_z_half_days"] = _absence(rng, (level, "z"))
        profile["absence_other_half_days"] = _absence(rng, (level, "other"))
    if corona:
        risks = ["other", *_multi(rng, {"demotivation": 0.25, "truancy": 0.1})]
    else:
        risks = _multi(rng, f.PRIMARY_RISK if primary else f.PART_TIME_RISK if part_time else f.SECONDARY_RISK)
        risks = risks or ["behaviour_problems" if primary or rng.random() < 0.5 else "demotivation"]
    profile["risk_behaviours"] = risks
    profile["discipline"] = (
        "none" if corona else (f.PRIMARY_DISCIPLINE if primary else f.SECONDARY_DISCIPLINE).pick(rng)
    )
    if not primary:
        situation = _multi(rng, f.SECONDARY_SITUATION, 2.2 if part_time or corona else 1.0)
        if form == "secondary_b_stream" and rng.random() < f.B_STREAM_FROM_PRIMARY_4_5:
            situation.append("primary_4_5_to_1b")
        if form == "secondary_special_needs" and "mainstream_despite_special_needs_advice" in situation:
            situation.remove("mainstream_despite_special_needs_advice")
        profile["school_situation"] = situation
    care = f.PRIMARY_CARE if primary else f.SECONDARY_CARE
    profile["ambulant_care"] = _other_care_kind(pupil, _multi(rng, care, 1 / (71 if primary else 280)), primary)
    profile["residential_setting"] = (f.PRIMARY_RESIDENTIAL if primary else f.SECONDARY_RESIDENTIAL).pick(rng)
    profile["support_network"] = rng.random() < (f.PRIMARY_SUPPORT_NETWORK if primary else f.SECONDARY_SUPPORT_NETWORK)
    return profile
