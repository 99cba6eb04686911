"""The long commands' progress (core/progress.py): a bar with the count, the rate and the time left while a terminal
watches, and one summary line at the end either way; the ingest poster reports each accepted batch."""

from __future__ import annotations

import io
import json
import re

import httpx
from rich.console import Console

from core.progress import progress, summary_line
from kans.synthetic.output import post_to_ingest


def test_a_terminal_sees_the_bar_with_rate_and_time_left_and_the_summary() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=140, record=True)
    with progress("demo: events posted", 10, console=console) as tracker:
        for _ in range(4):
            tracker.advance(2)
            console.file.flush()
    shown = console.export_text()
    assert "demo: events posted: 8 events in " in shown and "events/s)" in shown
    assert tracker.done == 8 and tracker.seconds > 0
    drawn = out.getvalue()
    assert "8/10" in drawn or "6/10" in drawn or "4/10" in drawn, drawn[-500:]  # the bar's count while it ran
    assert "events/s" in drawn


def test_a_log_gets_only_the_summary_line() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=140)
    with progress("import", None, "rows", console=console) as tracker:
        tracker.advance(1_500)
    (line,) = out.getvalue().splitlines()  # no bar drawn: the summary alone
    assert re.fullmatch(r"import: 1,500 rows in \d+\.\d s \([\d,]+ rows/s\)", line), line
    assert summary_line("import", 1_500, "rows", 2.0) == "import: 1,500 rows in 2.0 s (750 rows/s)"


def test_the_ingest_poster_reports_each_accepted_batch() -> None:
    def ingest(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content))
        return httpx.Response(202, json={"accepted": n, "created": n, "duplicates": 0})

    batches: list[int] = []
    totals = post_to_ingest(({"n": i} for i in range(2_500)), "http://ingest", batch=1_000,
                            transport=httpx.MockTransport(ingest), on_batch=batches.append)  # fmt: skip
    assert batches == [1_000, 1_000, 500] and totals["created"] == 2_500
