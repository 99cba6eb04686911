"""The ingest use case: check the dates and who may submit each event (ownership), deduplicate, seal and publish a
batch of submissions, all or nothing (REST) or item by item (the Kafka way in, where one conflicting, forbidden or
implausible message must not hold back the others)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from core.pupil_vault import PupilVault
from schemas.envelope import SubmissionBase
from schemas.pseudonym import pupil_key
from schemas.referrals import ReferralSubmissionV3Payload
from schemas.registry import seal
from services.ingest.metrics import IngestMetrics
from services.ingest.ownership import Caller, KnownOwners, OwnerLog, judge_each, ref_namespace
from services.ingest.ownership import Refusal as OwnershipRefusal
from services.ingest.plausibility import DateWindow, FieldProblem, date_problems
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.rules import Conflict, Outcome, Plan, SourceKey, namespaced, plan_batch, source_key
from services.ingest.sealing import SealedEvent, SealingPool, sealed_event
from services.ingest.source_index import SourceIndex


class NotReady(RuntimeError):
    """The idempotency index is not loaded yet (Kafka unreachable at start)."""


# How long a refusal about a stream the ownership index does not know waits for it to read what other ingest
# processes (the other way in, another replica) published just before.
CATCH_UP_S = 2.0


class Forbidden(PermissionError):
    """Submissions their caller may not make (ownership): nothing of the batch was published."""

    def __init__(self, refusals: list[OwnershipRefusal]) -> None:
        super().__init__(f"{len(refusals)} submission(s) refused: " + "; ".join(r.message for r in refusals[:3]))
        self.refusals = refusals


class SourceConflict(ValueError):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} submission(s) reuse a source_ref with different content")
        self.conflicts = conflicts


@dataclass(frozen=True)
class Refusal:
    """A submission refused as it is (a date outside the plausible window, or it cannot be sealed into an event):
    its position in the batch and the problems, each naming the field."""

    index: int
    problems: tuple[FieldProblem, ...]


class InvalidSubmissions(ValueError):
    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(f"{len(refusals)} submission(s) refused: " + "; ".join(
            f"[{r.index}] {p.message}" for r in refusals[:3] for p in r.problems))  # fmt: skip
        self.refusals = refusals


@dataclass(frozen=True)
class EachResult:
    """What `submit_each` did: outcomes of the published and duplicate items; conflicts, refusals and forbidden
    items (their caller may not submit them) not published."""

    outcomes: list[Outcome]
    conflicts: list[Conflict]
    refusals: list[Refusal]
    forbidden: list[OwnershipRefusal] = dataclasses.field(default_factory=list)


class IngestService:
    def __init__(
        self, publisher: EventPublisher, index: SourceIndex, pupil_secret: bytes, vault: PupilVault,
        window: DateWindow | None = None, metrics: IngestMetrics | None = None, owners: OwnerLog | None = None,
        sealing: SealingPool | None = None,
    ) -> None:
        self.publisher = publisher
        self.index = index
        self._pupil_secret = pupil_secret
        self.vault = vault  # issues pupil references and seals pupil keys; an erasure destroys a pupil's key
        self.window = window or DateWindow()  # the defaults of Settings
        # Who owns each referral, trajectory and group (the ownership index); without one, an empty log.
        self.owners: OwnerLog = owners if owners is not None else KnownOwners()
        self.metrics = metrics  # counts what came of each submission (services/ingest/metrics.py)
        self.sealing = sealing  # worker processes that seal large batches (services/ingest/sealing.py), if any
        # Source records being published right now: a concurrent request for the same record waits for
        # the first one instead of publishing a second copy. Likewise for streams: a request about a stream waits
        # until what is being published about it is known, so two callers cannot both claim one referral id.
        self._inflight: dict[SourceKey, asyncio.Future[None]] = {}
        self._inflight_streams: dict[str, asyncio.Future[None]] = {}

    async def submit(self, submissions: list[SubmissionBase], caller: Caller) -> list[Outcome]:
        """All or nothing: one implausible submission (InvalidSubmissions), one the caller may not make (Forbidden)
        or one conflict (SourceConflict) refuses the batch and nothing is published."""
        result = await self._publish(submissions, [caller] * len(submissions), refuse=True)
        return result.outcomes

    async def submit_each(self, submissions: list[SubmissionBase], callers: Sequence[Caller]) -> EachResult:
        """Item by item (`callers[i]` submitted `submissions[i]`): publish every new record, answer duplicates, and
        return the conflicts, the refusals and the forbidden items (not published) instead of refusing the batch.
        Their `index` is the position in `submissions`."""
        return await self._publish(submissions, callers, refuse=False)

    async def _publish(self, submissions: list[SubmissionBase], callers: Sequence[Caller], refuse: bool) -> EachResult:
        try:
            result = await self._judge_and_publish(submissions, callers, refuse)
        except InvalidSubmissions:
            self._count_refused(submissions, "invalid")
            raise
        except Forbidden:
            self._count_refused(submissions, "forbidden")
            raise
        except SourceConflict:
            self._count_refused(submissions, "conflict")
            raise
        if self.metrics is not None:
            self.metrics.outcomes(submissions, result.outcomes)
            self.metrics.refused((submissions[c.index] for c in result.conflicts), "conflict")
            self.metrics.refused((submissions[r.index] for r in result.refusals), "invalid")
            self.metrics.refused((submissions[f.index] for f in result.forbidden), "forbidden")
        return result

    def _count_refused(self, submissions: list[SubmissionBase], reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refused(submissions, reason)

    async def _judge_and_publish(
        self, sent: list[SubmissionBase], callers: Sequence[Caller], refuse: bool
    ) -> EachResult:
        if not self.index.ready.is_set():
            raise NotReady("the ingest is starting: its idempotency index is not loaded (is Kafka reachable?)")
        if not self.owners.ready.is_set():
            raise NotReady("the ingest is starting: its ownership index is not loaded (is Kafka reachable?)")
        # Stored and deduplicated under the caller's namespace; answers name the source_ref as it was sent.
        submissions = [namespaced(sub, ref_namespace(caller)) for sub, caller in zip(sent, callers, strict=True)]
        keys = {source_key(sub) for sub in submissions}
        streams = {sub.payload.stream_id() for sub in submissions}  # type: ignore[attr-defined]
        while pending := [*(self._inflight[k] for k in keys if k in self._inflight),
                          *(self._inflight_streams[s] for s in streams if s in self._inflight_streams)]:  # fmt: skip
            await asyncio.gather(*pending, return_exceptions=True)
        now = datetime.now(UTC)
        refusals = [Refusal(i, tuple(found)) for i, sub in enumerate(submissions)
                    if (found := date_problems(sub, self.window, now))]  # fmt: skip
        if refusals and refuse:
            raise InvalidSubmissions(refusals)
        first = self._judge(submissions, callers, set())
        judged: list[OwnershipRefusal] | None = first
        if any(f.reason == "not_in_scope" for f in first):
            await run_in_threadpool(self.owners.caught_up, CATCH_UP_S)
            judged = None  # judged again below on what it read
        while True:
            refused = {r.index for r in refusals}
            # Judged once when nothing else was refused and the owners did not change since (the common case).
            forbidden = judged if judged is not None and not refused else self._judge(submissions, callers, refused)
            judged = None
            if forbidden and refuse:
                raise Forbidden(forbidden)
            refused |= {f.index for f in forbidden}
            kept = [i for i in range(len(submissions)) if i not in refused]
            plan = _renumbered(plan_batch([submissions[i] for i in kept], self.index.entries, self._pupil_secret), kept)
            plan = dataclasses.replace(plan, conflicts=[dataclasses.replace(c, source_ref=sent[c.index].source_ref)
                                                        for c in plan.conflicts])  # fmt: skip
            if plan.conflicts and refuse:
                raise SourceConflict(plan.conflicts)
            # Held from here (sealing may wait for the workers): a concurrent request about the same source records
            # or streams waits until these are published or refused.
            done = self._hold(plan)
            try:
                events, unsealable = await self._seal(plan, now)
                if not unsealable:
                    if events:
                        await self._send(events, plan)
                    break
                if refuse:
                    raise InvalidSubmissions(unsealable)
            finally:
                self._release(plan, done)
            refusals += unsealable  # planned again without them: a later duplicate of one must not answer its id
        return EachResult(plan.outcomes, plan.conflicts, sorted(refusals, key=lambda r: r.index), forbidden)

    def _judge(self, submissions: list[SubmissionBase], callers: Sequence[Caller],
               skipped: set[int]) -> list[OwnershipRefusal]:  # fmt: skip
        """The ownership refusals of the submissions not `skipped`, judged in order, by position in the batch."""
        kept = [i for i in range(len(submissions)) if i not in skipped]
        found = judge_each([(callers[i], submissions[i]) for i in kept], self.owners)
        return [dataclasses.replace(f, index=kept[f.index]) for f in found]

    async def _seal(self, plan: Plan, now: datetime) -> tuple[list[SealedEvent], list[Refusal]]:
        events, unsealable = [], []
        # The new pupils of the batch get their vault references in one write (sealing then only reads them). In a
        # thread: the vault commits to disk (synchronous=FULL), and the other requests go on meanwhile.
        payloads = [getattr(sub, "payload", None) for _, sub in plan.to_publish]
        if pupils := [pupil_key(self._pupil_secret, p.pupil_id) for p in payloads
                      if isinstance(p, ReferralSubmissionV3Payload)]:  # fmt: skip
            await run_in_threadpool(self.vault.issue, pupils)
        by_workers = None if self.sealing is None else await self.sealing.seal([s for _, s in plan.to_publish], now)
        for n, (i, sub) in enumerate(plan.to_publish):
            if by_workers is not None and (done := by_workers[n]) is not None:
                events.append(done)
                continue
            try:
                events.append(sealed_event(seal(sub, now, self._pupil_secret, self.vault)))
            except ValidationError as err:
                problems = tuple(FieldProblem(".".join(str(p) for p in e["loc"]) or "$", e["msg"], e["type"])
                                 for e in err.errors(include_url=False))  # fmt: skip
                unsealable.append(Refusal(i, problems))
        return events, unsealable

    def _hold(self, plan: Plan) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in plan.new_entries:
            self._inflight[key] = done
        for _, sub in plan.to_publish:
            self._inflight_streams[sub.payload.stream_id()] = done  # type: ignore[attr-defined]
        return done

    def _release(self, plan: Plan, done: asyncio.Future[None]) -> None:
        for key in plan.new_entries:
            self._inflight.pop(key, None)
        for _, sub in plan.to_publish:
            self._inflight_streams.pop(sub.payload.stream_id(), None)  # type: ignore[attr-defined]
        done.set_result(None)

    async def _send(self, events: list[SealedEvent], plan: Plan) -> None:
        new_entries = plan.new_entries
        offsets = await run_in_threadpool(self.publisher.publish, events, new_entries)
        self.index.remember(new_entries)
        # An erasure is in the log: destroy the pupil's key now (the warehouse writer does it too when it reads the
        # event, in case this process dies in between).
        for event in events:
            if event.erased_pupil_ref is not None:
                self.vault.erase(event.erased_pupil_ref)
        for event, offset in zip(events, offsets, strict=True):
            if event.facts:
                self.owners.remember(event.facts, offset)


def _renumbered(plan: Plan, positions: list[int]) -> Plan:
    """A plan made over a subset of a batch, its indexes turned back into positions in the whole batch."""
    return Plan(
        [(positions[i], sub) for i, sub in plan.to_publish],
        [dataclasses.replace(o, index=positions[o.index]) for o in plan.outcomes],
        [dataclasses.replace(c, index=positions[c.index]) for c in plan.conflicts],
        plan.new_entries,
    )


__all__ = ["BrokerUnavailable", "EachResult", "Forbidden", "IngestService", "InvalidSubmissions", "NotReady",
           "Refusal", "SourceConflict"]
