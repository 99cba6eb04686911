"""The dispatch worker's HTTP pages (internal; the desk's API serves them to users): open proposals with their rule
trace explained, the waiting lists (who, since when, position), one placement, readiness and metrics. Pages answer
503 until the tables are restored from their changelogs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from faust.types import AppT
from faust.web import Request, Response, View

from core.metrics import CONTENT_TYPE_LATEST, exposition
from schemas.dispatch import RuleVerdict
from schemas.envelope import BRUSSELS
from services.dispatch.catalogue import modules_on
from services.dispatch.rules import explain
from services.dispatch.topology import topology_of


def is_ready(app: AppT) -> bool:
    """Tables restored from their changelogs, partitions assigned, no rebalance under way, no agent crashed."""
    return (
        not topology_of(app).ordering.crashed
        and app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        and not getattr(app, "in_recovery", False)
        and not app.rebalancing
        and bool(app.consumer.assignment())
    )


def day_asked(request: Request) -> date:
    """The `date` query parameter (ISO), default today in Brussels; ValueError when it is not a date."""
    text = request.query.get("date")
    return datetime.now(BRUSSELS).date() if not text else date.fromisoformat(text)


def _bad_date(view: View, request: Request) -> Response:
    return view.json({"detail": f"query parameter date must be a day as YYYY-MM-DD, not {request.query.get('date')!r}"},
                     status=422)  # fmt: skip


def _restoring(view: View) -> Response:
    return view.json({"detail": "the dispatch state is being restored from its changelogs"}, status=503)


def explained(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**v, "explanation": explain(RuleVerdict.model_validate(v))} for v in trace]


def open_proposals(placements: Any) -> list[dict[str, Any]]:
    """Proposals the desk has not decided on yet (auto-confirmed ones are decided), oldest referral first."""
    found = []
    for tid, placement in placements.items():
        proposal = placement.get("proposal")
        if placement["status"] != "proposed" or proposal is None or proposal.get("auto_confirm"):
            continue
        found.append({"trajectory_id": tid, "referral_id": placement["referral_id"],
                      "waiting_since": placement["waiting_since"], "offer_type": placement["offer_type"],
                      "group_id": placement.get("group_id"), "group_module": placement.get("group_module"),
                      **{k: v for k, v in proposal.items() if k != "trace"},
                      "trace": explained(proposal.get("trace", []))})  # fmt: skip
    return sorted(found, key=lambda p: (p["waiting_since"], p["trajectory_id"]))


def waiting_lists(places: Any, placements: Any, today: date) -> list[dict[str, Any]]:
    """Per provider and module: who waits (trajectory, referral), since when, for how many days, in which position."""
    lists = []
    for place, row in sorted(places.items()):
        if not row["waiting"]:
            continue
        provider_id, module_id = place.split("|", 1)
        entries = []
        for position, (since, tid) in enumerate(row["waiting"], start=1):
            referral_id = (placements.get(tid) or {}).get("referral_id")
            days = (today - date.fromisoformat(since)).days
            entries.append({"position": position, "trajectory_id": tid, "referral_id": referral_id,
                            "waiting_since": since, "days_waiting": days})  # fmt: skip
        lists.append({"provider_id": provider_id, "module_id": module_id, "waiting": entries})
    return lists


def catalogue(providers: Any, places: Any, day: date) -> list[dict[str, Any]]:
    """Every provider's modules as the catalogue holds them on `day`, with the places held (dispatched and not ended,
    proposed) and the waiting: what a desk override may choose from."""
    rows = []
    for m in modules_on(providers.values(), day):
        row = places.get(m.place) or {"occupied": [], "proposed": [], "waiting": []}
        rows.append({"provider_id": m.provider_id, "module_id": m.module_id, "kind": m.kind, "offered": m.offered,
                     "levels": list(m.levels), "capacity": m.capacity, "occupied": len(row["occupied"]),
                     "proposed": len(row["proposed"]), "waiting": len(row["waiting"]),
                     "accepting_referrals": m.accepting, "reachable_via_desk": m.reachable})  # fmt: skip
    return rows


async def catalogue_page(view: View, request: Request) -> Response:
    if not is_ready(view.app):
        return _restoring(view)
    tables = topology_of(view.app).tables
    try:
        day = day_asked(request)
    except ValueError:
        return _bad_date(view, request)
    return view.json({"as_of": day.isoformat(), "modules": catalogue(tables["providers"], tables["places"], day)})


async def proposals_page(view: View, request: Request) -> Response:
    """Open proposals, each with its rule trace and every verdict explained."""
    if not is_ready(view.app):
        return _restoring(view)
    topology = topology_of(view.app)
    return view.json({"rule_set": topology.rules.version, "proposals": open_proposals(topology.tables["placements"])})


async def waiting_lists_page(view: View, request: Request) -> Response:
    if not is_ready(view.app):
        return _restoring(view)
    tables = topology_of(view.app).tables
    try:
        today = day_asked(request)
    except ValueError:
        return _bad_date(view, request)
    lists = waiting_lists(tables["places"], tables["placements"], today)
    return view.json({"as_of": today.isoformat(), "lists": lists})


async def placement_page(view: View, request: Request, trajectory_id: str) -> Response:
    """Where one placement stands: awaiting its referral, proposed, waiting, blocked, placed or closed."""
    if not is_ready(view.app):
        return _restoring(view)
    placement = topology_of(view.app).tables["placements"].get(trajectory_id)
    if placement is None:
        return view.json({"detail": f"unknown placement {trajectory_id}"}, status=404)
    proposal = placement.get("proposal")
    if proposal is not None and "trace" in proposal:
        placement = {**placement, "proposal": {**proposal, "trace": explained(proposal["trace"])}}
    return view.json(placement)


async def ready_page(view: View, request: Request) -> Response:
    """Readiness, the messages each agent processed, the dispatch events written and the dead letters sent."""
    ready = is_ready(view.app)
    topology = topology_of(view.app)
    seen = topology.seen
    body = {"ready": ready, "rule_set": topology.rules.version, "processed": dict(seen.processed),
            "published": dict(seen.published),
            "dead_letters": {c: dict(n) for c, n in sorted(seen.dead_letters.items())},
            "rewinds": dict(sorted(topology.ordering.rewound.items())),
            "crashed_agents": list(topology.ordering.crashed)}  # fmt: skip
    return view.json(body, status=200 if ready else 503)


async def metrics_page(view: View, request: Request) -> Response:
    topology = topology_of(view.app)
    return view.bytes(exposition(topology.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
