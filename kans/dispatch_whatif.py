"""`kans dispatch what-if`: a rule set (YAML) evaluated against the whole event log read from Kafka, nothing written;
the report (services/dispatch/whatif.py) as tables, or as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.settings import Settings
from services.dispatch.history import read_history
from services.dispatch.ruleset import RuleSet
from services.dispatch.whatif import WhatIf, what_if


def run_what_if(settings: Settings, rules: RuleSet, school_year: str | None, as_json: bool, limit: int,
                echo: Callable[[str], None]) -> WhatIf:  # fmt: skip
    """Read the log, replay it under `rules`, print the report."""
    history = read_history(settings)
    report = what_if(history.events, rules, school_year, limit)
    if as_json:
        log = {"records": history.records, "bad_records": history.bad_records, "partitions": history.partitions}
        echo(json.dumps({**report.to_json(), "log": log}, indent=2, default=str))
    else:
        echo(f"event log: {history.records:,} records in {history.partitions} partitions, "
             f"{history.bad_records:,} not events (skipped)")  # fmt: skip
        echo(render(report))
    return report


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _delta(before: int | None, after: int) -> str:
    return "" if before is None or before == after else f"{after - before:+,}"


def render(report: WhatIf) -> str:
    """The report as text: what was read, totals, a table per provider/module, the changed trajectories."""
    logged = ", ".join(f"{v} ({n:,} decisions)" for v, n in report.logged_rule_sets.items()) or "none"
    lines = [
        f"school year: {report.school_year or 'all'}; events read {report.events_read:,}, fed to the engine "
        f"{report.events_fed:,}, the service's own past outputs skipped {report.own_outputs_skipped:,}",
        f"rule sets: logged {logged}; evaluated {report.evaluated_rule_set}",
    ]
    if report.note:
        lines.append(f"no baseline: {report.note}")
    lines.append("")
    lines.append(f"{'':<16}{'logged':>10}{'evaluated':>11}{'change':>9}")
    for name, pair in report.totals.items():
        before, after = pair["logged"], pair["evaluated"]
        assert after is not None
        lines.append(f"{name:<16}{_cell(before):>10}{after:>11,}{_delta(before, after):>9}")
    if report.same_proposal_ids is not None:
        lines.append(f"proposals identical to the log's (same id and place): {report.same_proposal_ids:,}")
    lines += ["", _table(report.places)]
    if report.trajectories_changed is not None:
        lines += ["", f"trajectories whose first proposal changed: {report.trajectories_changed:,} of "
                      f"{report.trajectories_compared:,}" + (f" (first {len(report.changed)})"
                                                            if len(report.changed) < report.trajectories_changed
                                                            else "")]  # fmt: skip
        for row in report.changed:
            was = row["logged"] or f"({row['logged_first_decision'] or 'none'})"
            now = row["evaluated"] or f"({row['evaluated_first_decision'] or 'none'})"
            lines.append(f"  {row['trajectory_id']}  referral {row['referral_id']}: {was} -> {now}")
    if report.refused:
        lines += ["", f"events whose outputs the contract refused (left out, their writes dropped): "
                      f"{len(report.refused)}"]  # fmt: skip
        lines += [f"  {r['event_type']} {r['event_id']}: {r['error']}" for r in report.refused[:20]]
    return "\n".join(lines)


def _table(places: list[dict[str, Any]]) -> str:
    head = f"{'provider':<24}{'module':<26}{'proposals':>20}{'waiting joins':>20}"
    sub = f"{'':<50}{'logged':>9}{'evaluated':>11}{'logged':>9}{'evaluated':>11}"
    rows = [f"{p['provider_id']:<24}{p['module_id']:<26}{_cell(p['proposals_logged']):>9}"
            f"{p['proposals_evaluated']:>11,}{_cell(p['waiting_joins_logged']):>9}{p['waiting_joins_evaluated']:>11,}"
            for p in places]  # fmt: skip
    return "\n".join([head, sub, *(rows or ["(no proposal and no waiting list in this year)"])])
