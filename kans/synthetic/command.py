"""`kans demo generate`: resolve the run's parameters, generate, send the events to one sink, and report the
generator's per-year totals. The CLI only parses options and calls `run_generate`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.progress import progress
from core.settings import Settings
from kans.synthetic.generator import generate, generate_chunks
from kans.synthetic.output import DEMO_API_KEY, post_to_ingest, produce_to_inbound, write_jsonl
from kans.synthetic.params import GeneratorParams, year_range
from kans.synthetic.spreadsheets import FORMATS, write_export
from kans.synthetic.summary import Summary
from schemas.envelope import school_year_of

SINKS = ("ingest", "inbound")
FILE_FORMATS = ("jsonl", *FORMATS)


class UsageError(ValueError):
    """Options that do not make a run (shown to the user as is)."""


def parse_today(text: str | None) -> date | None:
    """`2026-11-28`, `today` (the default) or `none` (no cut: the whole range, future events included)."""
    if text is None or text == "today":
        return date.today()
    if text == "none":
        return None
    return date.fromisoformat(text)


def resolve_params(years: str | None, scale: float | None, seed: int | None, origin: str | None,
                   params_file: Path | None) -> GeneratorParams:  # fmt: skip
    """The run: a YAML file (GeneratorParams) if given, with the options given on the command line on top."""
    base: dict[str, Any] = GeneratorParams.from_yaml(params_file).model_dump() if params_file else {}
    if years is not None:
        base["years"] = year_range(years)
    base.setdefault("years", (school_year_of(date.today()),))
    given = {"scale": scale, "seed": seed, "origin": origin}
    base.update({name: value for name, value in given.items() if value is not None})
    return GeneratorParams.model_validate(base)


@dataclass(frozen=True)
class Destination:
    """Where the events go: a file (with its format) or a sink (ingest / inbound)."""

    out: Path | None = None
    file_format: str = "jsonl"
    to: str | None = None

    def check(self) -> None:
        if (self.out is None) == (self.to is None):
            raise UsageError("give either --out FILE or --to ingest|inbound")
        if self.to is not None and self.to not in SINKS:
            raise UsageError(f"--to must be one of {', '.join(SINKS)}")
        if self.file_format not in FILE_FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FILE_FORMATS)}")


Delivered = dict[str, Any]


def run_generate(params: GeneratorParams, today: date | None, destination: Destination, settings: Settings,
                 api_key: str = DEMO_API_KEY, ingest_url: str | None = None) -> tuple[Summary, Delivered]:  # fmt: skip
    """Generate and deliver; returns the generator's totals and what the sink reported."""
    destination.check()
    summary = Summary()
    if destination.out is not None and destination.file_format != "jsonl":
        rows = write_export(_watched(summary, generate_chunks(params, today)), destination.out,
                            destination.file_format)  # fmt: skip
        return summary, {"file": str(destination.out), "format": destination.file_format, "rows": rows}
    submissions = summary.watch(generate(params, today))
    if destination.out is not None:
        return summary, {
            "file": str(destination.out),
            "format": "jsonl",
            "events": write_jsonl(submissions, destination.out),
        }
    if destination.to == "ingest":
        with progress("generated events posted to the ingest", None) as posted:
            return summary, post_to_ingest(submissions, ingest_url or settings.ingest_base_url, api_key,
                                           on_batch=posted.advance)  # fmt: skip
    return summary, {"produced": produce_to_inbound(submissions, settings, api_key)}


def _watched(summary: Summary, chunks: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    for chunk in chunks:
        for submission in chunk:
            summary.observe(submission)
        yield chunk
