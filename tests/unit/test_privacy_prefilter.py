"""The privacy checks skip the number and address searches for a string with fewer than nine digits and no @:
that shortcut must never let through what the searches would have found."""

from __future__ import annotations

import random

import pytest

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
