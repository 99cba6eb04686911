"""The what-if replay (services/dispatch/whatif.py), the event log's order (services/dispatch/history.py), the
`kans dispatch what-if` command and the `kans bench-dispatch` replay, on small hand-made histories: the same rules
give the same proposals (ids included), other rules change the named trajectories, the log's own dispatch events are
never fed back, and nothing is written anywhere."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kans.bench_dispatch import replay_synthetic, run_bench_dispatch
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams
from schemas.envelope import Envelope
from services.dispatch.engine import Engine
from services.dispatch.history import History, in_log_order
from services.dispatch.ruleset import DEFAULT_RULES, RuleSet, load_rule_set, parse_rule_set
from services.dispatch.store import new_tables
from services.dispatch.whatif import Replay, fed_to_the_engine, what_if
from tests.dispatch_catalogue import decision, module, referral, round_table, sealed, submission

# Two NAFT providers with two places each: the v1 rules (balance, then provider id) propose abrusco first.
NAFT = [*module("abrusco", "individual", "individual", ["secondary"], 2),
        *module("groep-intro", "individual", "individual", ["secondary"], 2)]  # fmt: skip
V1 = load_rule_set()
# The same rules, but secondary trajectories go to Groep INTRO first: a new version, as a changed rule set must be.
V2 = parse_rule_set(DEFAULT_RULES.read_text(encoding="utf-8").replace("version: dispatch-rules-v1", "version: v2-test")
                    .replace("modules: {kinds: [individual]}\n    order: [balance]",
                             "modules: {kinds: [individual]}\n    order: [priority, balance]\n"
                             "    priority: [groep-intro, abrusco]"))  # fmt: skip


class Platform:
    """The log the platform would hold: each event, then the dispatch events the worker made of it under `rules` (the
    engine on plain tables, as tests/unit/test_dispatch_engine.py drives it)."""

    def __init__(self, rules: RuleSet = V1) -> None:
        self.engine = Engine(new_tables(), rules, lambda: datetime(2020, 6, 30, tzinfo=UTC))
        self.log: list[Envelope] = []

    def feed(self, *submissions: dict[str, Any]) -> list[Envelope]:
        made: list[Envelope] = []
        for event in sealed(list(submissions)):
            outputs = [o.event for o in self.engine.apply(event)]
            self.log += [event, *outputs]
            made += outputs
        return made


def history() -> list[Envelope]:
    """Three secondary pupils referred in October 2019 (round tables on the 8th), the desk confirming R-1's proposal,
    a fourth pupil in 2020-2021."""
    platform = Platform()
    made = platform.feed(*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
                         referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"),
                         referral("R-3", "2019-10-03"), round_table("R-3", "2019-10-08"))  # fmt: skip
    p: Any = made[0].payload
    platform.feed(decision("R-1", p.trajectory_id, "abrusco", "individual", "2019-10-10", p.proposal_id),
                  referral("R-4", "2020-09-14"), round_table("R-4", "2020-09-21"))  # fmt: skip
    return platform.log


def own(log: list[Envelope]) -> list[Envelope]:
    return [e for e in log if e.source_system == "dispatch"]


def proposals(events: list[Envelope]) -> list[tuple[str, str, str]]:
    found = [e.payload for e in events if e.event_type == "DispatchProposed"]
    return [(p.referral_id, p.proposal_id, p.provider_id) for p in found]  # type: ignore[attr-defined]


def test_the_history_is_what_the_tests_below_assume() -> None:
    log = history()
    assert [(rid, provider) for rid, _, provider in proposals(own(log))] == [
        ("R-1", "abrusco"), ("R-2", "abrusco"), ("R-3", "groep-intro"), ("R-4", "groep-intro")]  # fmt: skip
    assert [e.event_type for e in own(log)] == ["DispatchProposed"] * 4


def test_the_same_rules_give_the_same_proposals_ids_included_and_no_change() -> None:
    log = history()
    replay = Replay(V1)
    outputs = [out for event in log for out in replay.feed(event)]
    assert proposals(outputs) == proposals(own(log))
    assert [e.event_id for e in outputs] == [e.event_id for e in own(log)]
    report = what_if(log, V1, "2019-2020")
    assert report.baseline == "the log" and report.note is None
    assert report.totals == {"proposals": {"logged": 3, "evaluated": 3}, "waiting_joins": {"logged": 0, "evaluated": 0},
                             "blocked": {"logged": 0, "evaluated": 0}}  # fmt: skip
    assert report.same_proposal_ids == 3
    assert (report.trajectories_compared, report.trajectories_changed, report.changed) == (3, 0, [])
    assert [(p["provider_id"], p["proposals_logged"], p["proposals_evaluated"]) for p in report.places] == [
        ("abrusco", 2, 2), ("groep-intro", 1, 1)]  # fmt: skip
    assert (report.evaluated_rule_set, report.logged_rule_sets) == ("dispatch-rules-v1", {"dispatch-rules-v1": 3})
    assert (report.events_read, report.own_outputs_skipped, report.refused) == (len(log), 4, [])


def test_other_rules_change_the_named_trajectories_and_the_report_shows_it() -> None:
    log = history()
    tids = {e.payload.referral_id: e.payload.trajectory_id for e in own(log)}  # type: ignore[attr-defined]
    report = what_if(log, V2, "2019-2020")
    # Groep INTRO first: R-1 and R-2 go there (two places); R-3 gets abrusco's first place. R-1's proposal at
    # Groep INTRO is still answered by the desk's decision for abrusco, which changes nothing before it.
    assert report.totals["proposals"] == {"logged": 3, "evaluated": 3}
    assert report.same_proposal_ids == 0  # proposal ids name their rule set
    assert [(p["provider_id"], p["proposals_logged"], p["proposals_evaluated"]) for p in report.places] == [
        ("abrusco", 2, 1), ("groep-intro", 1, 2)]  # fmt: skip
    assert (report.trajectories_compared, report.trajectories_changed) == (3, 3)
    assert [(c["referral_id"], c["trajectory_id"], c["logged"], c["evaluated"]) for c in report.changed] == [
        ("R-1", tids["R-1"], "abrusco/individual", "groep-intro/individual"),
        ("R-2", tids["R-2"], "abrusco/individual", "groep-intro/individual"),
        ("R-3", tids["R-3"], "groep-intro/individual", "abrusco/individual")]  # fmt: skip
    assert (report.evaluated_rule_set, report.logged_rule_sets) == ("v2-test", {"dispatch-rules-v1": 3})
    limited = what_if(log, V2, "2019-2020", limit=1)
    assert (limited.trajectories_changed, [c["referral_id"] for c in limited.changed]) == (3, ["R-1"])
    # The next school year: R-4 goes to Groep INTRO under both rule sets.
    next_year = what_if(log, V2, "2020-2021")
    assert (next_year.trajectories_compared, next_year.trajectories_changed) == (1, 0)


def test_the_logs_own_dispatch_events_are_never_fed_back() -> None:
    # A dispatch event the engine would act on if it were fed: an auto-confirmed dispatch (source system dispatch)
    # taking one of abrusco's two places before anyone is referred.
    taken = submission("TrajectoryDispatched", {"referral_id": "R-0", "trajectory_id": "T-taken", "provider_id":
                       "abrusco", "module_id": "individual", "offer_type": "regular", "proposal_id": "P-old",
                       "overridden": False, "override_reason": None}, "2019-09-20T10:00:00+02:00", "dispatched:old",
                       "dispatch", schema_version=2)  # fmt: skip
    inputs = [*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
              referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08")]  # fmt: skip
    log = sealed([*NAFT, taken, *inputs[len(NAFT):]])
    replay = Replay(V1)
    outputs = [out for event in log for out in replay.feed(event)]
    assert [(rid, provider) for rid, _, provider in proposals(outputs)] == [("R-1", "abrusco"), ("R-2", "abrusco")]
    assert (replay.read, replay.fed, replay.own_outputs_skipped) == (len(log), len(log) - 1, 1)
    assert "T-taken" not in replay.tables["trajectories"]
    # Fed (as if the desk had sent it), it would have counted in abrusco's balance: both pupils to Groep INTRO.
    as_desk = sealed([*NAFT, {**taken, "source_system": "desk"}, *inputs[len(NAFT):]])
    fed = Replay(V1)
    assert [(rid, provider) for rid, _, provider in proposals([o for e in as_desk for o in fed.feed(e)])] == [
        ("R-1", "groep-intro"), ("R-2", "groep-intro")]  # fmt: skip
    assert (fed.fed, fed.own_outputs_skipped, fed.tables["trajectories"]["T-taken"]["place"]) == (
        len(log), 0, "abrusco|individual")  # fmt: skip
    assert fed_to_the_engine("TrajectoryDispatched", "desk")
    assert not fed_to_the_engine("TrajectoryDispatched", "dispatch")
    assert not fed_to_the_engine("TrajectoryStarted", "desk")


def test_the_what_if_writes_nothing_and_leaves_its_input_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiokafka
    import kafka

    import services.dispatch.agents as agents
    import services.dispatch.whatif as whatif

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the what-if tried to write")

    monkeypatch.setattr(kafka.KafkaProducer, "__init__", refuse)
    monkeypatch.setattr(aiokafka.AIOKafkaProducer, "__init__", refuse)
    monkeypatch.setattr(agents, "publish", refuse)
    log = tuple(history())
    before = [e.model_dump_json() for e in log]
    first = what_if(log, V2, "2019-2020")
    assert [e.model_dump_json() for e in log] == before
    assert what_if(log, V2, "2019-2020") == first  # no state kept between runs
    assert json.loads(json.dumps(first.to_json()))["totals"]["proposals"] == {"logged": 3, "evaluated": 3}
    tree = ast.parse(Path(whatif.__file__).read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported and not {name.split(".")[0] for name in imported} & {"kafka", "aiokafka", "faust"}
    assert not {"publish", "send", "produce"} & {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def test_without_dispatch_events_in_the_log_there_is_no_baseline() -> None:
    log = [e for e in history() if e.source_system != "dispatch"]
    report = what_if(log, V1, "2019-2020")
    assert (report.baseline, report.note) == (None, "the log holds no dispatch decisions: nothing to compare with")
    assert report.totals["proposals"] == {"logged": None, "evaluated": 3}
    assert (report.same_proposal_ids, report.trajectories_compared, report.trajectories_changed) == (None, None, None)
    assert [(p["provider_id"], p["proposals_logged"], p["proposals_evaluated"]) for p in report.places] == [
        ("abrusco", None, 2), ("groep-intro", None, 1)]  # fmt: skip
    earlier = what_if(history(), V1, "2018-2019")
    assert earlier.note == "the log holds no dispatch decisions decided in 2018-2019: nothing to compare with"


def test_partitions_are_merged_by_recorded_at_and_records_that_are_not_events_are_counted() -> None:
    def raw(sub: dict[str, Any], minute: int) -> bytes:
        recorded = datetime(2019, 10, 2, 8, 0, tzinfo=UTC) + timedelta(minutes=minute)
        return sealed([sub], recorded)[0].model_dump_json().encode()

    a, b, c = referral("R-1", "2019-09-30"), referral("R-2", "2019-09-30"), round_table("R-1", "2019-10-01")
    # Partition 0 holds R-1 (its round table recorded "earlier" by a skewed clock stays after the referral).
    merged = in_log_order({1: [(0, raw(b, 5)), (1, b"not json"), (2, None)], 0: [(0, raw(a, 5)), (1, raw(c, 1))]})
    assert [e.source_ref for e in merged.events] == ["ref:R-1", "rt:R-1", "ref:R-2"]
    assert (merged.records, merged.bad_records, merged.partitions) == (5, 2, 2)


def test_the_command_prints_the_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import kans.dispatch_whatif as command
    from kans.cli import app

    log = history()
    monkeypatch.setattr(command, "read_history", lambda _settings: History(log, len(log) + 1, 1, 3))
    rules = tmp_path / "v2.yaml"
    rules.write_text(V2.model_dump_json(), encoding="utf-8")  # JSON is YAML
    as_json = CliRunner().invoke(app, ["dispatch", "what-if", "--rules", str(rules), "--year", "2019-2020", "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert (body["trajectories_changed"], body["log"]) == (3, {"records": len(log) + 1, "bad_records": 1,
                                                               "partitions": 3})  # fmt: skip
    text = CliRunner().invoke(app, ["dispatch", "what-if", "--rules", str(rules), "--year", "2019-2020"])
    assert text.exit_code == 0, text.output
    rows = {line.split()[0]: line.split()[1:] for line in text.output.splitlines() if line.startswith(("abr", "gro"))}
    assert rows == {"abrusco": ["individual", "2", "1", "0", "0"], "groep-intro": ["individual", "1", "2", "0", "0"]}
    assert "trajectories whose first proposal changed: 3 of 3" in text.output
    assert "-> groep-intro/individual" in text.output
    wrong = CliRunner().invoke(app, ["dispatch", "what-if", "--rules", str(rules), "--year", "2019"])
    assert wrong.exit_code == 1 and "not a school year" in wrong.output
    rules.write_text("version: v3\noffers: []\n", encoding="utf-8")
    empty = CliRunner().invoke(app, ["dispatch", "what-if", "--rules", str(rules)])
    assert empty.exit_code == 1 and "is not a rule set" in empty.output


def test_the_bench_replays_each_desk_as_the_what_if_does(tmp_path: Path) -> None:
    params = GeneratorParams(years=("2019-2020",), scale=0.3)
    run = replay_synthetic(params, V1)
    read = [s for s in generate(params) if fed_to_the_engine(s["event_type"], s["source_system"])]
    assert (run["regions"], run["region_years_done"], run["region_years"], run["refused"]) == (1, 1, 1, 0)
    assert (run["events_generated"], run["events_fed"]) == (len(list(generate(params))), len(read))
    assert run["proposals"] > 0 and run["proposals"] + run["waiting_joins"] + run["blocked"] > 0
    assert run["wall_s"] >= run["engine_s"] > 0
    stopped = replay_synthetic(GeneratorParams(years=("2019-2020", "2020-2021"), scale=2, seed=7), V1, budget_s=0)
    assert (stopped["regions"], stopped["region_years_done"], stopped["region_years"]) == (2, 1, 4)
    result = run_bench_dispatch(scale=0.3, years=1, first_year="2019-2020", budget_s=0, progress=False,
                                results=tmp_path)  # fmt: skip
    assert result["measured"]["complete"] and result["measured"]["region_years"] == "1 of 1"
    assert result["measured"]["proposals"] == run["proposals"] and result["measured"]["engine_events_per_s"] > 0
    whole = result["whole_run"]
    assert (whole["events_generated"], whole["extrapolated"]) == (run["events_generated"], False)
    assert json.loads(Path(result["saved_to"]).read_text())["run"]["rule_set"] == "dispatch-rules-v1"
    over = run_bench_dispatch(scale=2, years=2, budget_s=0.001, progress=False, results=tmp_path)
    assert (over["measured"]["complete"], over["measured"]["region_years"]) == (False, "1 of 4")
    assert over["whole_run"]["extrapolated"] and over["whole_run"]["events_generated"] > 3 * over["measured"][
        "events_generated"]  # fmt: skip
