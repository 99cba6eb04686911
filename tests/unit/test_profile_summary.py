"""`kans bench-projections --profile`: a py-spy profile summed into where a projections worker's time goes."""

from __future__ import annotations

from kans.profile_summary import summarize

ENTRY = "_run_module_as_main (<frozen runpy>:198);main (services/projections/worker.py:12)"
LOOP = "BaseEventLoop._run_once (asyncio/base_events.py:1922);Handle._run (asyncio/events.py:80)"
AGENT = "Agent._slurp (faust/agents/agent.py:720);track_trajectories (services/projections/agents.py:130)"


def test_parts_of_the_main_threads_busy_samples() -> None:
    lines = [
        # a parse inside the agent is the parse (first rule that matches), not the agent's own time
        f"{ENTRY};{LOOP};{AGENT};read_event (core/dead_letters.py:80);parse_event (schemas/registry.py:90) 30\n",
        f"{ENTRY};{LOOP};{AGENT};translate (services/projections/load_changes.py:60) 10\n",
        f"{ENTRY};{LOOP};{AGENT} 10\n",
        f"{ENTRY};{LOOP};Stream._c_aiter (faust/streams.py:1180) 40\n",
        f"{ENTRY};{LOOP};ProducerBuffer._send_pending (faust/transport/producer.py:50) 10\n",
        # idle: the loop waiting in the selector
        f"{ENTRY};BaseEventLoop._run_once (asyncio/base_events.py:1910);EpollSelector.select (selectors.py:468) 500\n",
        # another thread (the consumer's): not the bottleneck thread, left out
        "Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);read_event (core/dead_letters.py:80) 99\n",
        "not a sample line\n",
    ]
    summary = summarize(lines)
    assert summary["busy_samples"] == 100
    assert summary["idle_samples"] == 500
    assert summary["parts"] == {
        "faust: per-message delivery to the agents (fetch, queue, sensors, acks, yield)": 40.0,
        "agents: strict parse of each event (read_event)": 30.0,
        "agents: fold and load changes (translate, apply_change)": 10.0,
        "agents: the rest of the batch (order, reads, hand-over)": 10.0,
        "producer: changelog and load-changes records to the broker": 10.0,
    }


def test_a_profile_without_busy_samples() -> None:
    assert summarize([f"{ENTRY};EpollSelector.select (selectors.py:468) 7\n"]) == {
        "busy_samples": 0, "idle_samples": 7, "parts": {}}  # fmt: skip
