"""The dispatch service's state machine: one event of the log in, the dispatch events it causes out. Pure (tables in,
writes to the tables and events out); the worker's agent and the what-if replay both drive it.

- Provider facts update the catalogue; a place that may have freed (capacity, a module offered again, accepting,
  reachable) gives its waiting list a chance (`reconsider`).
- A referral whose offer skips the round table (the corona offer, primary) asks for one trajectory at once; a round
  table that decides to start trajectories asks for as many. Each is a placement with a trajectory id derived from
  the event, decided by the rules (`decide`) on the event's day: a proposal (which holds its place until the desk
  decides), the waiting lists of the best candidates, or blocked.
- TrajectoryDispatched (the desk's decision on a proposal, a dispatch without one, or an auto-confirmed proposal)
  takes a place; a stop, a closure or a trajectory that never started frees it, and so does a proposal the desk
  overrode: the longest-waiting trajectory on that list is decided again (trigger `place_freed`).
- A withdrawn referral leaves every list and frees its proposals' places.

Every handler is idempotent: an event seen twice finds its effects already in the tables and causes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import date, datetime
from typing import Any

from schemas.envelope import BRUSSELS, Envelope, school_year_of
from services.dispatch.catalogue import PROVIDER_FACTS, empty_record, fold_fact, kind_of, module_on, modules_on
from services.dispatch.decide import decide
from services.dispatch.outputs import (
    Output,
    decision_fields,
    places_of,
    proposal_id_for,
    ref_for,
    sealed,
    submission,
    trajectory_id_for,
)
from services.dispatch.rules import ELIGIBILITY, Occupancy, Placement, age_at, balance_key_of, has_room, verdict
from services.dispatch.ruleset import RuleSet

OPEN = ("awaiting_referral", "proposed", "waiting", "blocked")
ENDINGS = frozenset({"TrajectoryNotStarted", "TrajectoryStoppedEarly", "TrajectoryClosed"})
GROUP_ENDINGS = frozenset({"GroupTrajectoryNotStarted", "GroupTrajectoryStoppedEarly", "GroupTrajectoryCompleted"})


def day_of(event: Envelope) -> date:
    return event.occurred_at.astimezone(BRUSSELS).date()


def _who(placement: dict[str, Any]) -> Placement:
    """What the rules read about a (described) placement."""
    since = date.fromisoformat(placement["waiting_since"])
    return Placement(placement["trajectory_id"], placement["referral_id"], placement["offer_type"],
                     placement["level"], placement["pupil_age"], since, placement.get("group_module"),
                     placement.get("named_provider"), placement.get("municipality"))  # fmt: skip


class Engine:
    """Applies events to `tables` (name -> mapping, see `store.TABLES`) under `rules`; `now` stamps recorded_at."""

    def __init__(self, tables: Mapping[str, MutableMapping[str, Any]], rules: RuleSet,
                 now: Callable[[], datetime]) -> None:  # fmt: skip
        self.t, self.rules, self.now = tables, rules, now
        self.outputs: list[Output] = []

    # -- entry -----------------------------------------------------------------------------------------------------
    def apply(self, event: Envelope) -> list[Output]:
        """The events `event` causes (also applied to the tables, as they will be read back from the log)."""
        start = len(self.outputs)
        kind = event.event_type
        if kind in PROVIDER_FACTS:
            self._provider_fact(event)
        elif kind == "ReferralSubmitted":
            self._referral_submitted(event)
        elif kind == "ReferralAmended":
            self._referral_amended(event)
        elif kind == "ReferralWithdrawn":
            self._referral_withdrawn(event)
        elif kind == "AdviceGiven":
            self._no_trajectory(event, event.stream_id)
        elif kind == "RoundTableHeld":
            self._round_table_held(event)
        elif kind in ("TrajectoryDispatched", "TrajectoryCarriedOver"):
            self._dispatched(event)
        elif kind in ENDINGS:
            self._ended(event)
        elif kind == "GroupReferralSubmitted":
            self._group_referral_submitted(event)
        elif kind == "GroupTrajectoryDispatched":
            self._group_dispatched(event)
        elif kind in GROUP_ENDINGS:
            self._ended(event, f"group:{getattr(event.payload, 'group_trajectory_id')}")  # noqa: B009
        return self.outputs[start:]

    def _emit(self, event_type: str, ref: str, cause: Envelope, payload: dict[str, Any],
              version: int | None = None) -> Envelope:  # fmt: skip
        data = submission(event_type, ref, cause.occurred_at, payload, version)
        event = sealed(data, self.now())
        self.outputs.append(Output(data, event))
        return event

    # -- provider facts --------------------------------------------------------------------------------------------
    def _provider_fact(self, event: Envelope) -> None:
        providers, pid = self.t["providers"], event.stream_id
        record = providers.get(pid) or empty_record(pid)
        folded = fold_fact(record, event)
        if folded != record:
            providers[pid] = folded
        module_id = getattr(event.payload, "module_id", None)
        modules = [module_id] if module_id else sorted(folded["modules"])
        for module in modules:
            self.recheck(f"{pid}|{module}", event)
            self.reconsider(f"{pid}|{module}", event)

    # -- referrals and round tables --------------------------------------------------------------------------------
    def _referral_submitted(self, event: Envelope) -> None:
        p: Any = event.payload
        referrals = self.t["referrals"]
        known = referrals.get(p.referral_id) or {"placements": []}
        if known.get("submitted"):
            return
        referrals[p.referral_id] = {**known, "submitted": True, "offer_type": p.offer_type, "level": p.level,
                                    "birth_year": p.birth_year, "birth_month": p.birth_month,
                                    "municipality": getattr(p, "residence_municipality", None),
                                    "referred_on": day_of(event).isoformat(), "withdrawn": False}  # fmt: skip
        offer = self.rules.offer_for(p.offer_type, p.level)
        if offer is not None and offer.placed_on == "referral":
            self._new_placement(p.referral_id, trajectory_id_for(str(event.event_id), 0), event, "referral")
        for tid in known["placements"]:  # asked for by a round table before the referral was known here
            placement: dict[str, Any] = self.t["placements"][tid]
            if placement["status"] == "awaiting_referral":
                if offer is not None and offer.placed_on == "round_table":
                    self._decide(self._described(placement), event, placement["trigger"])
                else:
                    self.t["placements"][tid] = {**placement, "status": "closed"}

    def _group_referral_submitted(self, event: Envelope) -> None:
        """Each group of a group referral whose module an offer takes is a placement decided at once (class actions,
        restorative groups, ...), with the school's preferred provider as the named provider."""
        p: Any = event.payload
        referrals, grid = self.t["referrals"], p.group_referral_id
        known = referrals.get(grid) or {"placements": []}
        if known.get("submitted"):
            return
        day = day_of(event).isoformat()
        new: list[dict[str, Any]] = []
        for index, group in enumerate(p.groups):
            offer = self.rules.offer_for("regular", group.level, group.requested_module)
            tid = trajectory_id_for(str(event.event_id), index)
            if offer is None or tid in self.t["placements"]:
                continue  # a module the rules do not place: the desk dispatches the group by hand
            new.append({"trajectory_id": tid, "referral_id": grid, "trigger": "referral",
                        "status": "awaiting_referral",
                        "proposal": None, "places": [], "offer_type": "regular", "level": group.level,
                        "waiting_since": day, "pupil_age": None, "group_id": group.group_id,
                        "group_module": group.requested_module,
                        "named_provider": group.preferred_provider_id})  # fmt: skip
        referrals[grid] = {**known, "submitted": True, "group": True, "referred_on": day, "withdrawn": False,
                           "placements": [*known["placements"], *(n["trajectory_id"] for n in new)]}  # fmt: skip
        for placement in new:
            self._decide(placement, event, "referral")

    def _referral_amended(self, event: Envelope) -> None:
        p: Any = event.payload
        known = self.t["referrals"].get(p.referral_id)
        changes = {f: getattr(p.changes, f) for f in ("offer_type", "level", "birth_year", "birth_month")
                   if f in p.changes.model_fields_set and getattr(p.changes, f) is not None}  # fmt: skip
        if "residence_municipality" in p.changes.model_fields_set:
            changes["municipality"] = p.changes.residence_municipality
        if known is not None and changes and any(known.get(f) != v for f, v in changes.items()):
            self.t["referrals"][p.referral_id] = {**known, **changes}

    def _referral_withdrawn(self, event: Envelope) -> None:
        rid = event.stream_id
        known = self.t["referrals"].get(rid) or {"placements": []}
        if known.get("withdrawn"):
            return
        self.t["referrals"][rid] = {**known, "withdrawn": True}
        for tid in known["placements"]:
            self._settle(self.t["placements"][tid], event, "withdrawn", None)

    def _no_trajectory(self, event: Envelope, referral_id: str) -> None:
        """Triage ended in advice only, or a round table decided on no trajectory: the referral's open placements
        (a primary pupil placed on referral) close and leave their waiting lists."""
        known = self.t["referrals"].get(referral_id) or {"placements": []}
        for tid in known["placements"]:
            self._settle(self.t["placements"][tid], event, "no_trajectory", None)

    def _round_table_held(self, event: Envelope) -> None:
        p: Any = event.payload
        if "trajectories_to_start" not in p.outcomes:
            self._no_trajectory(event, p.referral_id)
            return
        known = self.t["referrals"].get(p.referral_id)
        if known is not None and known.get("submitted"):
            offer = self.rules.offer_for(known["offer_type"], known["level"])
            if offer is None or offer.placed_on != "round_table" or known.get("withdrawn"):
                return
        for index in range(p.trajectories_to_start or 1):
            self._new_placement(p.referral_id, trajectory_id_for(str(event.event_id), index), event, "round_table")

    def _new_placement(self, referral_id: str, tid: str, event: Envelope, trigger: str) -> None:
        if tid in self.t["placements"]:
            return
        known = self.t["referrals"].get(referral_id) or {"placements": []}
        self.t["referrals"][referral_id] = {**known, "placements": [*known["placements"], tid]}
        placement: dict[str, Any] = {"trajectory_id": tid, "referral_id": referral_id, "trigger": trigger,
                                     "status": "awaiting_referral", "proposal": None, "places": []}  # fmt: skip
        if known.get("submitted"):
            self._decide(self._described(placement), event, trigger)
        else:
            self.t["placements"][tid] = placement

    def _described(self, placement: dict[str, Any]) -> dict[str, Any]:
        """The placement with what the rules read about its referral."""
        r = self.t["referrals"][placement["referral_id"]]
        referred_on = date.fromisoformat(r["referred_on"])
        return {**placement, "offer_type": r["offer_type"], "level": r["level"], "waiting_since": r["referred_on"],
                "pupil_age": age_at(r["birth_year"], r["birth_month"], referred_on),
                "municipality": r.get("municipality")}  # fmt: skip

    # -- deciding --------------------------------------------------------------------------------------------------
    def _occupancy(self, place: str) -> Occupancy:
        row = self.t["places"].get(place)
        return Occupancy() if row is None else Occupancy(len(row["occupied"]), len(row["proposed"]))

    def _place_row(self, place: str) -> dict[str, Any]:
        row = self.t["places"].get(place)
        return {"occupied": [], "proposed": [], "waiting": []} if row is None else row

    def _update_place(self, place: str, field: str, change: Callable[[list[Any]], list[Any]]) -> None:
        row = self._place_row(place)
        self.t["places"][place] = {**row, field: change(row[field])}

    def _decide(self, placement: dict[str, Any], event: Envelope, trigger: str) -> None:
        day, tid = day_of(event), placement["trajectory_id"]
        offer = self.rules.offer_for(placement["offer_type"], placement["level"], placement.get("group_module"))
        if offer is None:
            trace = [verdict("candidates", None, "no_candidate", offer=None, level=placement["level"],
                             offer_type=placement["offer_type"]).model_dump(mode="json")]  # fmt: skip
            self._block(placement, event, trigger, day, trace)
            return
        candidates = modules_on(self.t["providers"].values(), day, offer.modules.fit)
        year = school_year_of(day)
        counts = {balance_key_of(m.provider_id, m.kind or ""): self.t["counts"].get(
            f"{year}|{m.provider_id}|{m.kind}", 0) for m in candidates}  # fmt: skip
        occupancy = {m.place: self._occupancy(m.place) for m in candidates}
        decision = decide(_who(placement), offer, candidates, occupancy, counts, day)
        trace = [v.model_dump(mode="json") for v in decision.trace]
        fields = decision_fields(placement, trigger, str(event.event_id), self.rules.version, day, trace)
        if decision.outcome == "blocked":
            self._block(placement, event, trigger, day, trace)
            return
        if decision.outcome == "waiting":
            if placement["status"] != "waiting":
                places = list(decision.places)
                for place in places:
                    self._update_place(place, "waiting", lambda w: sorted([*w, [placement["waiting_since"], tid]]))
                self.t["placements"][tid] = {**placement, "status": "waiting", "places": places}
                self._emit("WaitingListJoined", ref_for("joined", tid, str(event.event_id), self.rules.version), event,
                           {**fields, "places": places_of(places)})  # fmt: skip
            return
        chosen = decision.chosen
        assert chosen is not None
        proposal_id = proposal_id_for(str(event.event_id), tid, self.rules.version)
        supersedes = (placement.get("proposal") or {}).get("proposal_id") if trigger == "proposal_stale" else None
        if placement["status"] == "waiting":
            self._leave(placement, event, "proposed", proposal_id)
        self._update_place(chosen.place, "proposed", lambda ids: sorted({*ids, tid}))
        proposal = {"proposal_id": proposal_id, "provider_id": chosen.provider_id, "module_id": chosen.module_id,
                    "decided_on": day.isoformat(), "trigger": trigger, "auto_confirm": offer.auto_confirm,
                    "trace": trace}  # fmt: skip
        self.t["placements"][tid] = {**placement, "status": "proposed", "places": [], "proposal": proposal}
        self._emit("DispatchProposed", f"proposed:{proposal_id}", event,
                   {**fields, "proposal_id": proposal_id, "provider_id": chosen.provider_id,
                    "module_id": chosen.module_id, "auto_confirm": offer.auto_confirm,
                    "supersedes": supersedes})  # fmt: skip
        if offer.auto_confirm:
            answer = {"proposal_id": proposal_id, "overridden": False, "override_reason": None}
            if placement.get("group_id") is not None:
                dispatched = self._emit("GroupTrajectoryDispatched", f"dispatched:{proposal_id}", event, {
                    "group_referral_id": placement["referral_id"], "group_id": placement["group_id"],
                    "group_trajectory_id": tid, "provider_id": chosen.provider_id,
                    "module": placement["group_module"], **answer}, version=2)  # fmt: skip
                self._group_dispatched(dispatched)
                return
            dispatched = self._emit("TrajectoryDispatched", f"dispatched:{proposal_id}", event, {
                "referral_id": placement["referral_id"], "trajectory_id": tid, "provider_id": chosen.provider_id,
                "module_id": chosen.module_id, "offer_type": placement["offer_type"], **answer}, version=2)  # fmt: skip
            self._dispatched(dispatched)

    def _block(self, placement: dict[str, Any], event: Envelope, trigger: str, day: date,
               trace: list[dict[str, Any]]) -> None:  # fmt: skip
        tid = placement["trajectory_id"]
        if placement["status"] == "waiting":
            self._leave(placement, event, "no_longer_eligible", None)
        if placement["status"] != "blocked":
            self.t["placements"][tid] = {**placement, "status": "blocked", "places": []}
            fields = decision_fields(placement, trigger, str(event.event_id), self.rules.version, day, trace)
            ref = ref_for("blocked", tid, str(event.event_id), self.rules.version)
            self._emit("DispatchBlocked", ref, event, fields)

    def _leave(self, placement: dict[str, Any], event: Envelope, reason: str, proposal_id: str | None) -> None:
        tid = placement["trajectory_id"]
        for place in placement["places"]:
            self._drop_waiting(place, tid)
        self.t["placements"][tid] = {**placement, "places": []}
        self._emit("WaitingListLeft", ref_for("left", tid, str(event.event_id)), event, {
            "referral_id": placement["referral_id"], "trajectory_id": tid, "places": places_of(placement["places"]),
            "reason": reason, "waiting_since": placement["waiting_since"], "left_on": day_of(event).isoformat(),
            "proposal_id": proposal_id})  # fmt: skip

    def _drop_waiting(self, place: str, tid: str) -> None:
        self._update_place(place, "waiting", lambda w: [entry for entry in w if entry[1] != tid])

    def reconsider(self, place: str, event: Envelope) -> None:
        """Room may have freed at `place`: decide its waiting trajectories again, longest-waiting first, while it
        has room."""
        row = self.t["places"].get(place)
        provider_id, module_id = place.split("|", 1)
        record = self.t["providers"].get(provider_id)
        if row is None or not row["waiting"] or record is None:
            return
        for _, tid in list(row["waiting"]):
            module = module_on(record, module_id, day_of(event))
            if not (module.offered and has_room(module, self._occupancy(place))):
                return
            placement = self.t["placements"].get(tid)
            if placement is None or placement["status"] != "waiting":
                self._drop_waiting(place, tid)
                continue
            self._decide(placement, event, "place_freed")

    def recheck(self, place: str, event: Envelope) -> None:
        """The catalogue or the load at `place` changed: an open proposal there that it no longer allows (capacity
        lowered below what is held, the module withdrawn, no longer accepting or reachable via the desk, a rule such
        as the minimum age now excluding it, or the place filled by a dispatch without a proposal) is stale. It is
        decided again (trigger `proposal_stale`): the new proposal names the one it supersedes, or the trajectory
        joins waiting lists, or it is blocked. When only capacity is short, the proposals of the pupils referred
        last lose their place first; the longest-waiting keep theirs."""
        row = self.t["places"].get(place)
        if row is None or not row["proposed"]:
            return
        provider_id, module_id = place.split("|", 1)
        record = self.t["providers"].get(provider_id)
        day = day_of(event)
        module = None if record is None else module_on(record, module_id, day)
        held = [self.t["placements"][tid] for tid in row["proposed"] if tid in self.t["placements"]]
        for placement in sorted(held, key=lambda p: (p["waiting_since"], p["trajectory_id"]), reverse=True):
            proposal = placement.get("proposal")
            if placement["status"] != "proposed" or proposal is None or proposal.get("auto_confirm"):
                continue
            if module is not None and all(rule(module, _who(placement), day).verdict == "passed"
                                          for rule in ELIGIBILITY):  # fmt: skip
                load = self._occupancy(place)
                if module.capacity is None or load.occupied + load.proposed <= module.capacity:
                    continue
            self._release(place, placement["trajectory_id"])
            self._decide(placement, event, "proposal_stale")

    def _release(self, place: str, tid: str) -> None:
        self._update_place(place, "proposed", lambda ids: [i for i in ids if i != tid])

    # -- dispatches and endings ------------------------------------------------------------------------------------
    def _dispatched(self, event: Envelope) -> None:
        p: Any = event.payload
        tid, place = p.trajectory_id, f"{p.provider_id}|{p.module_id}"
        trajectories = self.t["trajectories"]
        known = trajectories.get(tid)
        if known is None or known["place"] != place:
            record = self.t["providers"].get(p.provider_id)
            kind = None if record is None else kind_of(record, p.module_id)
            ended = known is not None and known["ended"]
            trajectories[tid] = {"place": place, "kind": kind, "ended": ended}
            if known is not None and known["place"] and not known["ended"]:  # dispatched again, elsewhere
                self._update_place(known["place"], "occupied", lambda ids: [i for i in ids if i != tid])
                self.reconsider(known["place"], event)
            if not ended:
                self._update_place(place, "occupied", lambda ids: sorted({*ids, tid}))
            if known is None and event.event_type == "TrajectoryDispatched" and kind is not None:
                key = f"{school_year_of(day_of(event))}|{p.provider_id}|{kind}"
                self.t["counts"][key] = self.t["counts"].get(key, 0) + 1
        # A dispatch, or a trajectory carried over from last school year (it was placed then): either settles the
        # referral's open placement.
        placement = self.t["placements"].get(tid) or self._open_placement_of(p.referral_id)
        freed = None
        if placement is not None and placement["status"] in OPEN:
            freed = self._settle(placement, event, "dispatched_by_desk", place, reconsider=False)
        # The place taken may have been held by another open proposal (a desk override, a dispatch without a
        # proposal): that one is decided again first, and may take the place this decision freed; then the waiting.
        self.recheck(place, event)
        if freed:
            self.reconsider(freed, event)

    def _open_placement_of(self, referral_id: str, group_id: str | None = None) -> dict[str, Any] | None:
        """A dispatch without a proposal (the source's own trajectory id): it answers the referral's oldest open
        placement (for a group dispatch: the open placement of that group of the group referral)."""
        known = self.t["referrals"].get(referral_id) or {"placements": []}
        for tid in known["placements"]:
            placement = self.t["placements"][tid]
            if placement["status"] in OPEN and placement.get("group_id") == group_id:
                return placement  # type: ignore[no-any-return]
        return None

    def _settle(self, placement: dict[str, Any], event: Envelope, reason: str, dispatched_to: str | None,
                reconsider: bool = True) -> str | None:  # fmt: skip
        """The placement is decided (dispatched: to `dispatched_to`) or withdrawn: its proposal's place is released
        (the waiting there are reconsidered, or the place returned when not `reconsider`), it leaves its waiting
        lists."""
        tid, status = placement["trajectory_id"], placement["status"]
        if status not in OPEN:
            return None
        freed = None
        if status == "proposed":
            proposed_at = f"{placement['proposal']['provider_id']}|{placement['proposal']['module_id']}"
            self._update_place(proposed_at, "proposed", lambda ids: [i for i in ids if i != tid])
            freed = proposed_at if proposed_at != dispatched_to else None
        if status == "waiting":
            self._leave(placement, event, reason, None)
            placement = self.t["placements"][tid]
        proposal = placement["proposal"] and {k: v for k, v in placement["proposal"].items() if k != "trace"}
        self.t["placements"][tid] = {**placement, "status": "placed" if dispatched_to else "closed", "places": [],
                                     "proposal": proposal}  # fmt: skip
        if freed and reconsider:
            self.reconsider(freed, event)
        return freed

    def _ended(self, event: Envelope, key: str | None = None) -> None:
        tid = key or getattr(event.payload, "trajectory_id")  # noqa: B009 - every ending has one
        known = self.t["trajectories"].get(tid)
        if known is not None and known["ended"]:
            return
        self.t["trajectories"][tid] = {"place": None, "kind": None, **(known or {}), "ended": True}
        placement = self.t["placements"].get(tid) if known is None else None
        if placement is not None and placement["status"] in OPEN:
            # Not started before any dispatch (the pupil withdrew after the round table): its proposal's place is
            # released and it leaves its waiting lists; a later dispatch of it counts no load (it has ended).
            self._settle(placement, event, "no_trajectory", None)
        if known is not None and known["place"]:
            self._update_place(known["place"], "occupied", lambda ids: [i for i in ids if i != tid])
            self.reconsider(known["place"], event)

    def _group_dispatched(self, event: Envelope) -> None:
        """A group placed (the desk's decision on a proposal, an auto-confirmed proposal, or the group tool's own
        dispatch): it holds a place at the provider's module of that kind until it ends, counts in the balance, and
        settles the group's open placement."""
        p: Any = event.payload
        key = f"group:{p.group_trajectory_id}"
        if key in self.t["trajectories"]:
            return
        placement = self.t["placements"].get(p.group_trajectory_id) or self._open_placement_of(
            p.group_referral_id, p.group_id)  # fmt: skip
        place = self._group_place(p.provider_id, p.module, placement)
        self.t["trajectories"][key] = {"place": place, "kind": p.module, "ended": False}
        self._update_place(place, "occupied", lambda ids: sorted({*ids, key}))
        count = f"{school_year_of(day_of(event))}|{p.provider_id}|{p.module}"
        self.t["counts"][count] = self.t["counts"].get(count, 0) + 1
        freed = None
        if placement is not None and placement["status"] in OPEN:
            freed = self._settle(placement, event, "dispatched_by_desk", place, reconsider=False)
        self.recheck(place, event)
        if freed:
            self.reconsider(freed, event)

    def _group_place(self, provider_id: str, module: str, placement: dict[str, Any] | None) -> str:
        """The catalogue module a group dispatch takes: the proposal's when it went to that provider, else the
        provider's module of that kind (a group dispatch names the kind, not the module)."""
        proposal = (placement or {}).get("proposal") or {}
        if proposal.get("provider_id") == provider_id:
            return f"{provider_id}|{proposal['module_id']}"
        record = self.t["providers"].get(provider_id)
        modules = [] if record is None else sorted(m for m in record["modules"] if kind_of(record, m) == module)
        return f"{provider_id}|{modules[0] if modules else module}"
