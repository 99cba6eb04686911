"""The projections' batch window (core/faust_take.py): short for a lone change, long once messages come at a steady
rate, short again as soon as a wait gathers fewer."""

from __future__ import annotations

from core.faust_take import BUSY_PER_S, LONG_S, SHORT_S, Window


def test_a_lone_change_waits_the_short_window_and_steady_traffic_the_long_one() -> None:
    window = Window()
    assert window.after(0, SHORT_S) == SHORT_S  # the last wait gathered nothing
    assert window.after(1, SHORT_S) == SHORT_S  # one change: the next waits as little as ever
    assert window.after(2000, SHORT_S) == LONG_S  # a full batch
    at_rate = round(BUSY_PER_S * SHORT_S)
    assert window.after(at_rate, SHORT_S) == LONG_S
    assert window.after(at_rate - 1, SHORT_S) == SHORT_S


def test_the_rule_is_a_rate_so_a_load_is_seen_from_the_short_window_and_kept_on_the_long_one() -> None:
    """A steady 250 messages/s gathers 5 per short wait and 25 per long one: long from its first batch on, and for
    as long as it lasts (a count of 8 would have kept it on the short wait). Then it stops: short again."""
    window, waited, seen = Window(), SHORT_S, []
    for per_s in [250, 250, 250, 250, 0, 0]:
        gathered = int(per_s * waited)
        waited = window.after(gathered, waited)
        seen.append(waited)
    assert seen == [LONG_S, LONG_S, LONG_S, LONG_S, SHORT_S, SHORT_S]


def test_a_slow_trickle_stays_on_the_short_wait() -> None:
    window, waited = Window(), LONG_S
    for per_s in [100, 100, 100]:  # 10 per long wait, 2 per short one: below the rate either way
        waited = window.after(int(per_s * waited), waited)
    assert waited == SHORT_S
