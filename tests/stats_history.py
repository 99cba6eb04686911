"""A known event history for the statistics tests, built from submissions (tests/factories style), sealed with
`schemas.registry.seal` and inserted through `services.warehouse.writer.event_row` into a migrated database.

School year 2019-2020 (and a little of 2018-2019): primary RP1-RP6 (RP5 is RP1's pupil referred again, RP6 is
retracted, RP2 is amended), secondary RS1-RS6 (RS3 corona, RS4 intake, RS6 carried over from RQ3, RS5 recorded
late), round tables, trajectories of every outcome, group referrals (G3 asked in May 2019 for 2019-2020). Every
event is recorded one hour after it occurred, unless `recorded` says otherwise, and comes from LARS unless `system`
says otherwise. The expected figures are written by hand in the tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.registry import SUBMISSION_ADAPTER, seal
from services.warehouse import state
from services.warehouse.clickhouse import migrate
from services.warehouse.writer import COLUMNS, event_row
from tests.factories import TEST_PUPIL_SECRET, TEST_VAULT, pupil

NA = None  # a dimension that does not apply / was not registered (null code)


def nonzero(result: Any) -> dict[tuple[Any, ...], float]:
    """{dimension codes: value} of a statistic's non-zero rows."""
    return {tuple(r.model_extra[d] for d in result.dimensions): r.value for r in result.rows if r.value}


def pct(result: Any) -> dict[tuple[Any, ...], float]:
    return {tuple(r.model_extra[d] for d in result.dimensions): r.pct for r in result.rows if r.value}


def at(day: str, time: str = "10:00") -> str:
    """A Brussels moment (summer time from the last Sunday of March to the last of October: close enough here)."""
    month = int(day[5:7])
    offset = "+02:00" if 4 <= month <= 10 else "+01:00"
    return f"{day}T{time}:00{offset}"


class History:
    """Collects sealed events; `recorded` overrides the recording moment of one event."""

    def __init__(self) -> None:
        self.events: list[bytes] = []

    def add(
        self, kind: str, ref: str, day: str, payload: dict[str, Any], recorded: str | None = None, version: int = 1,
        system: str = "lars",
    ) -> None:
        sub = {
            "event_type": kind,
            "schema_version": version,
            "occurred_at": at(day),
            "source_system": system,
            "source_ref": ref,
            "actor": "desk:test",
            "payload": payload,
        }
        when = (
            datetime.fromisoformat(at(recorded)) if recorded else datetime.fromisoformat(at(day)) + timedelta(hours=1)
        )
        self.events.append(
            seal(SUBMISSION_ADAPTER.validate_python(sub), when, TEST_PUPIL_SECRET, TEST_VAULT)
            .model_dump_json()
            .encode()
        )

    def referral(self, rid: str, day: str, pupil_id: str, level: str, **profile: Any) -> None:
        recorded = profile.pop("recorded", None)
        system = profile.pop("system", "lars")
        payload = {
            "referral_id": rid,
            "pupil_id": pupil(pupil_id),
            "channel": "lars",
            "referrer_id": "clb-1",
            "offer_type": "regular",
            "level": level,
            "birth_month": 1,
            **profile,
        }
        self.add("ReferralSubmitted", f"ref:{rid}", day, payload, recorded, version=2, system=system)

    def trajectory(self, rid: str, tid: str, day: str, provider: str, module: str, offer: str = "regular") -> None:
        self.add(
            "TrajectoryDispatched",
            f"d:{tid}",
            day,
            {
                "referral_id": rid,
                "trajectory_id": tid,
                "provider_id": provider,
                "module_id": module,
                "offer_type": offer,
            },
        )

    def then(self, kind: str, rid: str, tid: str, day: str, **fields: Any) -> None:
        self.add(kind, f"{kind}:{tid}", day, {"referral_id": rid, "trajectory_id": tid, **fields})

    def round_table(self, rid: str, rt: str, kind: str, day: str, **fields: Any) -> None:
        self.add(kind, f"{kind}:{rt}", day, {"referral_id": rid, "round_table_id": rt, **fields})

    def groups(self, grid: str, day: str, *groups: dict[str, Any], **extra: Any) -> None:
        system = extra.pop("system", "lars")
        self.add(
            "GroupReferralSubmitted",
            f"g:{grid}",
            day,
            {"group_referral_id": grid, "channel": "lars", "referrer_id": "clb-1", "groups": list(groups), **extra},
            system=system,
        )

    def group_event(self, kind: str, grid: str, gid: str, day: str, **fields: Any) -> None:
        self.add(
            kind,
            f"{kind}:{gid}",
            day,
            {"group_referral_id": grid, "group_id": gid, "group_trajectory_id": f"GT-{gid}", **fields},
        )


def history() -> list[bytes]:
    """Every event of the known history, in the order they are inserted."""
    from tests.stats_history_events import group_history, primary, providers, secondary

    h = History()
    for part in (providers, primary, secondary, group_history):
        part(h)
    return h.events


def load(client: Any, database: str, events: list[bytes], times: int = 1) -> None:
    """Migrate `database` and insert the events through the writer's row mapping, `times` times (duplicates)."""
    migrate(client, database)
    rows = [event_row(value, 0, offset) for offset, value in enumerate(events)]
    for _ in range(times):
        state.store(client, database, rows, COLUMNS)
