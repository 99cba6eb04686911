"""Small-cell suppression for the policy audience (pure).

Primary: a count from 1 to threshold-1 is hidden (a mean is hidden when fewer than `threshold` units are behind
it). Secondary: a hidden cell must not be recomputable from a known total. Along every additive dimension the
cells sharing the other codes form a line whose sum is known (from the total or from another table); a line with
exactly one hidden cell gets its smallest other cell hidden too (a non-zero one first), repeated until no line
has a single hidden cell. When every dimension is additive, the whole table is one more such line (its total is
shown).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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


def suppress(cells: Sequence[Counted], dimensions: Sequence[str], threshold: int) -> set[int]:
    """Indexes of the cells to hide."""
    hidden = {i for i, cell in enumerate(cells) if primary(cell, threshold)}
    lines = _lines(cells, dimensions)
    changed = True
    while changed:
        changed = False
        for line in lines:
            if len(hidden.intersection(line)) != 1:
                continue
            smallest = min((i for i in line if i not in hidden), default=None,
                           key=lambda i: (not cells[i].value, cells[i].value or 0))  # fmt: skip
            if smallest is not None:
                hidden.add(smallest)
                changed = True
    return hidden


def suppress_total(total: float | None, threshold: int) -> bool:
    return total is not None and 0 < total < threshold
