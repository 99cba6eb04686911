"""The generator's own totals per school year, counted from the submissions as they go out.

Counted the way the platform's statistics count (so the two can be compared after an ingest): individual
referrals per month of the school year (Brussels time, September -> August) per offer type, retracted registrations
left out (a referral withdrawn as its outcome still counts), as R01 (and `GET /v1/stats/{year}/referrals-per-month`)
answers; group referrals and groups by the school
year they are for; events per type; trajectories by how they went.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from schemas.codelists import allowed
from schemas.referrals_v1 import upcast_referral_withdrawn_v1_to_v2

OUTCOMES = {"TrajectoryDispatched": "dispatched", "TrajectoryCarriedOver": "carried_over",
            "TrajectoryStarted": "started", "TrajectoryNotStarted": "not_started",
            "TrajectoryStoppedEarly": "stopped_early", "TrajectoryClosed": "closed"}  # fmt: skip


def retracted(submission: dict[str, Any]) -> bool:
    """Whether a ReferralWithdrawn submission retracts the registration (it counts nowhere) rather than withdraws the
    referral as its outcome (it still counts as received): version 2 says so, version 1 is read by its reason."""
    payload = submission["payload"]
    if submission.get("schema_version", 1) == 1:
        payload = upcast_referral_withdrawn_v1_to_v2(payload)
    return bool(payload["kind"] == "retracted")


def school_year_months(school_year: str) -> list[str]:
    """`2019-2020` -> ['2019-09', ..., '2020-08']."""
    start = int(school_year[:4])
    return [f"{start if m >= 9 else start + 1}-{m:02d}" for m in (9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8)]


def school_year_of_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    start = year if number >= 9 else year - 1
    return f"{start}-{start + 1}"


class Summary:
    """Totals of the submissions observed; `watch()` passes a stream through while counting it."""

    def __init__(self) -> None:
        self.referrals: Counter[tuple[str, str, str]] = Counter()  # (month, level, offer type), not retracted
        self._referral_keys: dict[str, tuple[str, str, str]] = {}  # referral id -> its key in `referrals`
        self.groups: Counter[tuple[str, str]] = Counter()  # (school year, "referrals" | "groups" | "pupils")
        self.events: dict[str, Counter[str]] = defaultdict(Counter)  # school year -> event type -> count
        self.trajectories: dict[str, Counter[str]] = defaultdict(Counter)

    def observe(self, submission: dict[str, Any]) -> None:
        kind, payload, occurred = submission["event_type"], submission["payload"], submission["occurred_at"]
        month = occurred[:7]  # occurred_at carries the Brussels offset: its date is the Brussels date
        year = school_year_of_month(month)
        self.events[year][kind] += 1
        if kind == "ReferralSubmitted":
            key = self._referral_keys[payload["referral_id"]] = (month, payload["level"], payload["offer_type"])
            self.referrals[key] += 1
        elif kind == "ReferralWithdrawn" and retracted(submission) and payload["referral_id"] in self._referral_keys:
            # R01 leaves a retracted registration out (the generator never amends a level or an offer type)
            self.referrals[self._referral_keys.pop(payload["referral_id"])] -= 1
        elif kind == "GroupReferralSubmitted":
            target = payload.get("for_school_year") or year
            self.groups[(target, "referrals")] += 1
            self.groups[(target, "groups")] += len(payload["groups"])
            self.groups[(target, "pupils")] += sum(g["pupil_count"] for g in payload["groups"])
        elif kind in OUTCOMES:
            self.trajectories[year][OUTCOMES[kind]] += 1

    def watch(self, submissions: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for submission in submissions:
            self.observe(submission)
            yield submission

    @property
    def school_years(self) -> list[str]:
        return sorted(self.events)

    def referrals_per_month(self, school_year: str, level: str | None = None) -> dict[str, Any]:
        """R01/R31 as the API gives it: per month, each offer type and the total; and the year's total."""
        months = []
        for month in school_year_months(school_year):
            split = {offer: sum(n for (m, lvl, o), n in self.referrals.items()
                                if m == month and o == offer and level in (None, lvl))
                     for offer in allowed("offer_type")}  # fmt: skip
            months.append({"month": month, **split, "total": sum(split.values())})
        return {"school_year": school_year, "months": months, "total": sum(m["total"] for m in months)}

    def year_totals(self, school_year: str) -> dict[str, Any]:
        """Everything counted for one school year, as plain data (printed by `kans demo generate --summary`)."""
        per_level: Counter[str] = Counter()
        for (month, level, offer), n in self.referrals.items():
            if school_year_of_month(month) == school_year:
                per_level[f"{level}_{offer}"] += n
        return {
            "school_year": school_year,
            "referrals": dict(sorted(per_level.items())),
            "referrals_per_month": {m["month"]: m["total"] for m in self.referrals_per_month(school_year)["months"]},
            "group_referrals": self.groups[(school_year, "referrals")],
            "groups": self.groups[(school_year, "groups")],
            "group_pupils": self.groups[(school_year, "pupils")],
            "trajectories": dict(self.trajectories[school_year]),
            "events": sum(self.events[school_year].values()),
            "events_per_type": dict(sorted(self.events[school_year].items())),
        }
