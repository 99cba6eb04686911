"""Dutch labels, sort order and (for zero rows) the full list of codes of every dimension a statistic can have."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.codelists import allowed, label, load_codelists

MONTHS_NL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december"]  # fmt: skip
# Dimensions whose codes are the codes of a contract code list.
CODELIST_OF = {
    "offer_type": "offer_type", "gender": "gender", "level": "level", "channel": "channel",
    "education_form": "education_form", "grade": "grade", "bubao_type": "bubao_type", "buso_type": "buso_type",
    "buso_training_form": "buso_training_form", "school_location": "school_location",
    "home_language": "home_language", "school_delay": "school_delay", "discipline": "discipline",
    "residential_setting": "residential_setting", "group_kind": "group_kind", "group_module": "group_module",
    "requested_module": "group_module", "perspective": "perspective", "not_started_reason": "not_started_reason",
    "early_stop_reason": "early_stop_reason", "group_not_started_reason": "group_not_started_reason",
    "group_early_stop_reason": "group_early_stop_reason", "cancel_reason": "round_table_cancel_reason",
    "advice_kind": "advice_kind", "duration_bucket": "duration_bucket", "risk_behaviour": "risk_behaviour",
    "school_situation": "school_situation", "care_service": "care_service", "municipality": "municipality",
    "round_table_outcome": "round_table_outcome", "class_action_theme": "class_action_theme",
    "withdraw_reason": "withdraw_reason",
}  # fmt: skip
# The list a `category` code belongs to, by the row's `aspect`.
ASPECT_LIST = {
    "ambulant_care": "care_service",
    "residential_setting": "residential_setting",
    "school_situation": "school_situation",
    "discipline": "discipline",
    "duration": "duration_bucket",
}
MISSING = {"not_registered": "Niet geregistreerd", "none": "Geen", "unknown": "Onbekend", "": "Geen"}
FIXED = {
    "absence_code": {"b": "B-codes (problematisch afwezig)", "z": "Z-codes (ziek)", "other": "Andere codes"},
    "absence_bucket": {"0-5": "0 tot 5", "6-15": "6 tot 15", "16-30": "16 tot 30", "over_30": "Meer dan 30"},
    "region": {"brussels": "Brusselse gemeenten", "outside_brussels": "Niet-Brusselse gemeenten"},
    "stage": {"stage_1": "1ste graad", "stage_2": "2de graad", "stage_3": "3de graad",
              "not_applicable": "Niet van toepassing"},
    "part_time": {"yes": "Centrum voor Leren en Werken (deeltijds)", "no": "Andere school"},
    "support_network": {"yes": "Ondersteuningsnetwerk betrokken", "no": "Niet betrokken"},
    "class_hours_bucket": {"under_5": "Minder dan 5 lesuren", "5_to_9": "5 tot 9 lesuren",
                           "10_to_19": "10 tot 19 lesuren", "20_plus": "20 lesuren of meer"},
    "status": {"waiting": "Nog niet opgestart (wacht)", "running": "Opgestart, loopt", "started": "Opgestart",
               "not_started": "Niet opgestart", "stopped_early": "Vroegtijdig stopgezet", "closed": "Afgerond",
               "completed": "Afgerond", "effectively_run": "Effectief gelopen (opgestart min stopgezet)",
               "not_dispatched": "Nog niet doorgegeven", "held": "Gehouden", "cancelled": "Geannuleerd",
               "scheduled": "Gepland"},
}  # fmt: skip
ORDER_LAST = ("unknown", "not_registered", "none", "")
# Dimensions where null means "does not apply to this row" (a reason for a started trajectory, a BuSO type ...).
NOT_APPLICABLE = frozenset(
    {"reason", "not_started_reason", "cancel_reason", "bubao_type", "buso_type", "buso_training_form"}
)


@dataclass
class LabelContext:
    """What labels need beyond the code lists: provider and module names from the provider facts, and the
    statistic's own codes (measures, aspects ...)."""

    providers: dict[str, str] = field(default_factory=dict)
    modules: dict[tuple[str, str], str] = field(default_factory=dict)
    own: dict[str, dict[str, str]] = field(default_factory=dict)


