"""Ownership on the way in: who may submit an event about a referral, trajectory, group or provider. Pure rules.

The caller (`Caller`: an API key today, any credential mapped onto the same four attributes tomorrow) acts as the
desk, for some referrers (CLBs, schools) and for some providers. What it may do to an existing stream depends on
what the event log says about that stream (`Owners`: the referral's referrer, the provider a trajectory was
dispatched to, the group referral's referrer), never on what the caller claims:

- ReferralSubmitted, GroupReferralSubmitted: a caller acting for the referrer it names; an id already used by
  another referrer stays theirs.
- ReferralAmended, ReferralWithdrawn, AdviceGiven: the referral's referrer (handing it to another referrer needs
  that one in scope too), or the desk.
- RoundTableScheduled/-Held/-Cancelled, TrajectoryDispatched, TrajectoryCarriedOver, GroupTrajectoryDispatched,
  ProviderRegistered, ProviderReachabilitySet: the desk.
- TrajectoryStarted/-NotStarted/-ProgressReported/-StoppedEarly/-Closed: the provider the trajectory is
  dispatched to, or the desk; GroupTrajectoryStarted/-NotStarted/-StoppedEarly/-Completed likewise.
- ModuleOffered, ModuleWithdrawn, ProviderCapacitySet, ProviderMinimumAgeSet, ProviderAcceptingReferralsSet,
  ProviderTravelRegionSet, ProviderCoachSettingSet, ProviderCoronaCoachingReported: the provider itself, or the desk.

A refusal names the event, the field, and what the caller may act on. About a stream the caller may not see (not
its referral, not a trajectory dispatched to it) the answer is the same whether the stream exists or not, so ids
cannot be probed; only a new referral's id already used by another referrer is said to be taken (the id cannot be
given twice). A caller acting for every referrer (or every provider) may act on a stream the log does not know yet.
Events of one batch are judged in order: a referral, its dispatch and its start may come together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from schemas.catalogue import EVENT_TYPES
from schemas.stream_owners import Fact, StreamKey, facts_of

ANY = "*"


class Caller(Protocol):
    """Whom the ingest's caller acts as. `*` in referrers or providers means every one."""

    @property
    def name(self) -> str: ...

    @property
    def desk(self) -> bool: ...

    @property
    def referrers(self) -> frozenset[str]: ...

    @property
    def providers(self) -> frozenset[str]: ...


class Owners(Protocol):
    """What the event log says about streams: the owner of a stream key, None when the log does not know it."""

    def owner(self, key: StreamKey) -> str | None: ...


