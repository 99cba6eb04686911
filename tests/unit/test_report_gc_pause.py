"""The cyclic garbage collector is paused while reports are computed, and resumes after the last one (pure)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.warehouse.statistics.engine import _CyclicGcPause


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_during_overlapping_reports_and_resumed_after_the_last(collector: None) -> None:
    gc.enable()
    pause = _CyclicGcPause()
    with pause():
        assert not gc.isenabled()
        with pause():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the other report is still running"
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off(collector: None) -> None:
    gc.disable()
    pause = _CyclicGcPause()
    with pause():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_resumed_when_the_report_fails(collector: None) -> None:
    gc.enable()
    pause = _CyclicGcPause()
    with pytest.raises(RuntimeError), pause():
        raise RuntimeError("a query failed")
    assert gc.isenabled()
