"""The worker's HTTP pages (internal; the API serves them to users): provider load, waiting times, one
trajectory's state, readiness. Load and waiting times answer 503 until the tables are restored."""

from __future__ import annotations

from datetime import date
from typing import Any

from faust.types import AppT
from faust.web import Request, Response, View

from schemas.envelope import school_year_of
from services.projections import provider_load as rows
from services.projections.topology import topology_of
from services.projections.trajectory_state import TrajectoryState


def is_ready(app: AppT) -> bool:
    """Tables restored from their changelogs, partitions assigned, no rebalance under way."""
    return (
        app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        and not getattr(app, "in_recovery", False)
        and not app.rebalancing
        and bool(app.consumer.assignment())
    )


def _restoring(view: View) -> Response:
    return view.json({"detail": "the projections are being restored from their changelogs"}, status=503)


def _rows(app: AppT) -> list[dict[str, Any]]:
    return [row for _, row in sorted(topology_of(app).provider_load.items()) if row is not None]


async def provider_load_page(view: View, request: Request) -> Response:
    """Active and waiting trajectories against capacity per provider and module, on `date` (default today)."""
    if not is_ready(view.app):
        return _restoring(view)
    day = date.fromisoformat(request.query.get("date") or date.today().isoformat())
    views = [rows.load_view(r, day) for r in _rows(view.app)]
    # A withdrawn module drops out of the view once nobody is running or waiting there any more.
    views = [v for v in views if v["offered"] or v["active"] or v["waiting"]]
    return view.json({"as_of": day.isoformat(), "rows": views})


async def waiting_times_page(view: View, request: Request) -> Response:
    """Dispatch -> start waiting times per provider and module in `school_year` (default the current one)."""
    if not is_ready(view.app):
        return _restoring(view)
    year = request.query.get("school_year") or school_year_of(date.today())
    return view.json({"school_year": year, "rows": [rows.waiting_view(r, year) for r in _rows(view.app)]})


async def trajectory_page(view: View, request: Request, trajectory_id: str) -> Response:
    """Where one trajectory stands, and how many of its events were applied."""
    stored = topology_of(view.app).trajectories.get(trajectory_id.encode())
    if stored is None:
        return view.json({"detail": f"unknown trajectory {trajectory_id}"}, status=404)
    state = TrajectoryState.from_dict(stored)
    shown = {k: v for k, v in stored.items() if k not in ("applied", "wait_reported")}
    return view.json({**shown, "status": state.status, "events_applied": len(state.applied)})


async def ready_page(view: View, request: Request) -> Response:
    ready = is_ready(view.app)
    return view.json({"ready": ready}, status=200 if ready else 503)
