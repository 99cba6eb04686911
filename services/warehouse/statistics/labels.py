"""Dutch labels, sort order and (for zero rows) the full list of codes of every dimension a statistic can have."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
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
# The other dimension of the row whose code a label also depends on: the only one `dimension_label` reads.
LABEL_DEPENDS_ON = {"reason": "status", "category": "aspect", "module": "provider"}
# Each code's place in its FIXED list: its sort order.
FIXED_POSITION = {dimension: {code: i for i, code in enumerate(codes)} for dimension, codes in FIXED.items()}


@dataclass
class LabelContext:
    """What labels need beyond the code lists: provider and module names from the provider facts, and the
    statistic's own codes (measures, aspects ...)."""

    providers: dict[str, str] = field(default_factory=dict)
    modules: dict[tuple[str, str], str] = field(default_factory=dict)
    own: dict[str, dict[str, str]] = field(default_factory=dict)

    @cached_property
    def module_names(self) -> dict[str, str]:
        """Each module's name under the first provider that has it, for a module code seen under another provider
        (made once, on first use: `modules` is complete by then)."""
        names: dict[str, str] = {}
        for (_, module), name in self.modules.items():
            names.setdefault(module, name)
        return names


def month_label(code: str) -> str:
    year, month = code.split("-")
    return f"{MONTHS_NL[int(month) - 1]} {year}"


def _count_label(dimension: str, number: str) -> str:
    n = float(number)
    shown = str(int(n)) if n.is_integer() else str(n).replace(".", ",")
    nouns = {"age": ("jaar", "jaar"), "schools_attended": ("school", "scholen"),
             "half_days_per_week": ("dagdeel per week", "dagdelen per week"),
             "trajectories_per_pupil": ("traject", "trajecten"),
             "referrals_per_school": ("aanmelding", "aanmeldingen")}  # fmt: skip
    one, many = nouns[dimension]
    return f"{shown} {one if n == 1 else many}"


def dimension_label(dimension: str, code: str | None, row: dict[str, Any], ctx: LabelContext) -> str:
    """The Dutch label of one code of one dimension (`row`: the other codes of the same row, of which only the one
    `LABEL_DEPENDS_ON` names is read)."""
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
    if dimension in ("age", "schools_attended", "half_days_per_week", "trajectories_per_pupil", "referrals_per_school"):
        return _count_label(dimension, code)
    if dimension == "residence_postcode":
        place = load_codelists()["brussels_postcode"].get(code)
        return f"{code} {place}" if place else f"{code} (buiten het Brussels Hoofdstedelijk Gewest)"
    if dimension == "provider":
        return ctx.providers.get(code, code)
    if dimension == "module":
        provider = str(row.get("provider") or "")
        return ctx.modules.get((provider, code)) or ctx.module_names.get(code, code)
    return code


def sort_key(dimension: str, code: str | None, label_nl: str, own: dict[str, dict[str, str]]) -> tuple[int, float, str]:
    """The statistic's own order, code-list order, numbers by value, months in time; unknown / not registered last."""
    if dimension in own and code in own[dimension]:
        return (0, float(list(own[dimension]).index(code)), "")
    if code is None or code in ORDER_LAST:
        return (2, float(ORDER_LAST.index(code)) if code in ORDER_LAST else 9.0, "")
    list_name = CODELIST_OF.get(dimension)
    if list_name is not None and code in _codelist_position(list_name):
        return (0, float(_codelist_position(list_name)[code]), "")
    if dimension in FIXED and code in FIXED[dimension]:
        return (0, float(FIXED_POSITION[dimension][code]), "")
    try:
        return (0, float(code), "")
    except ValueError:
        return (1, 0.0, label_nl.lower() if dimension in ("provider", "module") else code)


def label_rows(dimensions: Sequence[str], keys: Sequence[tuple[str | None, ...]], ctx: LabelContext,
               ) -> tuple[list[tuple[str, ...]], list[tuple[int, ...]]]:  # fmt: skip
    """Per row (its codes in `dimensions` order): the label of each code, and its place in the statistic's order as
    one rank per dimension (codes ranked by `sort_key`, then by code).

    A large report has ~35k rows but a few thousand distinct codes: each label and sort key is computed once, per
    dimension over all rows. A code's sort key uses its label in the first row that has it (a module's label depends
    on its provider, its place does not)."""
    if not keys or not dimensions:
        return [() for _ in keys], [() for _ in keys]
    columns = list(zip(*keys, strict=True))  # per dimension, the code of each row
    label_columns, rank_columns = [], []
    for dimension, codes in zip(dimensions, columns, strict=True):
        depends = LABEL_DEPENDS_ON.get(dimension)
        others = columns[dimensions.index(depends)] if depends in dimensions else None
        labels, first_labels = _label_column(dimension, codes, others, ctx)
        if dimension in ctx.own:
            sort_keys = {code: sort_key(dimension, code, text, ctx.own) for code, text in first_labels.items()}
        else:
            sort_keys = {code: _shared_sort_key(dimension, code, text) for code, text in first_labels.items()}
        # Ties (two providers with the same name) by code: the order never depends on how ClickHouse grouped.
        ordered = sorted(sort_keys, key=lambda code: (sort_keys[code], code or ""))
        rank_of = {code: rank for rank, code in enumerate(ordered)}
        label_columns.append(labels)
        rank_columns.append(list(map(rank_of.__getitem__, codes)))
    return list(zip(*label_columns, strict=True)), list(zip(*rank_columns, strict=True))


def _label_column(dimension: str, codes: Sequence[str | None], others: Sequence[str | None] | None,
                  ctx: LabelContext) -> tuple[list[str], dict[str | None, str]]:  # fmt: skip
    """The label of each row's code (`others`: each row's code of the dimension the label depends on, if the
    statistic has it), and of each distinct code its label in the first row that has it (dicts keep that order)."""
    depends = LABEL_DEPENDS_ON.get(dimension)
    if depends is None or others is None:
        by_code = {code: dimension_label(dimension, code, {}, ctx) for code in dict.fromkeys(codes)}
        return list(map(by_code.__getitem__, codes)), by_code
    pairs = list(zip(codes, others, strict=True))
    texts = {(code, other): dimension_label(dimension, code, {depends: other}, ctx)
             for code, other in dict.fromkeys(pairs)}  # fmt: skip
    first_labels: dict[str | None, str] = {}
    for (code, _), text in texts.items():
        first_labels.setdefault(code, text)
    return list(map(texts.__getitem__, pairs)), first_labels


@lru_cache(maxsize=1 << 14)
def _shared_sort_key(dimension: str, code: str | None, label_nl: str) -> tuple[int, float, str]:
    """`sort_key` of a dimension without statistic-specific codes, the same in every statistic: a report sorts the
    same providers in several statistics, and a provider's key costs a failed `float(code)`."""
    return sort_key(dimension, code, label_nl, {})


@cache
def _codelist_position(list_name: str) -> dict[str, int]:
    """Each code's position in its code list (a dict: `list.index` scans, and some lists are long)."""
    return {code: i for i, code in enumerate(allowed(list_name))}


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
