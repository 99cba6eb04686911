"""The fast paths of shaping (pure): rows built without validation, labels and order computed once per code."""

from __future__ import annotations

import json
from typing import Any

from services.warehouse.statistics.labels import LabelContext, dimension_label, label_rows, sort_key
from services.warehouse.statistics.model import Section, StatisticResult, StatisticRow, trusted_row
from services.warehouse.statistics.query import number


def test_a_trusted_row_is_the_row_model_construct_builds() -> None:
    extra: dict[str, Any] = {
        "provider": "p1",
        "gender": None,
        "provider_label_nl": "Een",
        "gender_label_nl": "Onbekend",
    }
    fast = trusted_row(dict(extra), value=3, pct=37.5, pct_base=8, suppressed=False)
    slow = StatisticRow.model_construct(**extra, value=3, pct=37.5, pct_base=8, suppressed=False)
    assert fast.__dict__ == slow.__dict__ and list(fast.__dict__) == list(slow.__dict__)
    assert fast.model_fields_set == slow.model_fields_set and fast.__pydantic_private__ is None
    assert fast.model_extra == slow.model_extra and list(fast.model_extra or {}) == list(extra)
    assert fast == slow and fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_dump(exclude_unset=True) == slow.model_dump(exclude_unset=True)
    result = {
        "statistic": "RX", "title_nl": "Test", "section": Section.primary_individual, "school_year": "2019-2020",
        "population": "x", "filters": {}, "unit": "referrals", "dimensions": ["provider", "gender"], "total": 3,
    }  # fmt: skip
    assert json.loads(StatisticResult(**result, rows=[fast]).model_dump_json()) == json.loads(
        StatisticResult(**result, rows=[slow]).model_dump_json()
    )


def test_label_rows_labels_each_code_as_dimension_label_does_and_ranks_rows_by_sort_key() -> None:
    ctx = LabelContext(
        providers={"p1": "Zeta", "p2": "alpha"},
        modules={("p1", "m1"): "Module bij Zeta", ("p2", "m1"): "Module bij alpha", ("p2", "m2"): "Tweede"},
    )
    dims = ("provider", "module", "gender")
    keys = [("p1", "m1", "girl"), ("p2", "m1", "boy"), ("p1", "m2", None), ("p2", "m2", "unknown")]
    labels, places = label_rows(dims, keys, ctx)
    for key, texts in zip(keys, labels, strict=True):
        row = dict(zip(dims, key, strict=True))
        assert texts == tuple(dimension_label(d, code, row, ctx) for d, code in zip(dims, key, strict=True))
    # A module's label follows its provider; one unknown under its provider takes its name under another.
    assert [t[1] for t in labels] == ["Module bij Zeta", "Module bij alpha", "Tweede", "Tweede"]
    # Its place comes from its label in the first row that has it.
    first_label = {"m1": "Module bij Zeta", "m2": "Tweede"}
    expected = sorted(
        range(len(keys)),
        key=lambda i: [
            sort_key(d, code, first_label[code] if d == "module" and code else text, ctx.own)
            for d, code, text in zip(dims, keys[i], labels[i], strict=True)
        ],
    )
    assert sorted(range(len(keys)), key=places.__getitem__) == expected == [1, 3, 0, 2]


def test_numbers_keep_counts_exact_and_round_means() -> None:
    assert number(2**60 + 1) == 2**60 + 1 and number(7.0) == 7 and isinstance(number(7.0), int)
    assert number(2.345678) == 2.35 and number(float("nan")) is None and number(None) is None
