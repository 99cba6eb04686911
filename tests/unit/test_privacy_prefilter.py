"""The privacy checks skip the number and address searches for a string with fewer than nine digits and no @:
that shortcut must never let through what the searches would have found."""

from __future__ import annotations

import random

import pytest

from schemas.privacy import contains_email, contains_national_number, contains_phone, person_name_in, personal_data_in

ALPHABET = "0123456789" * 4 + "abcXYZ .-:/+()@_²٣"  # ² is a digit to isdigit, ٣ (Arabic-Indic three) to \d too


def searched(value: str, free_text: bool) -> str | None:
    """The checks without the shortcut, in the same order."""
    if contains_national_number(value):
        return "a national register number"
    if contains_email(value):
        return "an e-mail address"
    if contains_phone(value, whole_segments=not free_text):
        return "a phone number"
    if free_text and (name := person_name_in(value)):
        return f"a person's name ('{name}')"
    return None


KNOWN = ["85.07.30-033.28", "85073003328", "0475 12 34 56", "+32 475 12 34 56", "jan@example.be", "R-2024-000123",
         "T-F-000042", "pupil:3f2a9c0d5b7e", "Jan Janssens", "clb-brussel-1", "٠٤٧٥١٢٣٤٥٦"]  # fmt: skip


@pytest.mark.parametrize("free_text", [False, True])
def test_the_shortcut_finds_what_the_searches_find(free_text: bool) -> None:
    rng = random.Random(13)
    values = KNOWN + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(20_000)]
    found = [(value, personal_data_in(value, free_text=free_text)) for value in values]
    assert found == [(value, searched(value, free_text)) for value in values]
    assert sum(1 for _, kind in found if kind) > 50  # the corpus holds numbers and addresses to find
    assert personal_data_in("85.07.30-033.28", free_text=False) == "a national register number"
    assert personal_data_in("0475 12 34 56", free_text=True) == "a phone number"
