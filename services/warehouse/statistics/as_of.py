"""What was known on a day: the rows of the fact logs whose event was recorded before `{as_of_ms}` (epoch ms).

An event can be in the log more than once with different `recorded_at`: an attempt the ingest answered 503 can
still land when the broker comes back, and the source's retry (same event id) lands again, later, and is the copy
that was acknowledged. An event is known from its *last* copy's `recorded_at` on: a row counts as-of a day only
if no copy of its event was recorded on or after it. Copies of one event land in the same fact log, so the check
looks in that log, among the rows of the same scope (few rows are recorded after a past day; none after "now").
"""

from __future__ import annotations

CUT = "fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC')"


def known(db: str, table: str, where: str = "1") -> str:
    """`where` on `table`, limited to the rows of events whose every copy was recorded before the cut."""
    return (f"{where} AND recorded_at < {CUT} AND event_id NOT IN "
            f"(SELECT event_id FROM {db}.{table} WHERE {where} AND recorded_at >= {CUT})")  # fmt: skip
