"""Pure ingest rules: a resubmitted source record is a duplicate, a changed one is a conflict."""

from __future__ import annotations

from typing import Any

from schemas.envelope import event_id_for
from schemas.registry import SUBMISSION_ADAPTER, example_submission
from services.ingest.rules import IndexEntry, fingerprint, plan_batch, source_key

KEY = b"test-fingerprint-key"


def sub(event_type: str = "TrajectoryStarted", ref: str = "r1", **payload: Any) -> Any:
    data = example_submission(event_type)
    data["source_ref"] = ref
    data["payload"].update(payload)
    return SUBMISSION_ADAPTER.validate_python(data)


def test_new_records_are_published_with_derived_ids() -> None:
    plan = plan_batch([sub(ref="a"), sub(ref="b")], {}, KEY)
    assert [i for i, _ in plan.to_publish] == [0, 1]
    assert [o.event_id for o in plan.outcomes] == [event_id_for("lars", "a"), event_id_for("lars", "b")]
    assert {o.status for o in plan.outcomes} == {"created"}


def test_known_record_is_a_duplicate_answering_the_first_id() -> None:
    first = sub(ref="a")
    known = {source_key(first): IndexEntry(event_id_for("lars", "a"), fingerprint(first, KEY))}
    plan = plan_batch([sub(ref="a")], known, KEY)
    assert plan.to_publish == []
    assert plan.outcomes[0].status == "duplicate"
    assert plan.outcomes[0].event_id == event_id_for("lars", "a")


def test_same_record_twice_in_one_batch_is_published_once() -> None:
    plan = plan_batch([sub(ref="a"), sub(ref="a")], {}, KEY)
    assert len(plan.to_publish) == 1
    assert [o.status for o in plan.outcomes] == ["created", "duplicate"]
    assert plan.outcomes[0].event_id == plan.outcomes[1].event_id


def test_same_source_ref_with_other_content_is_a_conflict() -> None:
    first = sub(ref="a", half_days_per_week=2)
    known = {source_key(first): IndexEntry(event_id_for("lars", "a"), fingerprint(first, KEY))}
    plan = plan_batch([sub(ref="b"), sub(ref="a", half_days_per_week=3)], known, KEY)
    assert [(c.index, c.source_ref) for c in plan.conflicts] == [(1, "a")]


def test_fingerprint_is_keyed_so_it_cannot_be_recomputed_without_the_secret() -> None:
    record = sub(ref="a")
    assert fingerprint(record, KEY) == fingerprint(sub(ref="a"), KEY)
    assert fingerprint(record, KEY) != fingerprint(record, b"another-key")
