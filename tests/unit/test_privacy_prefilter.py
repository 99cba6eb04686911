"""The privacy checks skip the number and address searches for a string with fewer than nine digits and no @:
that shortcut must never let through what the searches would have found."""

from __future__ import annotations

import random

import pytest

from schemas import privacy
from schemas.privacy import personal_data_in, searched

ALPHABET = "0123456789" * 4 + "abcXYZ .-:/+()@_²٣"  # ² is a digit to isdigit, ٣ (Arabic-Indic three) to \d too


KNOWN = ["85.07.30-033.28", "85073003328", "0475 12 34 56", "+32 475 12 34 56", "jan@example.be", "R-2024-000123",
         "T-F-000042", "pupil:3f2a9c0d5b7e", "Jan Janssens", "clb-brussel-1", "٠٤٧٥١٢٣٤٥٦"]  # fmt: skip


@pytest.mark.parametrize("free_text", [False, True])
def test_the_shortcut_finds_what_the_searches_find(free_text: bool) -> None:
    rng = random.Random(13)
    values = KNOWN + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(20_000)]
    found = [(value, personal_data_in(value, free_text=free_text)) for value in values]
    assert found == [(value, searched(value, free_text=free_text)) for value in values]  # every search run
    assert sum(1 for _, kind in found if kind) > 50  # the corpus holds numbers and addresses to find
    assert personal_data_in("85.07.30-033.28", free_text=False) == "a national register number"
    assert personal_data_in("0475 12 34 56", free_text=True) == "a phone number"


@pytest.mark.parametrize("free_text", [False, True])
def test_values_found_clean_are_remembered_and_answer_the_same_the_second_time(free_text: bool) -> None:
    rng = random.Random(17)
    values = KNOWN + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(5_000)]
    first = [personal_data_in(value, free_text=free_text) for value in values]
    again = [personal_data_in(value, free_text=free_text) for value in values]
    assert first == again == [searched(value, free_text=free_text) for value in values]
    clean = {value for value, kind in zip(values, first, strict=True) if kind is None}
    assert clean and all((value, free_text) in privacy._FOUND_CLEAN for value in clean)


def test_a_value_with_personal_data_is_never_remembered() -> None:
    for value in ("85.07.30-033.28", "jan@example.be", "0475 12 34 56"):
        assert personal_data_in(value, free_text=False) is not None
        assert personal_data_in(value, free_text=False) is not None
        assert (value, False) not in privacy._FOUND_CLEAN
    assert personal_data_in("Jan Janssens", free_text=True) == "a person's name ('Jan Janssens')"
    assert ("Jan Janssens", True) not in privacy._FOUND_CLEAN
    assert personal_data_in("Jan Janssens", free_text=False) is None  # not free text: names are not searched
    assert ("Jan Janssens", False) in privacy._FOUND_CLEAN  # kept for identifiers only, where it was clean


def test_what_is_remembered_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "_FOUND_CLEAN", {})
    monkeypatch.setattr(privacy, "_CLEAN_KEPT", 3)
    for n in range(7):
        assert personal_data_in(f"clean-{n}", free_text=False) is None
        assert len(privacy._FOUND_CLEAN) <= 3
    assert personal_data_in("x" * 101, free_text=False) is None
    assert ("x" * 101, False) not in privacy._FOUND_CLEAN  # a long value is not kept
