"""The report's comparison table T5 as a generic "comparison with exclusions" (and R29, its statistic).

Each column counts the referrals of every year in the range after its exclusions: offer types left out, a cut-off
day, and education forms left out either completely or only "in excess of the first year" (the report's column 3
removes the *additional* part-time (L&W) referrals: 68 in 2019-2020 minus the 10 of 2018-2019, counted among every
referral, corona ones included, as the report does; `excess_among="column"` counts them only among the referrals
the column keeps, the stricter reading).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.warehouse.statistics.filters import UNTIL, school_day_key
from services.warehouse.statistics.model import Cell, Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery


class ExclusionColumn(BaseModel):
    """One column of the comparison: which referrals it leaves out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_]{1,40}$", examples=["excl_corona"])
    label_nl: str = Field(max_length=200, examples=["Aanmeldingen, excl. corona-aanmeldingen"])
    exclude_offer_type: tuple[str, ...] = Field((), description="Offer types left out (e.g. corona).")
    exclude_education_form: tuple[str, ...] = Field((), description="Education forms left out (e.g. part-time).")
    education_form_mode: Literal["all", "excess_over_first_year"] = Field(
        "all", description="all: leave them all out; excess_over_first_year: only those beyond the first year's count."
    )
    excess_among: Literal["all_referrals", "column"] = Field(
        "all_referrals", description="excess_over_first_year only. all_referrals: the increase of those education "
        "forms over the first year counted among every referral, whatever the column's other exclusions (the report: "
        "\"68 ... We verlagen het getal met 58\", corona referrals included); column: only among the referrals the "
        "column keeps (stricter)."
    )
    until: str | None = Field(None, description="Only referrals until this day of the school year (MM-DD).")

    @field_validator("until")
    @classmethod
    def _day(cls, value: str | None) -> str | None:
        if value is not None and not UNTIL.match(value):
            raise ValueError("until must be MM-DD, e.g. 03-31")
        return value


T5_COLUMNS: tuple[ExclusionColumn, ...] = (
    ExclusionColumn(code="raw", label_nl="Ruw aantal aanmeldingen"),
    ExclusionColumn(code="excl_corona", label_nl="Aanmeldingen, excl. corona-aanmeldingen",
                    exclude_offer_type=("corona",)),
    ExclusionColumn(code="excl_corona_extra_part_time",
                    label_nl="Aanmeldingen, excl. corona-aanmeldingen en bijkomende NAFT-aanmeldingen (deeltijds)",
                    exclude_offer_type=("corona",), exclude_education_form=("secondary_part_time",),
                    education_form_mode="excess_over_first_year"),
    ExclusionColumn(code="until_03_31", label_nl="Aanmeldingen tot 31/03", until="03-31"),
    ExclusionColumn(code="until_03_31_excl_part_time", label_nl="Aanmeldingen tot 31/03, excl. aanmeldingen uit L&W",
                    until="03-31", exclude_education_form=("secondary_part_time",)),
)  # fmt: skip


def exclusion_counts(q: StatisticQuery, columns: tuple[ExclusionColumn, ...]) -> dict[str, dict[str, float]]:
    """{column code: {school year: referrals}} over q.years (the first year is the baseline of "excess")."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, col in enumerate(columns):
        params[f"c{i}_offer"] = list(col.exclude_offer_type)
        params[f"c{i}_forms"] = list(col.exclude_education_form)
        base = f"NOT has({{c{i}_offer:Array(String)}}, offer_type)"
        if col.until:
            params[f"c{i}_until"] = school_day_key(int(col.until[:2]), int(col.until[3:]))
            base += f" AND date_key <= {{c{i}_until:UInt16}}"
        forms = f"has({{c{i}_forms:Array(String)}}, education_form)"
        everyone = f"date_key <= {{c{i}_until:UInt16}}" if col.until else "1"
        # kept; kept of the forms; of the forms among every referral (the report's base of "extra")
        parts.append(f"countIf({base}), countIf({base} AND {forms}), countIf({everyone} AND {forms})")
    rows = {
        year: values
        for year, *values in q.rows(
            f"SELECT school_year, {', '.join(parts)} FROM {q.referrals()} GROUP BY school_year", params
        )
    }
    first, empty = q.years[0], [0] * (3 * len(columns))
    out: dict[str, dict[str, float]] = {}
    for i, col in enumerate(columns):
        out[col.code] = {}
        of_forms = 3 * i + 1 if col.excess_among == "column" else 3 * i + 2
        baseline = rows.get(first, empty)[of_forms]
        for year in q.years:
            counts = rows.get(year, empty)
            base, excluded = counts[3 * i], counts[3 * i + 1]
            if col.education_form_mode == "excess_over_first_year":
                excluded = max(0, counts[of_forms] - baseline)
            out[col.code][year] = int(base - excluded)
    return out


def t5(q: StatisticQuery) -> Cells:
    """R29: the five T5 columns for the year and the year before."""
    counts = exclusion_counts(q, T5_COLUMNS)
    cells = Cells(dimensions=("variant",))
    for code, per_year in counts.items():
        cells.cells += [Cell(year, (code,), value) for year, value in per_year.items()]
    cells.totals = counts["raw"]
    return cells


R29 = StatisticDef(
    code="R29", title_nl="Vergelijking van het aantal aanmeldingen met het vorige schooljaar (secundair onderwijs)",
    section=Section.secondary_individual, unit="referrals", dimensions=("school_year", "variant"), compute=t5,
    population_nl="individuele aanmeldingen {level}", report_ref="T5", previous_year=True,
    labels={"variant": {c.code: c.label_nl for c in T5_COLUMNS}},
    report_note_nl="Kolom 3 laat enkel de deeltijdse (L&W) aanmeldingen weg die er meer zijn dan in het eerste jaar, "
    "geteld over alle aanmeldingen (ook corona), zoals het jaarverslag; "
    "andere uitsluitingen: GET/POST /v1/stats/comparisons/exclusions.",
)  # fmt: skip
