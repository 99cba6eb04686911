"""What-if: a rule set evaluated against history without emitting anything. The log's events drive the dispatch engine
(`engine.Engine`) over plain in-memory tables, as the worker's agent drives it, and what it decides is compared with
the decisions the log holds (the dispatch service's own events, under the rules it ran then). Pure: events in, a
report out; the engine's outputs are collected, never published (`kans dispatch what-if`, `kans bench-dispatch`).

The engine is fed only the events the rules read, never the service's own past outputs (source system `dispatch`): it
makes its own under the evaluated rules. Trajectory ids derive from the triggering event, not the rule set, so the
same trajectory is compared across rule sets; proposal ids include the rule set's version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import ValidationError

from schemas.envelope import Envelope, school_year_of
from services.dispatch.agents import READ_BY_THE_RULES
from services.dispatch.engine import Engine
from services.dispatch.outputs import SOURCE_SYSTEM
from services.dispatch.ruleset import RuleSet
from services.dispatch.store import commit_all, new_tables, overlays

DecisionKind = Literal["proposal", "waiting", "blocked"]
DECISION_KINDS: dict[str, DecisionKind] = {"DispatchProposed": "proposal", "WaitingListJoined": "waiting",
                                           "DispatchBlocked": "blocked"}  # fmt: skip


def fed_to_the_engine(event_type: str, source_system: str) -> bool:
    """What the replay feeds the engine: what the rules read, and none of the service's own past outputs."""
    return event_type in READ_BY_THE_RULES and source_system != SOURCE_SYSTEM


@dataclass(frozen=True)
class Decided:
    """One decision of the rules, as the report compares it: places are `provider/module` (a proposal's one place,
    or the waiting lists joined, best first)."""

    kind: DecisionKind
    trajectory_id: str
    referral_id: str
    decided_on: date
    rule_set: str
    proposal_id: str | None = None
    places: tuple[str, ...] = ()


def decided(event: Envelope) -> Decided | None:
    """The decision a dispatch event states (None: not a decision)."""
    kind = DECISION_KINDS.get(event.event_type)
    if kind is None:
        return None
    p: Any = event.payload
    if kind == "proposal":
        places: tuple[str, ...] = (f"{p.provider_id}/{p.module_id}",)
    else:
        places = tuple(f"{place.provider_id}/{place.module_id}" for place in getattr(p, "places", ()))
    return Decided(kind, p.trajectory_id, p.referral_id, p.decided_on, p.rule_set,
                   getattr(p, "proposal_id", None), places)  # fmt: skip


@dataclass(frozen=True)
class Refused:
    """An event whose outputs the contract refused: the engine's writes for it were dropped (the worker would stop
    on it: a bug in the engine or the rules, not in the log)."""

    event_id: str
    event_type: str
    error: str


