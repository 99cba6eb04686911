"""Small-cell suppression (pure): primary cells, their complements along every line, means by their base."""

from __future__ import annotations

from services.warehouse.statistics.suppression import CountCell, suppress, suppress_total


def cells(table: dict[tuple[str, ...], float]) -> list[CountCell]:
    return [CountCell(key, value) for key, value in table.items()]


def hidden_keys(table: dict[tuple[str, ...], float], dims: list[str], threshold: int = 5) -> set[tuple[str, ...]]:
    found = cells(table)
    return {found[i].key for i in suppress(found, dims, threshold)}


def test_nothing_is_hidden_when_every_cell_is_large_or_zero() -> None:
    assert hidden_keys({("boy",): 40, ("girl",): 12, ("other",): 0}, ["gender"]) == set()


def test_a_single_small_cell_takes_the_next_smallest_with_it() -> None:
    # Total 55 is shown: hiding only "other" (3) would leave 55 - 40 - 12 = 3 to anyone.
    table = {("boy",): 40, ("girl",): 12, ("other",): 3, ("unknown",): 0}
    assert hidden_keys(table, ["gender"]) == {("other",), ("girl",)}


def test_two_small_cells_protect_each_other() -> None:
    assert hidden_keys({("a",): 40, ("b",): 2, ("c",): 1}, ["x"]) == {("b",), ("c",)}


def test_a_zero_is_taken_only_when_no_other_cell_is_left() -> None:
    assert hidden_keys({("a",): 3, ("b",): 0}, ["x"]) == {("a",), ("b",)}
    assert hidden_keys({("a",): 3, ("b",): 0, ("c",): 9}, ["x"]) == {("a",), ("c",)}


def test_secondary_suppression_runs_along_rows_and_columns_until_stable() -> None:
    table = {
        ("regular", "boy"): 30,
        ("regular", "girl"): 2,
        ("corona", "boy"): 9,
        ("corona", "girl"): 20,
    }
    # regular/girl (2) is small: its row takes regular/boy (30), its column corona/girl (20); regular/boy is then
    # alone in its column and takes corona/boy (9). Every row and column ends with 0 or 2 hidden cells.
    hidden = hidden_keys(table, ["offer_type", "gender"])
    assert ("regular", "girl") in hidden and len(hidden) == 4
    for offer in ("regular", "corona"):
        assert len({k for k in hidden if k[0] == offer}) != 1
    for gender in ("boy", "girl"):
        assert len({k for k in hidden if k[1] == gender}) != 1


def test_measure_dimensions_are_not_lines() -> None:
    table = {("2019", "referred"): 50, ("2019", "reached"): 3}
    assert hidden_keys(table, ["month", "measure"]) == {("2019", "reached")}


def test_a_mean_is_hidden_by_the_units_behind_it_and_never_used_as_a_complement() -> None:
    found = [CountCell(("theme",), 4.5, base=2), CountCell(("class",), 7.0, base=12)]
    assert suppress(found, ["module"], 5) == {0}


def test_the_threshold_is_a_setting() -> None:
    table = {("a",): 40, ("b",): 6, ("c",): 7}
    assert hidden_keys(table, ["x"], threshold=5) == set()
    assert hidden_keys(table, ["x"], threshold=10) == {("b",), ("c",)}


def test_small_totals_are_hidden() -> None:
    assert suppress_total(3, 5) and not suppress_total(5, 5) and not suppress_total(0, 5)
