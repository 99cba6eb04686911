"""The dashboard's monthly figures are the registry's R01 reshaped (pure): R01's own definition and shaping, cells
given by hand, no counting of their own."""

from __future__ import annotations

import pytest

from services.api.referrals_per_month import per_month
from services.warehouse.statistics.filters import Filters
from services.warehouse.statistics.labels import LabelContext
from services.warehouse.statistics.model import Cell, Cells, StatisticResult
from services.warehouse.statistics.registry import STATISTICS
from services.warehouse.statistics.shaping import shape

YEAR = "2019-2020"


def r01(counts: dict[tuple[str, str], int], audience: str = "desk", **filters: tuple[str, ...]) -> StatisticResult:
    cells = Cells([Cell(YEAR, key, n) for key, n in counts.items()], ("month", "offer_type"),
                  {YEAR: sum(counts.values())})  # fmt: skip
    return shape(STATISTICS["R01"], cells, YEAR, filters=Filters(**filters), as_of=None, audience=audience,
                 threshold=5, labels=LabelContext())  # fmt: skip


def test_every_month_from_september_to_august_with_r01s_count_per_offer_type() -> None:
    counts = {("2019-09", "regular"): 7, ("2019-09", "corona"): 0, ("2020-01", "regular"): 4,
              ("2020-05", "corona"): 6, ("2020-05", "regular"): 1}  # fmt: skip
    both = per_month(r01(counts, level=("primary", "secondary")))
    assert [m.month for m in both.months] == [
        "2019-09", "2019-10", "2019-11", "2019-12", "2020-01", "2020-02",
        "2020-03", "2020-04", "2020-05", "2020-06", "2020-07", "2020-08",
    ]  # fmt: skip
    rows = {m.month: (m.label_nl, m.model_dump()["regular"], m.model_dump()["corona"], m.total) for m in both.months}
    assert rows["2019-09"] == ("september", 7, 0, 7)
    assert rows["2020-01"] == ("januari", 4, 0, 4)
    assert rows["2020-05"] == ("mei", 1, 6, 7)
    assert rows["2019-10"] == ("oktober", 0, 0, 0) and rows["2020-08"] == ("augustus", 0, 0, 0)
    assert both.total == 18 == sum(m.total for m in both.months)
    assert (both.statistic, both.school_year) == ("R01", YEAR)
    assert both.population == ("individuele aanmeldingen basis- en secundair onderwijs, alle kanalen, in en buiten "
                               "LARS geregistreerd")
    offer_types = [(o.code, o.label_nl) for o in both.offer_types]
    assert offer_types == [("regular", "Regulier aanbod"), ("corona", "Corona-aanbod")]


def test_the_body_keeps_the_dashboards_fields() -> None:
    body = per_month(r01({("2019-11", "corona"): 2})).model_dump(mode="json")
    assert set(body) == {"statistic", "school_year", "population", "offer_types", "months", "total"}
    assert body["months"][2] == {"month": "2019-11", "label_nl": "november", "regular": 0, "corona": 2, "total": 2}


def test_a_statistic_of_other_dimensions_or_with_suppressed_cells_is_refused() -> None:
    by_gender = {"statistic": "R02", "dimensions": ["offer_type", "gender"]}
    r02 = r01({("2019-09", "regular"): 1}).model_copy(update=by_gender)
    with pytest.raises(ValueError, match="not by"):
        per_month(r02)
    with pytest.raises(ValueError, match="suppressed"):
        per_month(r01({("2019-09", "regular"): 2}, audience="policy"))
