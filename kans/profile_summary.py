"""Where a projections worker's time goes: a py-spy profile (`py-spy record --format raw`, one line per distinct
stack: `frame;frame;... count`) of a worker folding the log, summed into the parts issue 13 asks about.

Only the main thread's samples count (the event loop, where the agents, faust's per-message delivery and the
producer all run: the worker's bottleneck); its waits in the selector are idle time, left out. Each sample goes to
the first part whose rule matches one of its frames, in RULES' order (a parse inside an agent is the parse, not the
agent). `summarize` returns the share of each part in the main thread's busy samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# (part, frame names any of which puts a sample in it), first match wins.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agents: strict parse of each event (read_event)", ("read_event", "read_load_change")),
    ("agents: fold and load changes (translate, apply_change)", ("translate", "apply_change", "from_dict", "to_dict")),
    ("agents: table writes (changelog records)", ("ManagedUserDict.__setitem__", "Table.on_key_set")),
    ("agents: sends to load-changes, dead letters", ("Topic.send", "send_dead_letter", "dump_load_change")),
    ("agents: the rest of the batch (order, reads, hand-over)", ("track_trajectories", "aggregate_provider_load")),
    ("faust: per-message delivery to the agents (fetch, queue, sensors, acks, yield)",
     ("Consumer._drain_messages", "Stream._c_aiter", "Stream._passive_drainer", "on_message", "Agent._slurp",
      "Agent._execute_actor", "Stream.take_events")),
    ("producer: changelog and load-changes records to the broker",
     ("ProducerBuffer", "Sender.", "SendProduceReqHandler", "AIOKafkaProducer", "Topic.publish_message",
      "Topic._on_published")),
    ("consumer and broker connections", ("AIOKafkaConnection", "AIOKafkaClient", "Fetcher.")),
    ("web pages (/ready, views)", ("Web.", "RequestHandler")),
    ("start-up (imports, app set-up)", ("_find_and_load", "exec_module")),
    ("event loop: scheduling tasks and callbacks", ("BaseEventLoop._run_once", "Handle._run")),
)  # fmt: skip
IDLE = ("EpollSelector.select", "KqueueSelector.select", "select.epoll")
_NAME = re.compile(r"^(.*?) \(")  # "Class.method (path/file.py:123)" -> "Class.method"


def _frames(stack: str) -> list[str]:
    return [(m.group(1) if (m := _NAME.match(frame)) else frame) for frame in stack.split(";")]


def _is_main_thread(frames: list[str]) -> bool:
    """py-spy writes a thread's stack from its outermost frame: the main thread starts at the program's entry,
    other threads at Thread._bootstrap (a process line, with --subprocesses, comes first)."""
    first = next((f for f in frames if not f.startswith("process ")), "")
    return not first.startswith("Thread._bootstrap")


def part_of(frames: list[str]) -> str:
    for part, names in RULES:
        if any(name in frame for frame in frames for name in names):
            return part
    return "other"


def summarize(lines: Iterable[str]) -> dict[str, object]:
    """{"busy_samples", "idle_samples", "parts": {part: percent of busy}} of the main thread."""
    parts: Counter[str] = Counter()
    idle = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = _frames(stack)
        if not _is_main_thread(frames):
            continue
        if any(name in frames[-1] for name in IDLE):
            idle += int(count)
            continue
        parts[part_of(frames)] += int(count)
    busy = sum(parts.values())
    return {"busy_samples": busy, "idle_samples": idle,
            "parts": {part: round(100 * n / busy, 1) for part, n in parts.most_common()} if busy else {}}  # fmt: skip


def summarize_file(path: Path) -> dict[str, object]:
    with path.open() as lines:
        return summarize(lines)
