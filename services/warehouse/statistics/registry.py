"""STATISTICS: every statistic R01-R59 of the annual report (DOMAIN §8) by code, in report order."""

from __future__ import annotations

from services.warehouse.statistics.comparison import R29
from services.warehouse.statistics.group_stats import GROUP_STATISTICS
from services.warehouse.statistics.model import Section, StatisticDef
from services.warehouse.statistics.profile_stats import PROFILE_STATISTICS
from services.warehouse.statistics.trajectory_stats import TRAJECTORY_STATISTICS
from services.warehouse.statistics.triage_stats import TRIAGE_STATISTICS

_ALL = [*PROFILE_STATISTICS, *TRIAGE_STATISTICS, *TRAJECTORY_STATISTICS, *GROUP_STATISTICS, R29]
STATISTICS: dict[str, StatisticDef] = {d.code: d for d in sorted(_ALL, key=lambda d: d.code)}
EXPECTED_CODES = [f"R{n:02d}" for n in range(1, 60)]

if list(STATISTICS) != EXPECTED_CODES or len(_ALL) != len(EXPECTED_CODES):
    missing = sorted(set(EXPECTED_CODES) - set(STATISTICS))
    raise RuntimeError(f"the statistics registry must hold R01-R59 exactly once; missing {missing}")


def by_section() -> dict[Section, list[StatisticDef]]:
    """The statistics grouped by report section, in report order."""
    out: dict[Section, list[StatisticDef]] = {section: [] for section in Section}
    for definition in STATISTICS.values():
        out[definition.section].append(definition)
    return out
