"""STATISTICS: every statistic R01-R59 of the annual report (DOMAIN §8) by code, and the figures the report gives in
its text beside them (`supplements.py`: R22a after R22), in report order."""

from __future__ import annotations

from services.warehouse.statistics.coaching_stats import R50
from services.warehouse.statistics.comparison import R29
from services.warehouse.statistics.group_stats import GROUP_STATISTICS
from services.warehouse.statistics.model import Section, StatisticDef
from services.warehouse.statistics.profile_stats import PROFILE_STATISTICS
from services.warehouse.statistics.supplements import SUPPLEMENTS
from services.warehouse.statistics.trajectory_stats import TRAJECTORY_STATISTICS
from services.warehouse.statistics.triage_stats import TRIAGE_STATISTICS

_ALL = [*PROFILE_STATISTICS, *TRIAGE_STATISTICS, *TRAJECTORY_STATISTICS, *GROUP_STATISTICS, R29, R50]
EXPECTED_CODES = [f"R{n:02d}" for n in range(1, 60)]
REPORT_STATISTICS: dict[str, StatisticDef] = {d.code: d for d in sorted(_ALL, key=lambda d: d.code)}
STATISTICS: dict[str, StatisticDef] = {d.code: d for d in sorted([*_ALL, *SUPPLEMENTS], key=lambda d: d.code)}

if list(REPORT_STATISTICS) != EXPECTED_CODES or len(_ALL) != len(EXPECTED_CODES):
    missing = sorted(set(EXPECTED_CODES) - set(REPORT_STATISTICS))
    raise RuntimeError(f"the statistics registry must hold R01-R59 exactly once; missing {missing}")
if len(STATISTICS) != len(_ALL) + len(SUPPLEMENTS) or any(
    d.code[:-1] not in REPORT_STATISTICS or not d.code[-1].isalpha()
    or d.section != REPORT_STATISTICS[d.code[:-1]].section for d in SUPPLEMENTS
):  # fmt: skip
    raise RuntimeError("a supplement's code is the code of a statistic of its section and a letter (R22a), once")


def by_section() -> dict[Section, list[StatisticDef]]:
    """The statistics grouped by report section, in report order."""
    out: dict[Section, list[StatisticDef]] = {section: [] for section in Section}
    for definition in STATISTICS.values():
        out[definition.section].append(definition)
    return out