class OwnerLog(Owners, Protocol):
    """The owners as the ingest keeps them (the ownership index, or `KnownOwners` without Kafka): loaded (`ready`),
    told what this process published, and able to catch up with what other processes published just now."""

    ready: threading.Event

    def __len__(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def remember(self, facts: Iterable[Fact], offset: int) -> None: ...

    def caught_up(self, timeout_s: float) -> bool: ...


class Submitted(Protocol):
    """A submission or a stored event: its type and payload are all the rules read."""

    @property
    def event_type(self) -> str: ...

    @property
    def payload(self) -> Any: ...


@dataclass(frozen=True)
class Refusal:
    """One submission the caller may not make: `field` is its path inside the submission, `allowed` what the
    caller may act on instead (event types for `desk_only`, referrer or provider ids, or a description)."""

    index: int
    event_type: str
    field: str
    value: str
    reason: str  # desk_only | not_in_scope | referrer_not_in_scope | provider_not_in_scope | id_taken
    allowed: tuple[str, ...]
    message: str


def may_refer(caller: Caller, referrer_id: str) -> bool:
    return caller.desk or ANY in caller.referrers or referrer_id in caller.referrers


def may_provide(caller: Caller, provider_id: str) -> bool:
    return caller.desk or ANY in caller.providers or provider_id in caller.providers


def ref_namespace(caller: Caller) -> str | None:
    """Where the caller's source_refs live: None for a caller that speaks for its whole source system (the desk,
    every referrer or every provider): its refs are the system's own; the caller's name for one limited to some
    referrers or providers, so it can never claim (and so block) a source_ref of the system or of another caller."""
    whole_system = caller.desk or ANY in caller.referrers or ANY in caller.providers
    return None if whole_system else caller.name


def acts_for(caller: Caller) -> tuple[str, ...]:
    """What the caller may act on, in words (the `allowed` of a refusal about a stream)."""
    if caller.desk:
        return ("everything, as the desk",)
    found = []
    if caller.referrers:
        who = "every referrer" if ANY in caller.referrers else ", ".join(sorted(caller.referrers))
        found.append(f"referrals and group referrals of {who}")
    if caller.providers:
        who = "any provider" if ANY in caller.providers else ", ".join(sorted(caller.providers))
        found.append(f"trajectories and group trajectories dispatched to {who}, and its provider facts")
    return tuple(found) or ("nothing: the key acts for no referrer, no provider and not as the desk",)


Lookup = Callable[[StreamKey], "str | None"]


def _text(payload: Any, name: str) -> str:
    return str(getattr(payload, name))


@dataclass(frozen=True)
class Rule:
    """Who may submit one event type (`who`, in words) and the check that decides it."""

    who: str
    kind: str  # new_referral | new_group | referral | desk | trajectory | group_trajectory | provider

    def check(self, caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
        return _CHECKS[self.kind](caller, event_type, payload, owner)


def _refusal(event_type: str, field: str, value: str, reason: str, allowed: Iterable[str], message: str) -> Refusal:
    return Refusal(-1, event_type, field, value, reason, tuple(allowed), message)


def _desk_only(caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
    if caller.desk:
        return None
    allowed = submittable(caller)
    return _refusal(event_type, "event_type", event_type, "desk_only", allowed,
                    f"{event_type} is submitted by the desk only; {caller.name!r} may submit: "
                    f"{', '.join(allowed) or 'nothing'}")  # fmt: skip


def _not_in_scope(caller: Caller, event_type: str, field: str, value: str, what: str) -> Refusal:
    allowed = acts_for(caller)
    return _refusal(event_type, field, value, "not_in_scope", allowed,
                    f"{event_type}: {what} is not one {caller.name!r} may act on (it acts for {'; '.join(allowed)}); "
                    "whether it exists is not said")  # fmt: skip


def _new_stream(kind: str, id_field: str, label: str) -> Callable[[Caller, str, Any, Lookup], Refusal | None]:
    def check(caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
        referrer, stream = _text(payload, "referrer_id"), _text(payload, id_field)
        if not may_refer(caller, referrer):
            allowed = sorted(caller.referrers)
            return _refusal(event_type, "payload.referrer_id", referrer, "referrer_not_in_scope", allowed,
                            f"{event_type}: referrer_id {referrer!r} is not one {caller.name!r} acts for; allowed: "
                            f"{', '.join(allowed) or 'none'}")  # fmt: skip
        existing = owner((kind, stream))
        if existing is not None and not may_refer(caller, existing):
            return _refusal(event_type, f"payload.{id_field}", stream, "id_taken", (),
                            f"{event_type}: {label} {stream!r} is already used by another referrer; a new {label} "
                            "needs an id of its own")  # fmt: skip
        return None

    return check


def _referral(caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
    referral = _text(payload, "referral_id")
    if not caller.desk:
        existing = owner(("referral", referral))
        known_and_ours = existing is not None and may_refer(caller, existing)
        if not (known_and_ours or (existing is None and ANY in caller.referrers)):
            return _not_in_scope(caller, event_type, "payload.referral_id", referral, f"referral {referral!r}")
    changes = getattr(payload, "changes", None)
    if changes is not None and "referrer_id" in changes.model_fields_set:
        new = str(changes.referrer_id)
        if not may_refer(caller, new):
            allowed = sorted(caller.referrers)
            return _refusal(event_type, "payload.changes.referrer_id", new, "referrer_not_in_scope", allowed,
                            f"{event_type}: the referral cannot be handed to referrer {new!r}, which "
                            f"{caller.name!r} does not act for; allowed: {', '.join(allowed) or 'none'}")  # fmt: skip
    return None


def _dispatched(kind: str, stream_field: str, id_field: str, label: str) -> Callable[..., Refusal | None]:
    def check(caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
        if caller.desk:
            return None
        stream, item = _text(payload, stream_field), _text(payload, id_field)
        existing = owner((kind, stream, item))
        if existing is not None and may_provide(caller, existing):
            return None
        if existing is None and ANY in caller.providers:
            return None
        return _not_in_scope(caller, event_type, f"payload.{id_field}", item,
                             f"{label} {item!r} of {stream_field} {stream!r}")  # fmt: skip

    return check


def _provider(caller: Caller, event_type: str, payload: Any, owner: Lookup) -> Refusal | None:
    provider = _text(payload, "provider_id")
    if may_provide(caller, provider):
        return None
    allowed = sorted(caller.providers)
    return _refusal(event_type, "payload.provider_id", provider, "provider_not_in_scope", allowed,
                    f"{event_type}: provider_id {provider!r} is not a provider {caller.name!r} acts for; allowed: "
                    f"{', '.join(allowed) or 'none'}")  # fmt: skip


_CHECKS: dict[str, Callable[[Caller, str, Any, Lookup], Refusal | None]] = {
    "new_referral": _new_stream("referral", "referral_id", "referral_id"),
    "new_group": _new_stream("group", "group_referral_id", "group_referral_id"),
    "referral": _referral,
    "desk": _desk_only,
    "trajectory": _dispatched("trajectory", "referral_id", "trajectory_id", "trajectory"),
    "group_trajectory": _dispatched(
        "group_trajectory", "group_referral_id", "group_trajectory_id", "group trajectory"
    ),
    "provider": _provider,
}

_NEW_REFERRAL = Rule("a caller acting for the referrer it names (an id another referrer uses is refused)",
                     "new_referral")  # fmt: skip
_NEW_GROUP = Rule("a caller acting for the referrer it names (an id another referrer uses is refused)", "new_group")
_REFERRAL = Rule("the referral's referrer, or the desk", "referral")
_DESK = Rule("the desk", "desk")
_TRAJECTORY = Rule("the provider the trajectory is dispatched to, or the desk", "trajectory")
_GROUP_TRAJECTORY = Rule("the provider the group trajectory is dispatched to, or the desk", "group_trajectory")
_PROVIDER = Rule("the provider itself, or the desk", "provider")

RULES: dict[str, Rule] = {
    "ReferralSubmitted": _NEW_REFERRAL,
    "ReferralAmended": _REFERRAL,
    "ReferralWithdrawn": _REFERRAL,
    # Advice ends triage (the desk's), yet LARS's KANS module records it on the CLB's referral and exports it.
    "AdviceGiven": _REFERRAL,
    "RoundTableScheduled": _DESK,
    "RoundTableHeld": _DESK,
    "RoundTableCancelled": _DESK,
    # The dispatch service writes its proposals and waiting lists to the log itself; through the ingest only the
    # desk may (e.g. to record a decision taken outside it).
    "DispatchProposed": _DESK,
    "DispatchBlocked": _DESK,
    "WaitingListJoined": _DESK,
    "WaitingListLeft": _DESK,
    "TrajectoryDispatched": _DESK,
    "TrajectoryStarted": _TRAJECTORY,
    "TrajectoryNotStarted": _TRAJECTORY,
    "TrajectoryProgressReported": _TRAJECTORY,
    "TrajectoryStoppedEarly": _TRAJECTORY,
    "TrajectoryClosed": _TRAJECTORY,
    "TrajectoryCarriedOver": _DESK,
    "GroupReferralSubmitted": _NEW_GROUP,
    "GroupTrajectoryDispatched": _DESK,
    "GroupTrajectoryStarted": _GROUP_TRAJECTORY,
    "GroupTrajectoryNotStarted": _GROUP_TRAJECTORY,
    "GroupTrajectoryStoppedEarly": _GROUP_TRAJECTORY,
    "GroupTrajectoryCompleted": _GROUP_TRAJECTORY,
    "ProviderRegistered": _DESK,  # joining the desk's network is the desk's decision
    "ModuleOffered": _PROVIDER,
    "ModuleWithdrawn": _PROVIDER,
    "ProviderCapacitySet": _PROVIDER,
    "ProviderMinimumAgeSet": _PROVIDER,
    "ProviderAcceptingReferralsSet": _PROVIDER,
    "ProviderReachabilitySet": _DESK,  # whether the desk may refer to the provider (e.g. only via youth care)
    "ProviderTravelRegionSet": _PROVIDER,  # where it takes pupils from (travel is feasible)
    "ProviderCoachSettingSet": _PROVIDER,  # its youth coaches' school settings (coach op school)
    "ProviderCoronaCoachingReported": _PROVIDER,  # the pupils its coaches supported in corona coaching
    "PupilErased": _DESK,  # erasure is the controller's decision, taken and recorded by the desk
}

if missing := sorted(set(EVENT_TYPES) - set(RULES)):  # a new event type is refused until it has a rule
    raise RuntimeError(f"event type(s) {missing} have no ownership rule in services/ingest/ownership.py")

def submittable(caller: Caller) -> tuple[str, ...]:
    """The event types the caller may submit at all (about streams it acts on)."""
    kinds = {"desk", "new_referral", "new_group", "referral", "trajectory", "group_trajectory", "provider"}
    if not caller.desk:
        kinds = ({"new_referral", "new_group", "referral"} if caller.referrers else set()) | (
            {"trajectory", "group_trajectory", "provider"} if caller.providers else set())  # fmt: skip
    return tuple(name for name, rule in RULES.items() if rule.kind in kinds)


def judge(caller: Caller, submissions: Sequence[Submitted | Any], owners: Owners) -> list[Refusal]:
    """Every submission the caller may not make, in order: what an earlier submission of the batch establishes
    (a referral, a dispatch) counts for the later ones; a refused one establishes nothing."""
    return judge_each([(caller, sub) for sub in submissions], owners)


def judge_each(submissions: Sequence[tuple[Caller, Submitted | Any]], owners: Owners) -> list[Refusal]:
    """`judge` for submissions of several callers (the messages of an inbound batch), judged in order."""
    batch: dict[StreamKey, str] = {}

    def owner(key: StreamKey) -> str | None:
        return batch[key] if key in batch else owners.owner(key)

    refusals = []
    for i, (caller, sub) in enumerate(submissions):
        refusal = RULES[sub.event_type].check(caller, sub.event_type, sub.payload, owner)
        if refusal is not None:
            refusals.append(replace(refusal, index=i))
        else:
            batch.update(facts_of(sub.event_type, sub.payload))
    return refusals


class KnownOwners:
    """Owners held in memory, as the ownership index holds them (the offset of the event that set an owner decides
    which of two facts is later): for tests and for an ingest assembled without Kafka."""

    def __init__(self, facts: Mapping[StreamKey, str] | Iterable[Fact] = ()) -> None:
        self.facts = dict(facts)
        self._offsets: dict[StreamKey, int] = {}
        self.ready = threading.Event()
        self.ready.set()

    def __len__(self) -> int:
        return len(self.facts)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def owner(self, key: StreamKey) -> str | None:
        return self.facts.get(key)

    def remember(self, facts: Iterable[Fact], offset: int) -> None:
        for key, owner in facts:
            if self._offsets.get(key, -1) < offset:
                self.facts[key], self._offsets[key] = owner, offset

    def caught_up(self, timeout_s: float) -> bool:
        return True
