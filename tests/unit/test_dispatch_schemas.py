"""The dispatch events of the contract (schemas/dispatch.py) and TrajectoryDispatched version 2: the decision names
the proposal it answers; version 1 is still accepted and read as a dispatch without a proposal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.catalogue import LATEST_VERSION
from schemas.registry import SUBMISSION_ADAPTER, example_submission, parse_event, seal
from schemas.trajectories import TrajectoryDispatchedPayload

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def submit(event_type: str, version: int | None = None, **payload: Any) -> Any:
    data = example_submission(event_type, version)
    data["payload"].update(payload)
    return SUBMISSION_ADAPTER.validate_python(data)


def test_a_version_1_dispatch_is_stored_as_sent_and_read_as_version_2_without_a_proposal() -> None:
    assert LATEST_VERSION["TrajectoryDispatched"] == 2
    data = example_submission("TrajectoryDispatched", 1)
    del data["schema_version"]  # a producer written before version 2
    stored = seal(SUBMISSION_ADAPTER.validate_python(data), NOW)
    raw = json.loads(stored.model_dump_json())
    assert raw["schema_version"] == 1 and "proposal_id" not in raw["payload"]
    event = parse_event(stored.model_dump_json())
    assert event.schema_version == 2 and event.event_id == stored.event_id
    payload = event.payload
    assert isinstance(payload, TrajectoryDispatchedPayload)
    assert (payload.provider_id, payload.proposal_id, payload.overridden, payload.override_reason) == (
        "abrusco", None, None, None,
    )  # fmt: skip


def test_a_decision_names_its_proposal_and_says_whether_it_was_overridden() -> None:
    confirmed = seal(submit("TrajectoryDispatched"), NOW)
    assert (confirmed.payload.proposal_id, confirmed.payload.overridden) == ("P-kfhagnomcbdjlpie", False)  # type: ignore[attr-defined]
    overridden = submit("TrajectoryDispatched", overridden=True, override_reason="the pupil already knows this coach")
    assert overridden.payload.override_reason == "the pupil already knows this coach"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"proposal_id": None, "overridden": False}, "only with a proposal_id"),
        ({"overridden": None}, "says whether it was overridden"),
        ({"overridden": True}, "override_reason is required"),
        ({"override_reason": "because"}, "override_reason is required when overridden is true, and only then"),
        ({"overridden": True, "override_reason": "Jan Janssens asked for it"}, "person's name"),
    ],
)
def test_decision_rules(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        submit("TrajectoryDispatched", **payload)


def test_a_version_2_dispatch_must_say_its_version() -> None:
    data = example_submission("TrajectoryDispatched")
    del data["schema_version"]  # read as version 1, where proposal_id is unknown
    with pytest.raises(ValidationError, match="proposal_id"):
        SUBMISSION_ADAPTER.validate_python(data)


def test_a_proposal_keeps_its_rule_trace_with_typed_facts() -> None:
    event = seal(submit("DispatchProposed"), NOW)
    assert event.stream_id == "R-2025-0042" and event.school_year == "2025-2026"
    trace = event.payload.trace  # type: ignore[attr-defined]
    assert [(v.rule, v.provider_id, v.verdict) for v in trace][-1] == ("decision", "abrusco", "chosen")
    assert trace[1].facts == {"capacity": 12, "occupied": 11, "proposed": 1}
    assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("verdict", "match"),
    [
        ({"rule": "minimum_age", "verdict": "maybe"}, "dispatch_verdict code"),
        ({"rule": "Minimum Age", "verdict": "passed"}, "should match pattern"),
        ({"rule": "minimum_age", "verdict": "passed", "facts": {"pupil": "85.07.31-123.05"}}, "national register"),
        ({"rule": "minimum_age", "verdict": "passed", "facts": {"pupil": {"name": "x"}}}, "facts.pupil"),
    ],
)
def test_a_trace_refuses_unknown_verdicts_and_anything_personal(verdict: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        submit("DispatchProposed", trace=[verdict])
    with pytest.raises(ValidationError, match="at least 1"):
        submit("DispatchProposed", trace=[])


def test_leaving_a_waiting_list_for_a_proposal_names_it() -> None:
    left = seal(submit("WaitingListLeft"), NOW)
    assert (left.payload.reason, left.payload.proposal_id) == ("proposed", "P-kfhagnomcbdjlpie")  # type: ignore[attr-defined]
    assert submit("WaitingListLeft", reason="withdrawn", proposal_id=None).payload.proposal_id is None
    with pytest.raises(ValidationError, match="exactly when the reason is proposed"):
        submit("WaitingListLeft", reason="withdrawn")
    with pytest.raises(ValidationError, match="at least 1"):
        submit("WaitingListJoined", places=[])
