"""R50: youth coaches in schools (coach op school) and their corona coaching, from the providers' own facts
(`schemas/coaching.py`, the `coaching_log` of migration 0019), not from the desk's referrals: the report counts
"Elf scholen hebben een coach op school ... binnen 14 schoolwerkingen ... 52 dagdelen per week" and, for corona,
"15 leerlingen ... in het gecreëerde studielab ... 23 moeilijk bereikbare jongeren opgevolgd via stoepbezoeken".

Per school year and provider: the coach settings that held on some day of the year (the latest fact per setting,
half-days above 0), their schools, settings and half-days per week, the mean per school; and the pupils of the
corona coaching reports of the year per kind (the latest report per report id). As known now or on `as_of`.
"""

from __future__ import annotations

from typing import Any

from schemas.codelists import allowed, label
from services.warehouse.statistics.as_of import known
from services.warehouse.statistics.model import Cells, Section, StatisticDef
from services.warehouse.statistics.query import StatisticQuery

YEAR_START = "makeDate(toUInt16(left(y, 4)), 9, 1)"
YEAR_END = "makeDate(toUInt16(right(y, 4)), 8, 31)"
IS_SETTING = "setting_id != ''"
SCHOOLS = f"uniqExactIf(school_id, {IS_SETTING})"
KINDS = tuple(allowed("corona_coaching_kind"))


def coaching_source(db: str, conditions: str) -> str:
    """One row per (school year of `{years}`, coach setting that held in it) and per corona coaching report of those
    years: (school_year, provider_id, setting_id, school_id, half_days_per_week, kind, pupils)."""
    settings = known(db, "coaching_log", "event_type = 'ProviderCoachSettingSet'")
    reports = known(db, "coaching_log", "event_type = 'ProviderCoronaCoachingReported'")
    return f"""(
    SELECT * FROM (
        SELECT y AS school_year, provider_id, item_id AS setting_id, school_id, half_days_per_week,
               '' AS kind, toUInt32(0) AS pupils
        FROM (
            SELECT provider_id, item_id, argMax(school_id, seq) AS school_id, argMax(valid_from, seq) AS valid_from,
                   argMax(valid_until, seq) AS valid_until, argMax(half_days_per_week, seq) AS half_days_per_week
            FROM {db}.coaching_log WHERE {settings} GROUP BY provider_id, item_id)
        ARRAY JOIN {{years:Array(String)}} AS y
        WHERE valid_from <= {YEAR_END} AND (valid_until IS NULL OR valid_until >= {YEAR_START})
          AND half_days_per_week > 0 AND {conditions}
        UNION ALL
        SELECT school_year, provider_id, '' AS setting_id, '' AS school_id, NULL AS half_days_per_week, kind, pupils
        FROM (
            SELECT provider_id, item_id, argMax(school_year, seq) AS school_year, argMax(kind, seq) AS kind,
                   argMax(pupils, seq) AS pupils
            FROM {db}.coaching_log WHERE {reports} GROUP BY provider_id, item_id)
        WHERE school_year IN {{years:Array(String)}} AND {conditions}))"""


def youth_coaching(q: StatisticQuery) -> Cells:
    """R50 per provider: schools, settings, half-days per week and their mean per school; corona coaching pupils per
    kind. A provider sees its own rows, a CLB none (these are not its referrals); the provider filter applies."""
    conditions, params = ["1"], dict[str, Any]()
    if q.scope.referrers is not None:
        conditions.append("0")
    if q.scope.providers is not None:
        conditions.append("provider_id IN {coaching_scope:Array(String)}")
        params["coaching_scope"] = sorted(q.scope.providers)
    if q.filters.provider:
        conditions.append("provider_id IN {coaching_providers:Array(String)}")
        params["coaching_providers"] = list(q.filters.provider)
    measures = {
        "schools": SCHOOLS,
        "settings": f"uniqExactIf(setting_id, {IS_SETTING})",
        "half_days_per_week": f"sumIf(half_days_per_week, {IS_SETTING})",
        "half_days_per_school": f"sumIf(half_days_per_week, {IS_SETTING}) / {SCHOOLS}",
        **{f"corona_{kind}": f"sumIf(pupils, kind = '{kind}')" for kind in KINDS},
    }
    return q.measures(coaching_source(q.database, " AND ".join(conditions)), {"provider": "provider_id"}, measures,
                      total="settings", bases={"half_days_per_school": SCHOOLS}, params=params)  # fmt: skip


MEASURE_LABELS = {
    "schools": "Scholen met een coach op school",
    "settings": "Schoolwerkingen (vestigingen, voltijds en deeltijds)",
    "half_days_per_week": "Dagdelen per week",
    "half_days_per_school": "Gemiddeld aantal dagdelen per week per school",
    **{f"corona_{kind}": f"Coronacoaching: {label('corona_coaching_kind', kind)} (leerlingen)" for kind in KINDS},
}
R50 = StatisticDef(
    code="R50", title_nl="Jongerencoaches (coach op school): scholen, schoolwerkingen, dagdelen per week en "
    "coronacoaching (secundair onderwijs)", section=Section.secondary_individual, unit="coach_settings",
    dimensions=("provider", "measure"), compute=youth_coaching,
    population_nl="schoolwerkingen van de jongerencoaches van de aanbieders in het {level} en hun coronacoaching "
    "(buiten de KANS-aanmeldingen)", labels={"measure": MEASURE_LABELS},
    report_note_nl="Coach op school gaat niet via KANS: de aanbieder registreert zijn schoolwerkingen en de "
    "coronacoaching zelf.",
)  # fmt: skip
