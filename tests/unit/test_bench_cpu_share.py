"""`kans bench-live`'s CPU shares (kans/bench_live.py): a child that ends within the window still counts for its
process group. Real processes and /proc, no broker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

BURN_S = 0.4


def test_the_time_of_a_child_that_ended_still_counts_for_its_group() -> None:
    """In a process group of its own: the group's ticks before a child burns BURN_S of CPU, and after that child was
    waited for. Counting only live processes, the child's time vanished with it and the share came out ~0."""
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        from kans.bench_live import _cpu_ticks_by_group
        group = os.getpgrp()
        before = _cpu_ticks_by_group()[group]
        subprocess.run([sys.executable, "-c",
                        "import time\\nend = time.process_time() + {BURN_S}\\nwhile time.process_time() < end: pass"],
                       check=True)
        print(_cpu_ticks_by_group()[group] - before)
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          start_new_session=True, cwd=os.getcwd())  # fmt: skip
    seconds = int(done.stdout.strip()) / os.sysconf("SC_CLK_TCK")
    assert seconds >= 0.8 * BURN_S, f"the group's CPU grew by {seconds:.2f} s while its child burned {BURN_S} s"
