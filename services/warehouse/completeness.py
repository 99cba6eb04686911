"""L5 data completeness: which gaps the desk sees per provider and source system while they can still be fixed, each
rule the one the annual report counts by (R51: a started trajectory without duration or half-days per week; R21/R53:
a closed trajectory without perspective), and the referral profile fields the report's tables need, with what
"not registered" looks like in each column derived from its type (`profile_columns.PROFILE_COLUMNS`)."""

from __future__ import annotations

from services.warehouse.profile_columns import PROFILE_COLUMNS

# The profile fields the report's tables count (DOMAIN §8: R02-R13, R32-R45); the Schooling fields (level, education
# form, grade, types) are required by the contract and never missing.
REPORT_FIELDS = (
    "gender", "birth_year", "school_location", "residence_postcode", "home_language", "school_delay",
    "primary_schools_attended", "secondary_schools_attended", "absence_b_half_days", "absence_z_half_days",
    "absence_other_half_days", "risk_behaviours", "discipline", "school_situation", "ambulant_care",
    "residential_setting", "support_network",
)  # fmt: skip
SECONDARY_ONLY = frozenset({"secondary_schools_attended", "school_situation"})
NOT_REGISTERED_CODES = ("unknown", "not_registered", "")

TRAJECTORY_GAPS = {  # check: (condition on trajectory_state, Dutch label)
    "trajectory_without_duration": ("started AND duration_bucket IS NULL",
                                    "Opgestarte trajecten zonder geregistreerde duurtijd"),
    "trajectory_without_half_days": ("started AND half_days_per_week IS NULL",
                                     "Opgestarte trajecten zonder geregistreerd aantal dagdelen per week"),
    "trajectory_without_perspective": ("closed AND perspective IN ('', 'unknown')",
                                       "Afgeronde trajecten zonder perspectief"),
}  # fmt: skip
REFERRAL_GAP = ("referral_missing_profile", "Aanmeldingen met ontbrekende profielgegevens voor het jaarverslag")
STUCK = ("event_without_dispatch", "Trajectgebeurtenissen zonder toewijzing (vastgelopen, ouder dan N dagen)")
LABELS_NL = {**{k: v[1] for k, v in TRAJECTORY_GAPS.items()}, REFERRAL_GAP[0]: REFERRAL_GAP[1], STUCK[0]: STUCK[1]}
CHECKS = tuple(LABELS_NL)


def missing_condition(column: str, clickhouse_type: str) -> str:
    """SQL: `column` holds nothing registered, as its type stores that: a multi-select ['not_registered'], a nullable
    value null, a code `unknown` (or `not_registered`, or empty)."""
    if clickhouse_type.startswith("Array("):
        return f"has({column}, 'not_registered')"
    if "Nullable(" in clickhouse_type:
        return f"{column} IS NULL"
    codes = ", ".join(f"'{c}'" for c in NOT_REGISTERED_CODES)
    return f"{column} IN ({codes})"


def report_fields() -> tuple[str, ...]:
    """The report's fields the warehouse has columns for (a field renamed in the contract drops out, never fails)."""
    return tuple(f for f in REPORT_FIELDS if f in PROFILE_COLUMNS)


def missing_fields_sql() -> str:
    """SQL: the array of the report's fields a `referral_state` row misses (secondary-only fields for secondary)."""
    parts = []
    for name in report_fields():
        condition = missing_condition(name, PROFILE_COLUMNS[name])
        if name in SECONDARY_ONLY:
            condition = f"level = 'secondary' AND {condition}"
        parts.append(f"if({condition}, '{name}', '')")
    return f"arrayFilter(x -> x != '', [{', '.join(parts)}])"
