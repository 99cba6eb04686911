"""Small-cell suppression for the policy audience (pure).

Primary: a count from 1 to threshold-1 is hidden (a mean is hidden when fewer than `threshold` units are behind
it). Secondary: a hidden cell must not be recomputable from a known total. Along every additive dimension the
cells sharing the other codes form a line whose sum is known (from the total or from another table); a line with
exactly one hidden cell gets its smallest other cell hidden too (a non-zero one first), repeated until no line
has a single hidden cell. When every dimension is additive, the whole table is one more such line (its total is
shown). Lines can also be combined (a row's total minus the columns' ...): a hidden non-zero cell that the system of
all the lines fixes gets another cell of its lines hidden, until none is fixed (`given_away`;
tests/unit/test_suppression_properties.py tries both attacks on generated tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Dimensions whose rows do not add up to a shared total: each value is its own population or measure.
NON_ADDITIVE = frozenset({"measure", "aspect", "scope", "school_year", "variant"})


class Counted(Protocol):
    """What suppression reads of a cell (a `CountCell`, or a statistic's `Cell` as it is)."""

    @property
    def key(self) -> tuple[str | None, ...]: ...
    @property
    def value(self) -> float | None: ...
    @property
    def base(self) -> int | None: ...  # units behind a non-count value (a mean); None: the value is a count


@dataclass(frozen=True)
class CountCell:
    key: tuple[str | None, ...]
    value: float | None
    base: int | None = None  # units behind a non-count value (a mean); None: the value is a count


def primary(cell: Counted, threshold: int) -> bool:
    units = cell.value if cell.base is None else cell.base
    return units is not None and 0 < units < threshold


def _lines(cells: Sequence[Counted], dimensions: Sequence[str]) -> list[list[int]]:
    additive = [i for i, name in enumerate(dimensions) if name not in NON_ADDITIVE]
    counts = [i for i, c in enumerate(cells) if c.base is None]
    lines: list[list[int]] = []
    for d in additive:
        groups: dict[tuple[str | None, ...], list[int]] = defaultdict(list)
        for i in counts:
            key = cells[i].key
            groups[key[:d] + key[d + 1 :]].append(i)
        lines.extend(g for g in groups.values() if len(g) > 1)
    if dimensions and len(additive) == len(dimensions) and len(counts) > 1:
        lines.append(counts)
    return lines


def _smallest_first(cells: Sequence[Counted]) -> Callable[[int], tuple[bool, float]]:
    return lambda i: (not cells[i].value, cells[i].value or 0)  # a non-zero one first, then the smallest


def _no_single_hidden(cells: Sequence[Counted], lines: list[list[int]], hidden: set[int]) -> None:
    """Along every line with exactly one hidden cell, hide its smallest other cell; until no line has one."""
    changed = True
    while changed:
        changed = False
        for line in lines:
            if len(hidden.intersection(line)) != 1:
                continue
            smallest = min((i for i in line if i not in hidden), default=None, key=_smallest_first(cells))
            if smallest is not None:
                hidden.add(smallest)
                changed = True


def given_away(cells: Sequence[Counted], lines: list[list[int]], hidden: set[int]) -> set[int]:
    """The hidden non-zero cells whose value the shown cells and the lines' totals fix, by combining lines: the
    hidden cells of each line sum to its total minus its shown cells, a linear system; a cell is fixed when every
    solution gives it the same value (its coordinate is zero in every null-space vector of the system)."""
    order = sorted(hidden)
    rows = [[1.0 if i in members else 0.0 for i in order] for line in lines if hidden & (members := set(line))]
    if not order or not rows:
        return set()
    system = np.array(rows)
    _, singular, vt = np.linalg.svd(system)
    rank = int((singular > 1e-9 * max(system.shape)).sum())
    null_space = vt[rank:]
    free = np.abs(null_space).max(axis=0) > 1e-9 if len(null_space) else np.zeros(len(order), dtype=bool)
    return {i for i, moves in zip(order, free, strict=True) if not moves and cells[i].value}


def suppress(cells: Sequence[Counted], dimensions: Sequence[str], threshold: int) -> set[int]:
    """Indexes of the cells to hide: the primary ones, then secondary ones until no line has a single hidden cell
    and no combination of lines fixes a hidden non-zero cell (each time the smallest shown cell of a line of the
    cell given away that frees it, else that line's smallest)."""
    hidden = {i for i, cell in enumerate(cells) if primary(cell, threshold)}
    lines = _lines(cells, dimensions)
    _no_single_hidden(cells, lines, hidden)
    while exposed := given_away(cells, lines, hidden):
        cell = min(exposed)
        neighbours = {i for line in lines if cell in line for i in line if i not in hidden}
        shown = sorted(neighbours, key=_smallest_first(cells))
        if not shown:
            break  # every cell of its lines is hidden already: nothing left to hide (cannot happen with >1 per line)
        freeing = next((i for i in shown if cell not in given_away(cells, lines, hidden | {i})), shown[0])
        hidden.add(freeing)
        _no_single_hidden(cells, lines, hidden)
    return hidden


def suppress_total(total: float | None, threshold: int) -> bool:
    return total is not None and 0 < total < threshold