def month_label(code: str) -> str:
    year, month = code.split("-")
    return f"{MONTHS_NL[int(month) - 1]} {year}"


def _count_label(dimension: str, number: str) -> str:
    n = float(number)
    shown = str(int(n)) if n.is_integer() else str(n).replace(".", ",")
    nouns = {"age": ("jaar", "jaar"), "schools_attended": ("school", "scholen"),
             "half_days_per_week": ("dagdeel per week", "dagdelen per week"),
             "trajectories_per_pupil": ("traject", "trajecten")}  # fmt: skip
    one, many = nouns[dimension]
    return f"{shown} {one if n == 1 else many}"


def dimension_label(dimension: str, code: str | None, row: dict[str, Any], ctx: LabelContext) -> str:
    """The Dutch label of one code of one dimension (`row`: the other codes of the same row)."""
    if dimension in ctx.own and code in ctx.own[dimension]:
        return ctx.own[dimension][code]
    if code is None and dimension in NOT_APPLICABLE:
        return "Niet van toepassing"
    if code is None or code in MISSING:
        return MISSING.get(code or "unknown", "Onbekend")
    if dimension in CODELIST_OF:
        return label(CODELIST_OF[dimension], code)
    if dimension == "reason":
        reasons = {"not_started": "group_not_started_reason", "stopped_early": "group_early_stop_reason"}
        list_name = reasons.get(str(row.get("status")))
        return label(list_name, code) if list_name else code
    if dimension == "category" and row.get("aspect") == "half_days":
        return _count_label("half_days_per_week", code)
    if dimension == "category":
        list_name = ASPECT_LIST.get(str(row.get("aspect")))
        return label(list_name, code) if list_name else FIXED["support_network"].get(code, code)
    if dimension in FIXED:
        return FIXED[dimension].get(code, code)
    if dimension == "month":
        return month_label(code)
    if dimension in ("age", "schools_attended", "half_days_per_week", "trajectories_per_pupil"):
        return _count_label(dimension, code)
    if dimension == "residence_postcode":
        place = load_codelists()["brussels_postcode"].get(code)
        return f"{code} {place}" if place else f"{code} (buiten het Brussels Hoofdstedelijk Gewest)"
    if dimension == "provider":
        return ctx.providers.get(code, code)
    if dimension == "module":
        provider = str(row.get("provider") or "")
        return ctx.modules.get((provider, code)) or next(
            (name for (_, module), name in ctx.modules.items() if module == code), code
        )
    return code


def sort_key(dimension: str, code: str | None, label_nl: str, own: dict[str, dict[str, str]]) -> tuple[int, float, str]:
    """The statistic's own order, code-list order, numbers by value, months in time; unknown / not registered last."""
    if dimension in own and code in own[dimension]:
        return (0, float(list(own[dimension]).index(code)), "")
    if code is None or code in ORDER_LAST:
        return (2, float(ORDER_LAST.index(code)) if code in ORDER_LAST else 9.0, "")
    list_name = CODELIST_OF.get(dimension)
    if list_name is not None and code in load_codelists()[list_name]:
        return (0, float(allowed(list_name).index(code)), "")
    if dimension in FIXED and code in FIXED[dimension]:
        return (0, float(list(FIXED[dimension]).index(code)), "")
    try:
        return (0, float(code), "")
    except ValueError:
        return (1, 0.0, label_nl.lower() if dimension in ("provider", "module") else code)


def domain(dimension: str, school_year: str, own: dict[str, dict[str, str]]) -> list[str] | None:
    """Every code of a dimension, for zero rows; None when the dimension has no fixed list."""
    if dimension in own:
        return list(own[dimension])
    if dimension == "school_year":  # a previous-year statistic: that year and this one
        start = int(school_year[:4])
        return [f"{start - 1}-{start}", school_year]
    if dimension == "month":
        start = int(school_year[:4])
        return [f"{start if m >= 9 else start + 1}-{m:02d}" for m in [*range(9, 13), *range(1, 9)]]
    if dimension in CODELIST_OF:
        return allowed(CODELIST_OF[dimension])
    if dimension in FIXED:
        return list(FIXED[dimension])
    return None
