"""Properties of small-cell suppression (issue 11) over generated tables: a policy answer never shows a count below
the threshold, and no hidden count can be worked out from what is shown and its margins (every line's total is
known: the rows, the columns and, when every dimension adds up, the whole table).

Two attacks are tried. By subtraction along one line: a line with exactly one hidden cell gives it away. By
combining lines: the hidden cells' values solve a linear system (each line: the hidden cells sum to the line's total
minus its shown cells); a hidden cell is given away when that system fixes its value, whatever the others are."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.warehouse.statistics.suppression import CountCell, _lines, suppress

DIMENSIONS = ["school", "gender"]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[CountCell], int]:
    rows = draw(st.integers(1, 6))
    columns = draw(st.integers(1, 5))
    value = st.one_of(st.integers(0, 4), st.integers(5, 60))  # small cells often
    cells = [CountCell((f"r{r}", f"c{c}"), float(draw(value))) for r in range(rows) for c in range(columns)]
    return cells, draw(st.integers(2, 10))


def determined(lines: list[list[int]], hidden: set[int]) -> set[int]:
    """The hidden cells whose value the lines' known totals fix (linear algebra over the hidden cells)."""
    order = sorted(hidden)
    if not order:
        return set()
    position = {cell: n for n, cell in enumerate(order)}
    system = np.array([[1.0 if cell in line else 0.0 for cell in order] for line in lines if hidden & set(line)])
    if system.size == 0:
        return set()
    rank = np.linalg.matrix_rank(system)
    fixed = set()
    for cell in order:
        probe = np.zeros(len(order))
        probe[position[cell]] = 1.0
        if np.linalg.matrix_rank(np.vstack([system, probe])) == rank:  # e_cell is a combination of the lines
            fixed.add(cell)
    return fixed


@settings(max_examples=400, deadline=None)
@given(tables())
def test_no_small_count_is_shown_and_none_is_given_away_by_a_line_or_by_combining_lines(
    table: tuple[list[CountCell], int],
) -> None:
    cells, threshold = table
    hidden = suppress(cells, DIMENSIONS, threshold)
    shown_small = [c for i, c in enumerate(cells) if i not in hidden and c.value and 0 < c.value < threshold]
    assert shown_small == []
    lines = _lines(cells, DIMENSIONS)
    assert [line for line in lines if len(hidden & set(line)) == 1] == []
    given_away = {i for i in determined(lines, hidden) if cells[i].value}
    assert given_away == set(), [cells[i] for i in sorted(given_away)]


def test_the_attack_finds_a_cell_a_line_gives_away() -> None:
    """The linear attack is not blind: a table whose one small cell alone is hidden gives it away."""
    cells = [CountCell(("r0", "c0"), 3.0), CountCell(("r0", "c1"), 40.0)]
    assert determined(_lines(cells, DIMENSIONS), {0}) == {0}
    # Two hidden cells of one row, their columns otherwise shown, the row total known: both columns give them away.
    cells = [CountCell((f"r{r}", f"c{c}"), 3.0 if r == 0 else 30.0) for r in range(2) for c in range(2)]
    assert determined(_lines(cells, DIMENSIONS), {0, 1}) == {0, 1}
