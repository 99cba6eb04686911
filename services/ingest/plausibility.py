"""Pure rule: the dates an event may carry. No I/O; the ingest applies it to every submission, whichever way in.

An event happened between the earliest day the platform keeps (`KANS_EARLIEST_EVENT_DATE`) and a little after
its acceptance (`KANS_MAX_EVENT_LEAD_S`: clocks drift, events do not happen in the future). A date in its payload
(a round table's planned day, the days a provider fact holds from and until) lies between that earliest day and
`KANS_MAX_PLANNED_DATE_LEAD_DAYS` after the event. Outside these windows a date is a typing error (year 1446,
9999 for "forever"), and it would break what is derived from it (the school year; ClickHouse `Date` columns end
in 2149).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from core.settings import Settings
from schemas.envelope import SubmissionBase

ERROR_TYPE = "date_out_of_window"


@dataclass(frozen=True)
class DateWindow:
    """The plausible dates, relative to the moment a submission is accepted."""

    earliest: date = date(2000, 1, 1)
    max_lead: timedelta = timedelta(days=1)
    max_planned_lead: timedelta = timedelta(days=3 * 366)

    @classmethod
    def from_settings(cls, settings: Settings) -> DateWindow:
        return cls(settings.earliest_event_date, timedelta(seconds=settings.max_event_lead_s),
                   timedelta(days=settings.max_planned_date_lead_days))  # fmt: skip


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field of a submission (`occurred_at`, `payload.valid_from`), in the 422 format's terms."""

    field: str
    message: str
    type: str = ERROR_TYPE


def _payload_dates(model: BaseModel, prefix: str) -> Iterator[tuple[str, date]]:
    """Every date (or datetime) in a payload, nested models and lists included, with its dotted path."""
    for name in _fields_with_dates(type(model)):
        yield from _dates_in(getattr(model, name), f"{prefix}.{name}")


@cache
def _fields_with_dates(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` whose type may hold a date: a payload's strings, numbers and codes are not looked at for
    every submission (a batch of referrals otherwise spends more time here than validating them)."""
    return tuple(name for name, info in model.model_fields.items() if _may_hold_date(info.annotation))


def _may_hold_date(annotation: Any) -> bool:
    if annotation in _NO_DATE:
        return False
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:  # the type, not its constraints and validators
        return _may_hold_date(get_args(annotation)[0])
    if origin is not None:  # a union, list, tuple, Annotated ...: what it holds
        return any(_may_hold_date(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    # A date, a model, Any or a type not recognised here is looked at.
    return not (isinstance(annotation, type) and issubclass(annotation, Enum))


_NO_DATE: frozenset[Any] = frozenset({str, int, float, bool, bytes, type(None), UUID})


def _dates_in(value: Any, path: str) -> Iterator[tuple[str, date]]:
    if isinstance(value, date):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from _payload_dates(value, path)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _dates_in(item, f"{path}[{i}]")


def date_problems(submission: SubmissionBase, window: DateWindow, accepted_at: datetime) -> list[FieldProblem]:
    """The dates of `submission` outside the window that holds when it is accepted at `accepted_at`."""
    earliest = datetime.combine(window.earliest, time(), UTC)
    latest = accepted_at + window.max_lead
    occurred = submission.occurred_at
    problems = []
    if not earliest <= occurred <= latest:
        window_text = (f"{earliest.isoformat()} .. {latest.isoformat(timespec='seconds')} (from "
                       f"{window.earliest.isoformat()} to {_lead(window.max_lead)} after the event is accepted)")
        problems.append(FieldProblem("occurred_at", f"occurred_at {occurred.isoformat()} is outside the plausible "
                                     f"window {window_text}"))  # fmt: skip
    last_day = (min(occurred, latest) + window.max_planned_lead).date()
    for path, value in _payload_dates(getattr(submission, "payload"), "payload"):  # noqa: B009 - on each subclass
        day = value.date() if isinstance(value, datetime) else value
        if not window.earliest <= day <= last_day:
            window_text = (f"{window.earliest.isoformat()} .. {last_day.isoformat()} (at most "
                           f"{window.max_planned_lead.days} days after occurred_at)")
            name = path.rsplit(".", 1)[-1]
            problems.append(FieldProblem(path, f"{name} {value.isoformat()} is outside the plausible window "
                                         f"{window_text}"))  # fmt: skip
    return problems


def _lead(lead: timedelta) -> str:
    hours = lead.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours >= 24 else f"{hours:g} hour(s)"
