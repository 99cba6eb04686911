"""Internal consistency of a generated history, checked from the submissions alone (pure; used by the tests).

`check_history(submissions, today)` lists every violation of: causal order per stream (a referral first, a
trajectory dispatched or carried over before it starts, nothing after its end, times never going back), start not
before dispatch, carried-over links (the previous trajectory closed with `continues_next_year`, same pupil,
provider and module, the next school year), one pupil id = one gender and birth month, ages fitting grades,
half-days within the module's offer, dispatches only to modules offered, reachable, accepting and old enough for,
no start while the module is full, and nothing after `today`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from kans.synthetic.profiles import AGE_BASE
from kans.synthetic.providers import GROUP_MODULE_IDS, MODULES, base_provider

DELAYS = {"none": 0, "one_year": 1, "two_years": 2, "three_or_more": 3}
STARTS = {"TrajectoryStarted", "TrajectoryCarriedOver", "GroupTrajectoryStarted"}
ENDS = {"TrajectoryClosed", "TrajectoryStoppedEarly", "GroupTrajectoryCompleted", "GroupTrajectoryStoppedEarly"}
NOT_STARTED = {"TrajectoryNotStarted", "GroupTrajectoryNotStarted"}


def age_fits_grade(payload: dict[str, Any], start_year: int) -> bool:
    """School-year start - birth year = 5 (primary) / 11 (secondary) + grade + delay (3+ means at least 3)."""
    grade, delay = payload.get("grade", ""), DELAYS.get(payload.get("school_delay", "unknown"))
    if not grade.startswith("grade_") or delay is None:
        return True
    years = start_year - payload["birth_year"] - AGE_BASE[payload["level"]] - int(grade[6:])
    return years >= 3 if delay == 3 else years == delay


class HistoryChecker:
    """Feed submissions in the order they are emitted; `violations()` at the end."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today
        self.problems: list[str] = []
        self.last_time: dict[str, datetime] = {}
        self.referrals: dict[str, dict[str, Any]] = {}
        self.submitted: dict[str, datetime] = {}
        self.round_tables: dict[str, str] = {}
        self.pupils: dict[str, tuple[Any, ...]] = {}
        self.trajectories: dict[str, dict[str, Any]] = {}  # trajectory or group trajectory id -> what is known
        self.facts: dict[tuple[str, str | None], list[tuple[date, str, Any]]] = defaultdict(list)
        self.intervals: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)

    def problem(self, submission: dict[str, Any], message: str) -> None:
        self.problems.append(f"{submission['event_type']} {submission['source_ref']}: {message}")

    def feed(self, s: dict[str, Any]) -> None:
        kind, payload = s["event_type"], s["payload"]
        at = datetime.fromisoformat(s["occurred_at"])
        if self.today is not None and at.date() > self.today:
            self.problem(s, f"occurs after today ({self.today})")
        stream = str(payload.get("referral_id") or payload.get("group_referral_id") or payload.get("provider_id"))
        if stream in self.last_time and at < self.last_time[stream]:
            self.problem(s, "goes back in time within its stream")
        self.last_time[stream] = at
        if "provider_id" in payload and "valid_from" in payload:
            self._fact(kind, payload)
        elif kind == "ReferralSubmitted":
            self._referral(s, at)
        elif "referral_id" in payload and payload["referral_id"] not in self.referrals:
            self.problem(s, "comes before its ReferralSubmitted")
        elif kind == "GroupReferralSubmitted":
            for group in payload["groups"]:
                self.trajectories[group["group_id"]] = {"requested": at, "group": group}
        elif kind.startswith("RoundTable"):
            self._round_table(s, kind, payload["round_table_id"])
        if "trajectory_id" in payload or "group_trajectory_id" in payload:
            self._trajectory(s, kind, payload, at)

    def _fact(self, kind: str, payload: dict[str, Any]) -> None:
        valid_from = date.fromisoformat(payload["valid_from"])
        value = {
            "ModuleOffered": True,
            "ModuleWithdrawn": False,
            "ProviderCapacitySet": payload.get("capacity"),
            "ProviderMinimumAgeSet": payload.get("minimum_age"),
            "ProviderReachabilitySet": payload.get("reachable_via_desk"),
            "ProviderAcceptingReferralsSet": (payload.get("accepting"), payload.get("valid_until")),
        }.get(kind)
        self.facts[(payload["provider_id"], payload.get("module_id"))].append((valid_from, kind, value))

    def _holds(self, provider: str, module: str | None, kind: str, day: date) -> Any:
        """The latest fact of `kind` valid on `day` for the module (or the provider as a whole), else None."""
        found = None
        for key in ((provider, None), (provider, module)):
            for valid_from, fact_kind, value in self.facts.get(key, ()):
                if fact_kind == kind and valid_from <= day:
                    found = value
        return found

    def _round_table(self, s: dict[str, Any], kind: str, round_table_id: str) -> None:
        """Scheduled first, then held or cancelled, once."""
        state = self.round_tables.get(round_table_id)
        if (kind == "RoundTableScheduled") != (state is None) or state == "ended":
            self.problem(s, f"round table {round_table_id} out of order (was {state or 'not scheduled'})")
        self.round_tables[round_table_id] = "scheduled" if kind == "RoundTableScheduled" else "ended"

    def _referral(self, s: dict[str, Any], at: datetime) -> None:
        p = s["payload"]
        if p["referral_id"] in self.referrals:
            self.problem(s, "referral submitted twice")
        self.referrals[p["referral_id"]], self.submitted[p["referral_id"]] = p, at
        identity = (p["gender"], p["birth_year"], p["birth_month"])
        if self.pupils.setdefault(p["pupil_id"], identity) != identity:
            self.problem(s, f"pupil {p['pupil_id']} changes gender or birth date")
        start_year = at.year if at.month >= 9 else at.year - 1
        if not age_fits_grade(p, start_year):
            self.problem(s, f"age does not fit grade {p['grade']} with delay {p['school_delay']}")

    def _trajectory(self, s: dict[str, Any], kind: str, payload: dict[str, Any], at: datetime) -> None:
        tid = payload.get("trajectory_id") or payload["group_id"]
        known = self.trajectories.setdefault(tid, {})
        if kind in ("TrajectoryDispatched", "TrajectoryCarriedOver", "GroupTrajectoryDispatched"):
            if "dispatched" in known:
                return self.problem(s, "dispatched twice")
            module = payload.get("module_id") or GROUP_MODULE_IDS[payload["module"]]
            known.update(dispatched=at, provider=payload["provider_id"], module=module)
            self._dispatch_allowed(s, known, at)
            if kind == "TrajectoryCarriedOver":
                self._carried_over(s, payload, at)
        elif "dispatched" not in known:
            return self.problem(s, "before its dispatch")
        elif "ended" in known:
            return self.problem(s, "after the trajectory ended")
        if kind in STARTS:
            if "started" in known and kind != "TrajectoryCarriedOver":
                return self.problem(s, "started twice")
            if at < known["dispatched"]:
                self.problem(s, "starts before it was dispatched")
            known["started"] = at
            self.intervals[(known["provider"], known["module"])].append((at, tid))
        elif kind in ENDS or kind in NOT_STARTED:
            if (kind in ENDS) != ("started" in known):
                self.problem(s, "ends without having started" if kind in ENDS else "not started after a start")
            known.update(ended=at, ending=payload.get("perspective") or payload.get("reason"))
        elif kind == "TrajectoryProgressReported" and "started" not in known:
            self.problem(s, "progress before the start")
        half_days = payload.get("half_days_per_week")
        module = MODULES.get((base_provider(known["provider"]), known["module"]))
        if half_days is not None and module is not None and half_days not in module.half_days:
            self.problem(s, f"{half_days} half-days is outside module {known['module']}'s offer {module.half_days}")
        return None

    def _dispatch_allowed(self, s: dict[str, Any], known: dict[str, Any], at: datetime) -> None:
        provider, module = known["provider"], known["module"]
        day = (known.get("requested") or at).date()  # a group: the module had to accept when it was requested
        if not self._holds(provider, module, "ModuleOffered", at.date()):
            self.problem(s, f"{provider}/{module} is not offered on {at.date()}")
        if self._holds(provider, module, "ProviderReachabilitySet", day) is False:
            self.problem(s, f"{provider} is not reachable via the desk on {day}")
        accepting = self._holds(provider, module, "ProviderAcceptingReferralsSet", day)
        if accepting and accepting[0] is False and (accepting[1] is None or day.isoformat() <= accepting[1]):
            self.problem(s, f"{provider}/{module} does not accept referrals on {day}")
        rid = s["payload"].get("referral_id", "")
        referral = self.referrals.get(rid)
        minimum = self._holds(provider, module, "ProviderMinimumAgeSet", day)
        if referral and minimum is not None:
            submitted = self.submitted[rid]
            age = submitted.year - referral["birth_year"] - (submitted.month < referral["birth_month"])
            if age < minimum:
                self.problem(s, f"pupil aged {age} dispatched to {provider}/{module} (minimum age {minimum})")

    def _carried_over(self, s: dict[str, Any], payload: dict[str, Any], at: datetime) -> None:
        previous = self.trajectories.get(payload["previous_trajectory_id"], {})
        old, new = self.referrals.get(payload["previous_referral_id"]), self.referrals[payload["referral_id"]]
        if previous.get("ending") != "continues_next_year" or old is None:
            return self.problem(s, "the previous trajectory was not closed with continues_next_year")
        if (previous["provider"], previous["module"]) != (payload["provider_id"], payload["module_id"]):
            self.problem(s, "continues at another provider or module")
        if old["pupil_id"] != new["pupil_id"] or new["channel"] != "kans_rereferral":
            self.problem(s, "the new referral is not a re-referral of the same pupil")
        if int(payload["to_school_year"][:4]) != previous["ended"].year or at.year != previous["ended"].year:
            self.problem(s, "does not continue in the next school year")
        return None

    def violations(self) -> list[str]:
        """Everything found, including places: no start while the module already had `capacity` running."""
        for (provider, module), starts in self.intervals.items():
            ends = sorted(self.trajectories[t]["ended"] for _, t in starts if "ended" in self.trajectories[t])
            times = sorted(at for at, _ in starts)
            for at, tid in starts:
                capacity = self._holds(provider, module, "ProviderCapacitySet", at.date())
                running = bisect_right(times, at) - 1 - bisect_right(ends, at)
                if capacity is not None and running >= capacity:
                    self.problems.append(f"{tid} starts at {provider}/{module} with {running} of {capacity} running")
        return self.problems


def check_history(submissions: Iterable[dict[str, Any]], today: date | None = None) -> list[str]:
    checker = HistoryChecker(today)
    for submission in submissions:
        checker.feed(submission)
    return checker.violations()
