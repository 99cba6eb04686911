"""Who is referred: the referral-profile statistics of the report (R01-R13 primary, R30-R45 secondary).

Each counts individual referrals (a pupil referred twice counts twice; R06 counts addresses) of the school year,
retracted registrations left out (a referral withdrawn as its outcome counts), with the profile as currently known
(or as known on `as_of`); multi-selects count a referral once per code and keep "not registered" visible;
percentages are over the known values (`shaping.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery
from services.warehouse.statistics.sql_parts import (
    AGE,
    PART_TIME,
    REGION,
    STAGE,
    SUPPORT_NETWORK,
    bucket,
    by_aspects,
    by_referrals,
    multi,
)  # fmt: skip

P, S = Section.primary_individual, Section.secondary_individual
REFERRALS_NL = "individuele aanmeldingen {level}"
LARS_ONLY = ("Het rapport toont deze grafiek enkel voor de LARS-aanmeldingen (zonder CLB's buiten Brussel en intake); "
             "dezelfde populatie: exclude_channel=external_clb&exclude_channel=intake.")  # fmt: skip
BY_MONTH = by_referrals({"month": "month", "offer_type": "offer_type"})
ABSENCES = {"b": "absence_b_half_days", "z": "absence_z_half_days", "other": "absence_other_half_days"}


def _absences(codes: tuple[str, ...]) -> Callable[[StatisticQuery], Cells]:
    return by_aspects(("absence_code", "absence_bucket"), {}, {c: bucket(ABSENCES[c]) for c in codes})


CARE_ASPECTS = by_aspects(
    ("aspect", "category"),
    {"ambulant_care": multi("ambulant_care")},
    {"residential_setting": "residential_setting", "support_network": SUPPORT_NETWORK},
)
CARE_LABELS = {"aspect": {"ambulant_care": "Ambulante hulpverlening", "residential_setting": "Residentiële setting",
                          "support_network": "Ondersteuningsnetwerk"}}  # fmt: skip
# The kinds of care the report counted as 'Andere' before they had codes (schemas/codelists/v1.yaml, care_service).
OTHER_CARE = ("other", "diagnostic_assessment", "speech_therapy", "street_work", "roma_mediation", "youth_work")
REGISTERED_CARE = "arrayFilter(c -> c != 'not_registered', ambulant_care)"
CARE_SUMMARY = {
    "ambulant_care_involvements": f"sum(length({REGISTERED_CARE}))",
    "ambulant_care_other": f"countIf(hasAny(ambulant_care, {list(OTHER_CARE)}))",
}
CARE_SUMMARY_LABELS = {
    "ambulant_care_involvements": "Betrokkenheden van ambulante hulpverlening (een aanmelding telt per soort)",
    "ambulant_care_other": "Aanmeldingen met 'andere' ambulante hulpverlening, de gedetailleerde soorten "
    "(diagnostisch onderzoek, logopedie, straathoekwerk, Romadienst, jeugdwelzijnswerk) inbegrepen",
}  # fmt: skip


def care_involved(q: StatisticQuery) -> Cells:
    """R13/R45: ambulant care per kind, residential setting, support network; the involvements and the report's
    'Andere' (other and the detailed kinds together) as summary figures."""
    return q.summary(CARE_ASPECTS(q), q.referrals(), CARE_SUMMARY)
SCHOOLS = by_aspects(("aspect", "schools_attended"), {},
                     {"primary": "toString(primary_schools_attended)",
                      "secondary": "toString(secondary_schools_attended)"})  # fmt: skip


# R06 counts addresses (issue 14, rule 3): the referrals of one household key (one address) count once per postcode,
# a referral without a key (no address sent, or registered before ReferralSubmitted v4) once for itself.
HOUSEHOLDS = "uniqExact(if(household_key = '', concat('referral:', referral_id), household_key))"
HOUSEHOLDS_NOTE = (
    "Het rapport: 'Het aantal registraties voor gemeente ligt lager dan het aantal aanmeldingen. Dat heeft te maken "
    "met dubbelregistraties op eenzelfde adres.' Geteld worden adressen (huishoudens); een aanmelding zonder adres "
    "telt als een eigen adres. Het aantal aanmeldingen staat ernaast."
)


def households_by_postcode(q: StatisticQuery) -> Cells:
    """R06: distinct households (addresses) per residence postcode; the referrals beside them as a summary."""
    cells = q.count(q.referrals(), {"residence_postcode": "residence_postcode"}, HOUSEHOLDS)
    return q.summary(cells, q.referrals(), {"referrals": "count()"})


def _defs(code: str, section: Section, title: str, dims: tuple[str, ...],
          compute: Callable[[StatisticQuery], Cells], ref: str = "", **extra: Any) -> StatisticDef:  # fmt: skip
    level_nl = "basisonderwijs" if section == P else "secundair onderwijs"
    return StatisticDef(
        code=code,
        title_nl=f"{title} ({level_nl})",
        section=section,
        unit=extra.pop("unit", "referrals"),
        dimensions=dims,
        population_nl=extra.pop("population_nl", REFERRALS_NL),
        compute=compute,
        report_ref=ref,
        **extra,
    )


PROFILE_STATISTICS = [
    _defs("R01", P, "Aanmeldingen per maand, regulier en corona-aanbod", ("month", "offer_type"), BY_MONTH, "G1",
          fill=True, report_note_nl=LARS_ONLY),
    _defs("R02", P, "Aanmeldingen naar geslacht en aanbod", ("offer_type", "gender"),
          by_referrals({"offer_type": "offer_type", "gender": "gender"}), "T1", fill=True),
    _defs("R03", P, "Aanmeldingen naar leeftijd bij aanmelding", ("age",), by_referrals({"age": AGE}), "G2",
          report_note_nl=LARS_ONLY),
    _defs("R04", P, "Aanmeldingen naar leerjaar en type buitengewoon onderwijs",
          ("education_form", "grade", "bubao_type"),
          by_referrals({"education_form": "education_form", "grade": "grade", "bubao_type": "bubao_type"}), "G3"),
    _defs("R05", P, "Aanmeldingen naar ligging van de school", ("school_location",),
          by_referrals({"school_location": "school_location"}), fill=True),
    _defs("R06", P, "Aanmeldingen naar woonplaats (postcode), adressen geteld", ("residence_postcode",),
          households_by_postcode, "T2", unit="households",
          population_nl="adressen (huishoudens) van de individuele aanmeldingen {level}",
          summary_labels={"referrals": "Aanmeldingen"}, report_note_nl=HOUSEHOLDS_NOTE),
    _defs("R07", P, "Aanmeldingen naar thuistaal", ("home_language",),
          by_referrals({"home_language": "home_language"}), "G4", fill=True),
    _defs("R08", P, "Aanmeldingen naar schoolse vertraging en aanbod", ("offer_type", "school_delay"),
          by_referrals({"offer_type": "offer_type", "school_delay": "school_delay"}), "G5",
          pct_within=("offer_type",), fill=True),
    _defs("R09", P, "Aanmeldingen naar aantal basisscholen", ("schools_attended",),
          by_referrals({"schools_attended": "toString(primary_schools_attended)"}), "G6", pct_within=()),
    _defs("R10", P, "Aanmeldingen naar aantal B- en Z-codes", ("absence_code", "absence_bucket"),
          _absences(("b", "z")), "G7"),
    _defs("R11", P, "Aanmeldingen naar risicogedrag", ("risk_behaviour",),
          by_referrals({"risk_behaviour": "rb"}, array_join=f"{multi('risk_behaviours')} AS rb"), "G8"),
    _defs("R12", P, "Tuchtsituatie bij aanmelding, vergeleken met het vorige schooljaar",
          ("school_year", "discipline"), by_referrals({"discipline": "discipline"}), previous_year=True,
          pct_within=("school_year",)),
    _defs("R13", P, "Betrokken hulpverlening: ambulant, residentieel, ondersteuningsnetwerk", ("aspect", "category"),
          care_involved, "G9", labels=CARE_LABELS, summary_labels=CARE_SUMMARY_LABELS),
    _defs("R30", S, "Aanmeldingen naar kanaal", ("channel",), by_referrals({"channel": "channel"}), fill=True),
    _defs("R31", S, "Aanmeldingen per maand, regulier en corona-aanbod", ("month", "offer_type"), BY_MONTH, "G18",
          fill=True, report_note_nl=LARS_ONLY),
    _defs("R32", S, "Aanmeldingen naar geslacht, met en zonder corona-aanbod", ("scope", "gender"),
          by_referrals({"scope": "scope", "gender": "gender"},
                       array_join="arrayConcat(['all'], if(offer_type = 'corona', [], ['without_corona'])) AS scope"),
          pct_within=("scope",), fill=True,
          labels={"scope": {"all": "Alle aanmeldingen", "without_corona": "Zonder corona-aanbod"}}),
    _defs("R33", S, "Aanmeldingen naar leeftijd en aanbod", ("offer_type", "age"),
          by_referrals({"offer_type": "offer_type", "age": AGE}), "G19"),
    _defs("R34", S, "Aanmeldingen naar leerjaar (gewoon secundair onderwijs)", ("grade",),
          by_referrals({"grade": "grade"}, where=("education_form != 'secondary_special_needs'",)), "G20",
          report_note_nl=LARS_ONLY),
    _defs("R35", S, "Aanmeldingen naar graad en onderwijsvorm (gewoon secundair onderwijs)",
          ("stage", "education_form"),
          by_referrals({"stage": STAGE, "education_form": "education_form"},
                       where=("education_form != 'secondary_special_needs'",)), "G21, G22"),
    _defs("R36", S, "Aanmeldingen buitengewoon secundair onderwijs naar type en opleidingsvorm",
          ("buso_type", "buso_training_form"),
          by_referrals({"buso_type": "buso_type", "buso_training_form": "buso_training_form"},
                       where=("education_form = 'secondary_special_needs'",)), "G23"),
    _defs("R37", S, "Aanmeldingen naar ligging van de school en Centra voor Leren en Werken",
          ("school_location", "part_time"),
          by_referrals({"school_location": "school_location", "part_time": PART_TIME}), fill=True),
    _defs("R38", S, "Aanmeldingen naar woonplaats, Brusselse en niet-Brusselse gemeenten",
          ("region", "residence_postcode"),
          by_referrals({"region": REGION, "residence_postcode": "residence_postcode"}), "T7", pct_within=()),
    _defs("R39", S, "Aanmeldingen naar thuistaal", ("home_language",),
          by_referrals({"home_language": "home_language"}), "G24", fill=True),
    _defs("R40", S, "Aanmeldingen naar schoolse vertraging", ("school_delay",),
          by_referrals({"school_delay": "school_delay"}), "G25", pct_within=(), fill=True),
    _defs("R41", S, "Aanmeldingen naar aantal basisscholen en secundaire scholen", ("aspect", "schools_attended"),
          SCHOOLS, "G26, G27", pct_within=("aspect",),
          labels={"aspect": {"primary": "Aantal basisscholen", "secondary": "Aantal secundaire scholen"}}),
    _defs("R42", S, "Aanmeldingen naar aantal B-, Z- en andere codes", ("absence_code", "absence_bucket"),
          _absences(("b", "z", "other")), "G28", pct_within=("absence_code",)),
    _defs("R43", S, "Aanmeldingen naar risicogedrag", ("risk_behaviour",),
          by_referrals({"risk_behaviour": "rb"}, array_join=f"{multi('risk_behaviours')} AS rb"), "G29"),
    _defs("R44", S, "Bijzonderheden schoolse situatie en tucht", ("aspect", "category"),
          by_aspects(("aspect", "category"), {"school_situation": multi("school_situation")},
                     {"discipline": "discipline"}), "G30",
          labels={"aspect": {"school_situation": "Bijzonderheden schoolse situatie", "discipline": "Tucht"}}),
    _defs("R45", S, "Betrokken hulpverlening: ambulant, residentieel, ondersteuningsnetwerk", ("aspect", "category"),
          care_involved, "G31, G32",
          labels=CARE_LABELS, summary_labels=CARE_SUMMARY_LABELS),
]  # fmt: skip
