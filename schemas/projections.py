"""Messages of the projections worker's internal topic `<prefix><app_id>-load-changes`, keyed by `provider|module`.

The worker translates events (keyed by referral or provider) into changes of one provider-load row (keyed by
provider and module); each change is one of five kinds, told apart by `kind`, and a sixth kind (`changes`) carries
several changes of one row in order (what a batch of events changed in it). Like the events, the messages are
frozen, refuse unknown fields and carry a `schema_version`; a message written before the field existed (the
same keys, no `schema_version`) is version 1.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, TypeAdapter

from schemas.envelope import Frozen, Identifier, SchoolYear

__all__ = [
    "LOAD_CHANGE_ADAPTER", "LOAD_CHANGE_KINDS", "LoadChangeMessage", "MembershipChanged", "ModuleCapacityChanged",
    "ModuleOfferingChanged", "OneChange", "RowChanges", "WaitingListChanged", "WaitingTimeMeasured", "as_messages",
    "changes_in", "dump_load_change", "load_key", "parse_load_change",
]  # fmt: skip


def load_key(provider_id: str, module_id: str) -> str:
    """The Kafka key of a load change and the key of its provider-load row."""
    return f"{provider_id}|{module_id}"


class MembershipChanged(Frozen):
    """A trajectory now counts as active or waiting in the row (membership null: it no longer counts there), taking
    `half_days_per_week` while active (null: not known, or not active; absent in records written before it existed)."""

    kind: Literal["membership"] = "membership"
    schema_version: Literal[1] = 1
    trajectory_id: Identifier
    membership: Literal["active", "waiting"] | None
    half_days_per_week: float | None = Field(None, ge=0, le=10)


class ModuleCapacityChanged(Frozen):
    """The provider's capacity for the module (concurrent trajectories) from `valid_from` on."""

    kind: Literal["capacity"] = "capacity"
    schema_version: Literal[1] = 1
    valid_from: date
    capacity: int = Field(ge=0)


class ModuleOfferingChanged(Frozen):
    """The module is offered (ModuleOffered) or withdrawn (ModuleWithdrawn) from `valid_from` on."""

    kind: Literal["offered"] = "offered"
    schema_version: Literal[1] = 1
    valid_from: date
    offered: bool


class WaitingTimeMeasured(Frozen):
    """A trajectory's dispatch -> start waiting time in days, counted in the school year of its start."""

    kind: Literal["wait"] = "wait"
    schema_version: Literal[1] = 1
    trajectory_id: Identifier
    school_year: SchoolYear
    days: float = Field(ge=0)


class WaitingListChanged(Frozen):
    """A trajectory joined (on_list) or left the row's waiting list (the dispatch service's WaitingListJoined/Left:
    every eligible provider was full)."""

    kind: Literal["waiting_list"] = "waiting_list"
    schema_version: Literal[1] = 1
    trajectory_id: Identifier
    on_list: bool


OneChange = Annotated[
    Union[MembershipChanged, ModuleCapacityChanged, ModuleOfferingChanged, WaitingTimeMeasured,  # noqa: UP007
          WaitingListChanged],
    Discriminator("kind"),
]
MAX_ROW_CHANGES = 500  # changes per record: ~60 kB at most, far below the broker's 1 MB message limit


class RowChanges(Frozen):
    """Several changes of one provider-load row, to apply in order: what one batch of the event log changed in that
    row (the worker sends one record per row and batch, not one per change)."""

    kind: Literal["changes"] = "changes"
    schema_version: Literal[1] = 1
    changes: tuple[OneChange, ...] = Field(min_length=1, max_length=MAX_ROW_CHANGES)


LOAD_CHANGE_KINDS: dict[str, type[Frozen]] = {
    "membership": MembershipChanged,
    "capacity": ModuleCapacityChanged,
    "offered": ModuleOfferingChanged,
    "wait": WaitingTimeMeasured,
    "waiting_list": WaitingListChanged,
    "changes": RowChanges,
}
LoadChangeMessage = Annotated[
    Union[MembershipChanged, ModuleCapacityChanged, ModuleOfferingChanged, WaitingTimeMeasured,  # noqa: UP007
          WaitingListChanged, RowChanges],
    Discriminator("kind"),
]
LOAD_CHANGE_ADAPTER: TypeAdapter[LoadChangeMessage] = TypeAdapter(LoadChangeMessage)


def parse_load_change(raw: bytes | str) -> LoadChangeMessage:
    """A load-change message from its JSON; ValidationError names the allowed kinds for an unknown one."""
    return LOAD_CHANGE_ADAPTER.validate_json(raw)


def changes_in(message: LoadChangeMessage) -> tuple[OneChange, ...]:
    """The changes a message carries, in order (one, or a row's batch)."""
    return message.changes if isinstance(message, RowChanges) else (message,)


def as_messages(changes: list[OneChange]) -> list[LoadChangeMessage]:
    """One row's changes as few messages as the size limit allows: a single change as itself, more as RowChanges."""
    if len(changes) == 1:
        return [changes[0]]
    size = MAX_ROW_CHANGES
    return [RowChanges(changes=tuple(changes[i : i + size])) for i in range(0, len(changes), size)]


def _plain(message: LoadChangeMessage) -> dict[str, object]:
    if isinstance(message, RowChanges):
        return {"kind": message.kind, "schema_version": message.schema_version,
                "changes": [_plain(change) for change in message.changes]}  # fmt: skip
    data = message.model_dump(mode="json")
    if data.get("kind") == "membership" and data.get("half_days_per_week") is None:
        del data["half_days_per_week"]
    return data


def dump_load_change(message: LoadChangeMessage) -> bytes:
    """The message's JSON; a membership change without half-days is written as before that field existed."""
    return json.dumps(_plain(message), separators=(",", ":")).encode()
