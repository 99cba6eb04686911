"""Progress of the long commands (`kans demo load|generate`, `kans import`, `kans report`, the benchmarks): a rich
bar with the count, the rate and the time left on standard error, and one summary line at the end (what was done,
how long, how fast). Rich comes with typer; nothing here is drawn when standard error is not a terminal except the
summary line, so logs and CI output stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Units per second, e.g. `1,234 events/s`."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


@dataclass
class Tracker:
    """What a long command reports: `advance(n)` after each step; `done` and `seconds` for its summary."""

    advance: Callable[[int], None]
    done: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def summary_line(what: str, done: int, unit: str, seconds: float) -> str:
    rate = done / seconds if seconds > 0 else 0.0
    return f"{what}: {done:,} {unit} in {seconds:.1f} s ({rate:,.0f} {unit}/s)"


@contextmanager
def progress(what: str, total: int | None, unit: str = "events", console: Console | None = None) -> Iterator[Tracker]:
    """A progress bar for `what` (total None: a count without a bar's end), then the summary line."""
    console = console or Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(unit),
               TimeRemainingColumn(), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(what, total=total)
        tracker = Tracker(advance=lambda n: None)

        def advance(n: int) -> None:
            tracker.done += n
            bar.advance(task, n)

        tracker.advance = advance
        yield tracker
    console.print(summary_line(what, tracker.done, unit, tracker.seconds), highlight=False)
