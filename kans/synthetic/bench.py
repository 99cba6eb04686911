"""`kans bench-generate`: how fast the generator makes events, and how much memory it needs, at a large scale.

It runs the requested generation (e.g. x1,000 for ten school years) for real, in the order it always runs (year
by year, every region), and stops at a time budget: the part done is then a measured prefix of that exact run,
and the totals for the whole run are extrapolated from it (clearly marked). Memory is the process's peak resident
set (ru_maxrss) plus its current size sampled per school year, to show it stays flat; CPU time is reported too, as
other work on the machine slows the wall clock. The rate is compared with
the platform's own ingest throughput from the latest `kans bench` result, if there is one.
"""

from __future__ import annotations

import json
import platform as host
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kans.paths import REPO_ROOT
from kans.synthetic.generator import generate_chunks, regions_of
from kans.synthetic.output import to_json
from kans.synthetic.params import GeneratorParams, year_range

README_INGEST = {"http_batch_events_per_s": 3039, "raw_producer_events_per_s": 10560}  # README, 2026-11-28


def _rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _calibrated_total(params: GeneratorParams, events: int, chunks: int, regions: int) -> int:
    """The whole run's events from a measured prefix (whole years, then part of one), weighting each year as a
    small run of the same years does: later years are bigger (growth, carry-overs), so a plain rule of three
    over region-years would underestimate."""
    small = params.model_copy(update={"scale": min(params.scale, 5.0)})
    per_year = [0] * len(params.years)
    for index, chunk in enumerate(generate_chunks(small, today=None)):
        per_year[index // regions_of(small.scale)[0]] += len(chunk)
    done_years, part = divmod(chunks, regions)
    measured_share = sum(per_year[:done_years]) + (per_year[done_years] * part / regions if part else 0)
    return round(events * sum(per_year) / measured_share)


def _ingest_reference() -> dict[str, Any]:
    results = sorted((REPO_ROOT / "bench-results").glob("backbone-*.json"))
    if not results:
        return {"source": "README", **README_INGEST}
    data = json.loads(results[-1].read_text())["throughput"]
    return {"source": results[-1].name, **{k: data[k] for k in README_INGEST}}


RESULTS = REPO_ROOT / "bench-results"


def run_bench_generate(scale: float, years: int, first_year: str = "2017-2018", budget_s: float = 600.0,
                       serialise: bool = True, results: Path = RESULTS) -> dict[str, Any]:  # fmt: skip
    """Generate (and serialise to JSON, as the sinks do) until done or `budget_s` is spent; report and save."""
    start = int(first_year[:4])
    params = GeneratorParams(years=year_range(f"{first_year}..{start + years - 1}-{start + years}"), scale=scale)
    regions, _ = regions_of(scale)
    total_chunks = regions * years
    events = chunks = serialised_bytes = 0
    rss_per_year: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for chunk in generate_chunks(params, today=None):
        events += len(chunk)
        if serialise:
            serialised_bytes += sum(len(to_json(s)) + 1 for s in chunk)
        chunks += 1
        if chunks % regions == 0:
            rss_per_year[params.years[chunks // regions - 1]] = round(_rss_mb(), 1)
        if time.perf_counter() - started > budget_s:
            break
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    complete = chunks == total_chunks
    rate = events / elapsed
    estimated_events = events if complete else _calibrated_total(params, events, chunks, regions)
    result = {
        "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "command": f"kans bench-generate --scale {scale:g} --years {years} --first-year {first_year} "
        f"--budget-s {budget_s:g}" + ("" if serialise else " --no-serialise"),
        "run": {
            "scale": scale,
            "regions": regions,
            "school_years": list(params.years),
            "serialised_to_json": serialise,
        },
        "measured": {
            "complete": complete,
            "region_years": f"{chunks} of {total_chunks}",
            "events": events,
            "seconds": round(elapsed, 1),
            "events_per_s": round(rate),
            "cpu_seconds": round(cpu, 1),
            "events_per_cpu_s": round(events / cpu) if cpu else None,
            "json_mb": round(serialised_bytes / 2**20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_mb_after_each_year": rss_per_year,
        },
        "whole_run": {
            "events": estimated_events,
            "seconds": round(estimated_events / rate),
            "extrapolated": not complete,
        },
        "ingest_reference_events_per_s": _ingest_reference(),
    }
    out = results / f"generate-{result['when']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    result["saved_to"] = str(out)
    return result
