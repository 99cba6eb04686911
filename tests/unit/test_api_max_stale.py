"""What a `Cache-Control` request header accepts as staleness for the year's report (RFC 9111 max-stale)."""

from __future__ import annotations

import pytest

from services.api.routes.statistics import MAX_STALE_CAP_S, max_stale_s


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 0.0), ("", 0.0), ("no-cache", 0.0),
    ("max-stale=10", 10.0), ("no-cache, max-stale=30", 30.0), ("max-stale=5, no-store", 5.0),
    ('max-stale="20"', 20.0), ("MAX-STALE=7", 7.0), ("max-stale = 8", 8.0),
    ("max-stale", MAX_STALE_CAP_S), ("max-stale=99999", MAX_STALE_CAP_S),  # any age, or more than the cap: the cap
    ("max-stale=abc", 0.0), ("max-stale=-1", 0.0), ("max-stale=1.5", 0.0),  # not a number of seconds: ignored
    ("x-max-stale=5", 0.0), ("max-staleness=5", 0.0), ("max-stale=" + "9" * 5000, 0.0),
])  # fmt: skip
def test_max_stale_is_read_as_rfc_9111_says_and_anything_else_accepts_none(header: str | None,
                                                                           seconds: float) -> None:  # fmt: skip
    assert max_stale_s(header) == seconds
