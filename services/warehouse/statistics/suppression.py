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

# Dimensions whose rows do not add up to a shared total: each value is its own population or measure.
NON_ADDITIVE = frozenset({"measure", "aspect", "scope", "school_year", "variant"})


@dataclass(frozen=True)
class CountCell:
    key: tuple[str | None, ...]
    value: float | None
    base: int | None = None  # units behind a non-count value (a mean); None: the value is a count

    @property
    def is_count(self) -> bool:
        return self.base is None


def primary(cell: CountCell, threshold: int) -> bool:
    units = cell.value if cell.base is None else cell.base
    return units is not None and 0 < units < threshold


def _lines(cells: Sequence[CountCell], dimensions: Sequence[str]) -> list[list[int]]:
    additive = [i for i, name in enumerate(dimensions) if name not in NON_ADDITIVE]
    counts = [i for i, c in enumerate(cells) if c.is_count]
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


def suppress(cells: Sequence[CountCell], dimensions: Sequence[str], threshold: int) -> set[int]:
    """Indexes of the cells to hide."""
    hidden = {i for i, cell in enumerate(cells) if primary(cell, threshold)}
    lines = _lines(cells, dimensions)
    changed = True
    while changed:
        changed = False
        for line in lines:
            in_line = [i for i in line if i in hidden]
            if len(in_line) != 1:
                continue
            candidates = sorted((i for i in line if i not in hidden), key=lambda i: (not cells[i].value,
                                                                                     cells[i].value or 0))  # fmt: skip
            if candidates:
                hidden.add(candidates[0])
                changed = True
    return hidden


def suppress_total(total: float | None, threshold: int) -> bool:
    return total is not None and 0 < total < threshold
