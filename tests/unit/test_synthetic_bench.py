"""`kans bench-generate` measures a prefix of the exact run it is asked for and extrapolates, clearly marked."""

from __future__ import annotations

from pathlib import Path

from kans.synthetic.bench import run_bench_generate


def test_a_complete_run_is_measured_as_is(tmp_path: Path) -> None:
    result = run_bench_generate(scale=2, years=2, budget_s=600, results=tmp_path)
    measured = result["measured"]
    assert measured["complete"] and measured["region_years"] == "4 of 4"
    assert (result["whole_run"]["events"], result["whole_run"]["extrapolated"]) == (measured["events"], False)
    assert measured["events_per_s"] > 0 and measured["peak_rss_mb"] > 0
    assert list(measured["rss_mb_after_each_year"]) == ["2017-2018", "2018-2019"]
    assert Path(result["saved_to"]).parent == tmp_path


def test_a_run_over_budget_is_extrapolated_from_its_prefix(tmp_path: Path) -> None:
    result = run_bench_generate(scale=40, years=3, budget_s=0.0, results=tmp_path, serialise=False)
    measured, whole = result["measured"], result["whole_run"]
    assert not measured["complete"] and measured["region_years"] == "1 of 120"
    assert whole["extrapolated"] and whole["events"] > 100 * measured["events"]
