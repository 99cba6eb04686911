"""Wiring of the projections worker: topics, changelog-backed tables, agents and the HTTP views.

Two steps, because the event log is keyed by referral while load is counted per provider:
1. `track_trajectories` folds each trajectory's events (table `trajectories`, keyed by trajectory id) and
   forwards what changed for a provider/module to the internal topic `load-changes`, keyed by provider|module;
2. `aggregate_provider_load` applies those changes to table `provider_load` (one row per provider|module).
Both tables live in memory and are rebuilt from their Kafka changelogs when the worker restarts.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import faust
from mode import CrashingSupervisor
from pydantic import ValidationError

from core.faust_apps import new_faust_app
from core.settings import Settings
from core.topics import events_topic
from schemas.envelope import school_year_of
from schemas.registry import parse_event
from services.projections import provider_load as rows
from services.projections.trajectory_state import LoadChange, TrajectoryState, WaitMeasured, apply_event

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    app = new_faust_app(settings, settings.projections_app_id, "faust", settings.projections_host,
                        settings.projections_port, table_standby_replicas=0)  # fmt: skip
    events = app.topic(events_topic(settings), key_serializer="raw", value_serializer="raw")
    load_changes = app.topic(
        f"{settings.topic_prefix}{settings.projections_app_id}-load-changes",
        partitions=settings.event_partitions,
        internal=True,
        key_serializer="raw",
        value_serializer="json",
    )
    # Keys are raw bytes, values JSON: the changelog serializers follow from key_type/value_type.
    trajectories = app.Table("trajectories", default=None, key_type=bytes)
    provider_load = app.Table("provider-load", default=None, key_type=bytes)

    # A bug in an agent stops the worker (and the supervisor restarts it from the committed offsets) rather
    # than silently skipping the event that triggered it, which is what faust's default restart would do.
    @app.agent(events, supervisor_strategy=CrashingSupervisor)
    async def track_trajectories(stream: Any) -> None:
        async for value in stream:
            try:
                event = parse_event(value)
            except ValidationError as err:
                log.error("skipping an event that does not match the contract: %s", err.errors()[:3])
                continue
            p: Any = event.payload
            if event.event_type == "ProviderCapacitySet":
                await load_changes.send(
                    key=f"{p.provider_id}|{p.module_id}".encode(),
                    value={"kind": "capacity", "valid_from": p.valid_from.isoformat(), "capacity": p.capacity},
                )
                continue
            if event.event_type in ("ModuleOffered", "ModuleWithdrawn"):
                await load_changes.send(
                    key=f"{p.provider_id}|{p.module_id}".encode(),
                    value={"kind": "offered", "valid_from": p.valid_from.isoformat(),
                           "offered": event.event_type == "ModuleOffered"},
                )  # fmt: skip
                continue
            tid = getattr(event.payload, "trajectory_id", None)
            if tid is None:
                continue
            stored = trajectories.get(tid.encode())
            previous = None if stored is None else TrajectoryState.from_dict(stored)
            state, effects = apply_event(previous, event)
            if state is None or state == previous:
                continue  # a duplicate or replayed event: nothing changes
            trajectories[tid.encode()] = state.to_dict()
            for effect in effects:
                message: dict[str, Any]
                if isinstance(effect, LoadChange):
                    message = {"kind": "membership", "trajectory_id": effect.trajectory_id,
                               "membership": effect.membership}  # fmt: skip
                else:
                    assert isinstance(effect, WaitMeasured)
                    message = {"kind": "wait", "trajectory_id": effect.trajectory_id,
                               "school_year": effect.school_year, "days": effect.days}  # fmt: skip
                await load_changes.send(key=effect.load_key.encode(), value=message)

    @app.agent(load_changes, supervisor_strategy=CrashingSupervisor)
    async def aggregate_provider_load(stream: Any) -> None:
        async for key, change in stream.items():
            row = provider_load.get(key) or rows.empty_row(key.decode())
            if change["kind"] == "membership":
                row = rows.set_membership(row, change["trajectory_id"], change["membership"])
            elif change["kind"] == "capacity":
                row = rows.set_capacity(row, change["valid_from"], change["capacity"])
            elif change["kind"] == "offered":
                row = rows.set_offered(row, change["valid_from"], change["offered"])
            elif change["kind"] == "wait":
                row = rows.record_wait(row, change["school_year"], change["trajectory_id"], change["days"])
            provider_load[key] = row

    def all_rows() -> list[dict[str, Any]]:
        return [row for _, row in sorted(provider_load.items()) if row is not None]

    def ready() -> bool:
        """Tables restored from their changelogs, partitions assigned, no rebalance under way."""
        return (
            app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
            and not getattr(app, "in_recovery", False)
            and not app.rebalancing
            and bool(app.consumer.assignment())
        )

    def not_ready(view: Any) -> Any:
        return view.json({"detail": "the projections are being restored from their changelogs"}, status=503)

    @app.page("/provider-load")
    async def provider_load_view(self: Any, request: Any) -> Any:
        if not ready():
            return not_ready(self)
        day = date.fromisoformat(request.query.get("date") or date.today().isoformat())
        views = [rows.load_view(r, day) for r in all_rows()]
        # A withdrawn module drops out of the view once nobody is running or waiting there any more.
        views = [v for v in views if v["offered"] or v["active"] or v["waiting"]]
        return self.json({"as_of": day.isoformat(), "rows": views})

    @app.page("/waiting-times")
    async def waiting_times_view(self: Any, request: Any) -> Any:
        if not ready():
            return not_ready(self)
        year = request.query.get("school_year") or school_year_of(date.today())
        return self.json({"school_year": year, "rows": [rows.waiting_view(r, year) for r in all_rows()]})

    @app.page("/trajectories/{trajectory_id}")
    async def trajectory_view(self: Any, request: Any, trajectory_id: str) -> Any:
        stored = trajectories.get(trajectory_id.encode())
        if stored is None:
            return self.json({"detail": f"unknown trajectory {trajectory_id}"}, status=404)
        state = TrajectoryState.from_dict(stored)
        view = {k: v for k, v in stored.items() if k not in ("applied", "wait_reported")}
        return self.json({**view, "status": state.status, "events_applied": len(state.applied)})

    @app.page("/ready")
    async def ready_view(self: Any, request: Any) -> Any:
        return self.json({"ready": ready()}, status=200 if ready() else 503)

    return app