class Replay:
    """The engine over plain in-memory tables, fed a log event by event in log order. Each event's writes are
    committed once its outputs are made (as the worker does), so an event whose outputs are refused leaves no
    trace; `feed` returns the outputs, which go nowhere else."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.tables = new_tables()
        self.read = self.fed = self.own_outputs_skipped = 0
        self.refused: list[Refused] = []

    def feed(self, event: Envelope) -> list[Envelope]:
        self.read += 1
        if event.source_system == SOURCE_SYSTEM:
            self.own_outputs_skipped += 1
            return []
        if not fed_to_the_engine(event.event_type, event.source_system):
            return []
        self.fed += 1
        staged = overlays(self.tables)
        try:  # recorded_at of the cause stamps the outputs: the same log gives the same outputs, byte for byte
            outputs = Engine(staged, self.rules, lambda: event.recorded_at).apply(event)
        except ValidationError as err:
            self.refused.append(Refused(str(event.event_id), event.event_type, _first_error(err)))
            return []
        commit_all(staged)
        return [o.event for o in outputs]


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(part) for part in first['loc'])[-80:]}: {first['type']} ({err.error_count()} errors)"


@dataclass(frozen=True)
class WhatIf:
    """The report: the evaluated rule set's decisions against the log's, for one school year (by decision day) or all.
    `logged` figures are None when the log holds no dispatch decisions to compare with (no baseline is invented)."""

    school_year: str | None
    events_read: int
    events_fed: int
    own_outputs_skipped: int
    evaluated_rule_set: str
    logged_rule_sets: dict[str, int]
    baseline: str | None  # None: nothing to compare with, and why (`note`)
    note: str | None
    totals: dict[str, dict[str, int | None]]  # proposals / waiting_joins / blocked -> {logged, evaluated}
    same_proposal_ids: int | None  # evaluated proposals whose id (and place) the log holds
    places: list[dict[str, Any]]  # per provider/module: proposals and waiting-list joins, logged and evaluated
    trajectories_compared: int | None
    trajectories_changed: int | None
    changed: list[dict[str, Any]]  # the first `limit` trajectories whose first proposal changed
    refused: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def what_if(events: Iterable[Envelope], rules: RuleSet, school_year: str | None = None, limit: int = 50) -> WhatIf:
    """Replay `events` (in log order) under `rules` and compare with the decisions the log holds."""
    replay = Replay(rules)
    logged: list[Decided] = []
    evaluated: list[Decided] = []
    for event in events:
        if event.source_system == SOURCE_SYSTEM and (row := decided(event)) is not None:
            logged.append(row)
        evaluated.extend(row for out in replay.feed(event) if (row := decided(out)) is not None)
    return compare(logged, evaluated, replay, school_year, limit)


def compare(logged_all: list[Decided], evaluated_all: list[Decided], replay: Replay, school_year: str | None,
            limit: int = 50) -> WhatIf:  # fmt: skip
    """The report of two lists of decisions (each in the order they were made)."""

    def in_year(rows: list[Decided]) -> list[Decided]:
        return [r for r in rows if school_year is None or school_year_of(r.decided_on) == school_year]

    logged, evaluated = in_year(logged_all), in_year(evaluated_all)
    note = None
    if not logged_all:
        note = "the log holds no dispatch decisions: nothing to compare with"
    elif not logged:
        note = f"the log holds no dispatch decisions decided in {school_year}: nothing to compare with"
    base = None if note else logged
    kinds = {"proposals": "proposal", "waiting_joins": "waiting", "blocked": "blocked"}
    totals = {name: {"logged": None if base is None else sum(r.kind == kind for r in base),
                     "evaluated": sum(r.kind == kind for r in evaluated)} for name, kind in kinds.items()}  # fmt: skip
    same = None
    if base is not None:
        known = {(r.proposal_id, r.places) for r in base if r.kind == "proposal"}
        same = sum((r.proposal_id, r.places) in known for r in evaluated if r.kind == "proposal")
    compared, changed = _changed(base, evaluated)
    return WhatIf(
        school_year=school_year, events_read=replay.read, events_fed=replay.fed,
        own_outputs_skipped=replay.own_outputs_skipped, evaluated_rule_set=replay.rules.version,
        logged_rule_sets=dict(sorted(Counter(r.rule_set for r in logged).items())),
        baseline=None if base is None else "the log", note=note, totals=totals, same_proposal_ids=same,
        places=_per_place(base, evaluated), trajectories_compared=None if base is None else compared,
        trajectories_changed=None if base is None else len(changed), changed=changed[:limit],
        refused=[asdict(r) for r in replay.refused],
    )  # fmt: skip


def _per_place(base: list[Decided] | None, evaluated: list[Decided]) -> list[dict[str, Any]]:
    def counted(rows: list[Decided]) -> tuple[Counter[str], Counter[str]]:
        proposals = Counter(r.places[0] for r in rows if r.kind == "proposal")
        joins = Counter(place for r in rows if r.kind == "waiting" for place in r.places)
        return proposals, joins

    logged_p, logged_w = counted(base or [])
    evaluated_p, evaluated_w = counted(evaluated)
    rows = []
    for place in sorted({*logged_p, *logged_w, *evaluated_p, *evaluated_w}):
        provider_id, module_id = place.split("/", 1)
        rows.append({"provider_id": provider_id, "module_id": module_id,
                     "proposals_logged": None if base is None else logged_p[place],
                     "proposals_evaluated": evaluated_p[place],
                     "waiting_joins_logged": None if base is None else logged_w[place],
                     "waiting_joins_evaluated": evaluated_w[place]})  # fmt: skip
    return rows


def _first(rows: list[Decided]) -> dict[str, tuple[int, Decided, str | None]]:
    """Per trajectory: the position and the decision of its first decision, and the place of its first proposal
    (None: never proposed)."""
    firsts: dict[str, tuple[int, Decided, str | None]] = {}
    for index, row in enumerate(rows):
        position, first, place = firsts.get(row.trajectory_id, (index, row, None))
        if place is None and row.kind == "proposal":
            place = row.places[0]
        firsts[row.trajectory_id] = (position, first, place)
    return firsts


def _changed(base: list[Decided] | None, evaluated: list[Decided]) -> tuple[int, list[dict[str, Any]]]:
    """How many trajectories were compared, and those whose first proposed provider/module changed, in the order of
    their first decision (its day, then its place in the log, else among the evaluated decisions)."""
    if base is None:
        return 0, []
    before, after = _first(base), _first(evaluated)
    rows = []
    for tid in before.keys() | after.keys():
        was_at, was_first, was = before.get(tid, (-1, None, None))
        now_at, now_first, now = after.get(tid, (-1, None, None))
        if was == now:
            continue
        firsts = [d for d in (was_first, now_first) if d is not None]
        order = (min(d.decided_on for d in firsts), was_first is None, was_at if was_first else now_at, tid)
        rows.append((order, {
            "trajectory_id": tid, "referral_id": firsts[0].referral_id, "logged": was, "evaluated": now,
            "logged_first_decision": None if was_first is None else was_first.kind,
            "evaluated_first_decision": None if now_first is None else now_first.kind}))  # fmt: skip
    return len(before.keys() | after.keys()), [row for _, row in sorted(rows, key=lambda r: r[0])]
