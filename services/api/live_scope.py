"""The live views narrowed to the caller's data scope, in one place: a provider sees its own rows of the load and
waiting times; a trajectory outside the caller's scope answers like an unknown one (404), so ids cannot be probed."""

from __future__ import annotations

from typing import Any

from core.auth import DataScope
from services.api.live_facts import LiveLookups


def visible_rows(view: dict[str, Any], scope: DataScope) -> dict[str, Any]:
    """A live view (`rows` of provider_id ...) with only the rows of the scope's providers."""
    if scope.providers is None and scope.referrers is None:
        return view
    if scope.referrers is not None:  # the views count trajectories of every referrer: none of them is a CLB's own
        return {**view, "rows": []}
    return {**view, "rows": [row for row in view["rows"] if scope.allows_provider(row.get("provider_id"))]}


async def may_see_trajectory(status: dict[str, Any], scope: DataScope, lookups: LiveLookups) -> bool:
    """A provider: trajectories dispatched to it; a CLB: trajectories of its own referrals (as the warehouse, or the
    live process's index of the log, knows them); the desk: all."""
    if scope.unrestricted:
        return True
    if not scope.allows_provider(status.get("provider_id")):
        return False
    if scope.referrers is None:
        return True
    return await lookups.referral_in_scope(str(status["referral_id"]), scope.referrers)
