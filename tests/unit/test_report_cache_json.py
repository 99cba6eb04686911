"""A kept report's JSON body is rendered once, in the cache's entry, and served again from there (the route answers a
`max-stale` ask with it); a report that is not kept is rendered at each ask."""

from __future__ import annotations

from typing import Any, cast

from services.warehouse.statistics.report_cache import Kept, Served


class Report:
    def __init__(self) -> None:
        self.rendered = 0

    def model_dump_json(self) -> str:
        self.rendered += 1
        return '{"school_year":"2025-2026"}'


def test_a_kept_reports_json_is_rendered_once() -> None:
    report = Report()
    kept = Kept((), 0.0, cast(Any, report))
    first, again = Served(cast(Any, report), 1.0, kept), Served(cast(Any, report), 5.0, kept)
    assert first.json() == b'{"school_year":"2025-2026"}'
    assert again.json() is first.json() and report.rendered == 1


def test_a_report_not_kept_is_rendered_at_each_ask() -> None:
    report = Report()
    served = Served(cast(Any, report))
    assert served.json() == served.json() == b'{"school_year":"2025-2026"}' and report.rendered == 2
