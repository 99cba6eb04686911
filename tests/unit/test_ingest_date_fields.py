"""The plausibility rule looks only at the fields that may hold a date (services/ingest/plausibility.py): it finds
every date that a walk over every field finds, in every example submission of every version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.registry import SUBMISSION_ADAPTER, SUBMISSION_VERSIONS, example_submission
from services.ingest.plausibility import _payload_dates


def every_date(value: Any, path: str) -> Iterator[tuple[str, date]]:
    """The walk over every field, as the rule did before it skipped the fields that cannot hold a date."""
    if isinstance(value, date):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from every_date(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from every_date(item, f"{path}[{i}]")


@pytest.mark.parametrize("key", sorted(SUBMISSION_VERSIONS), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_date_of_an_example_submission_is_found(key: tuple[str, int]) -> None:
    submission = SUBMISSION_ADAPTER.validate_python(example_submission(*key))
    payload = submission.payload
    assert list(_payload_dates(payload, "payload")) == list(every_date(payload, "payload"))


def test_dates_in_nested_models_and_lists_are_found() -> None:
    data = example_submission("WaitingListLeft")
    found = [path for path, _ in _payload_dates(SUBMISSION_ADAPTER.validate_python(data).payload, "payload")]
    assert "payload.left_on" in found and "payload.waiting_since" in found
