"""The facts of the annual report the catalogue could not carry before (issue 14, "Facts the events cannot carry
yet"), each on a small hand-made history whose expected figures follow from the report's sentence (quoted): produced to
the event log on the suite's broker, stored by the ClickHouse writer, counted by the statistics engine on the real
embedded ClickHouse, from the current state and as known on a past day."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.settings import Settings
from tests.integration.test_report_rules import stat, summary, through_the_log
from tests.stats_history import History, nonzero

SECONDARY = {"education_form": "secondary_aso", "grade": "grade_3", "gender": "girl", "birth_year": 2005}


# -- a trajectory agreed at a round table, withdrawn before any dispatch ------------------------------------------
def _agreed_then_withdrawn(h: History) -> None:
    """Secondary 2019-2020, three referrals with a round table that agreed on a trajectory: RN1's pupil withdrew
    before any dispatch (TrajectoryNotStarted without TrajectoryDispatched); RN2's trajectory was dispatched to
    Abrusco, which did not start it; RN3's was dispatched and started."""
    for rid in ("RN1", "RN2", "RN3"):
        h.referral(rid, "2019-10-01", f"P-{rid}", "secondary", **SECONDARY)
        h.round_table(rid, f"RT-{rid}", "RoundTableHeld", "2019-10-08", outcomes=["trajectories_to_start"],
                      trajectories_to_start=1)  # fmt: skip
    h.then("TrajectoryNotStarted", "RN1", "TN1", "2019-10-20", reason="pupil_unwilling")
    h.trajectory("RN2", "TN2", "2019-10-10", "abrusco", "individual")
    h.then("TrajectoryNotStarted", "RN2", "TN2", "2019-10-21", reason="provider_declines")
    h.trajectory("RN3", "TN3", "2019-10-10", "abrusco", "individual")
    h.then("TrajectoryStarted", "RN3", "TN3", "2019-10-14")


def test_a_trajectory_withdrawn_before_any_dispatch_counts_as_not_started_not_as_offered(
    settings: Settings, clickhouse: Any
) -> None:
    """ "Er werden uiteindelijk 218 trajecten aangeboden voor 150 leerlingen. Wat gebeurde er met de overige 55
    aanmeldingen? … Bij 39 leerlingen werd het traject niet opgestart … Negen leerlingen beslisten ondanks consensus op
    de rondetafel nadien toch het traject niet op te starten." A trajectory agreed at the round table and not started
    is what became of a referral without an offered trajectory: RN1 counts among the not started (with RN2, whose
    dispatched trajectory did not start), but not among the referrals with an offered trajectory (RN2, RN3), and
    Table 8 (per provider) counts only the two dispatched ones."""
    h = History()
    _agreed_then_withdrawn(h)
    db = through_the_log(settings, clickhouse, h.events)

    r47 = stat(clickhouse, db, "R47")
    assert summary(r47) == {"referrals": 3, "with_trajectory": 2, "without_started_trajectory": 2, "not_started": 2,
                            "not_started_before_dispatch": 1}  # fmt: skip
    assert nonzero(r47) == {("abrusco", "individual", "regular"): 2} and r47.total == 2
    labels = {s.measure: s.label_nl for s in r47.summary}
    assert labels["not_started_before_dispatch"].startswith("… waarvan traject op de rondetafel afgesproken")
    assert stat(clickhouse, db, "R51").total == 1  # started trajectories only: RN3
    assert stat(clickhouse, db, "R16").total == 0  # the primary section has none of them
    # Before RN1's pupil withdrew it was a referral still awaiting its trajectory (RN2's dispatched trajectory had
    # not started yet: it counts as not started, as before).
    before = summary(stat(clickhouse, db, "R47", as_of=date(2019, 10, 15)))
    assert before == {"referrals": 3, "with_trajectory": 2, "without_started_trajectory": 2, "not_started": 1,
                      "no_decision_yet": 1}  # fmt: skip
