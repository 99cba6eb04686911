"""`kans test all` runs the suite as two pytest sessions side by side (kans/cli.py SESSIONS): together they must run
every test module once, and each must run the privacy scan over what it wrote."""

from __future__ import annotations

from collections import Counter

from kans.cli import PRIVACY_SCAN, SESSIONS
from kans.paths import REPO_ROOT

TIERS = ("tests/unit", "tests/integration", "tests/e2e")


def modules_of(args: list[str]) -> Counter[str]:
    """The test modules a session's arguments select (a folder: its test_*.py, minus --ignore; a node id: its file)."""
    ignored = {arg.removeprefix("--ignore=") for arg in args if arg.startswith("--ignore=")}
    selected: Counter[str] = Counter()
    for arg in args:
        if arg.startswith("-"):
            continue
        path = arg.split("::")[0]
        if (REPO_ROOT / path).is_dir():
            files = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / path).rglob("test_*.py"))
            selected.update(f for f in files if f not in ignored)
        else:
            assert (REPO_ROOT / path).is_file(), f"{path} does not exist"
            selected[path] += 1
    return selected


def test_the_two_sessions_together_run_every_test_module_once() -> None:
    every = {p.relative_to(REPO_ROOT).as_posix() for tier in TIERS for p in (REPO_ROOT / tier).rglob("test_*.py")}
    per_session = [modules_of(args) for _, args in SESSIONS]
    both = sum(per_session, Counter())
    assert set(both) == every
    twice = {module for module, n in both.items() if n > 1 and module != PRIVACY_SCAN}
    assert twice == set(), "run by both sessions"


def test_each_session_scans_what_it_wrote() -> None:
    scans = {"test_no_personal_data_on_any_topic", "test_no_personal_data_in_clickhouse"}
    for name, args in SESSIONS:
        assert PRIVACY_SCAN in modules_of(args), f"session {name} runs no privacy scan"
        named = {arg.split("::")[1] for arg in args if arg.startswith(f"{PRIVACY_SCAN}::")}
        assert not named or scans <= named, f"session {name} leaves out part of the scan of what it wrote"
