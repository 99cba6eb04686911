"""The dashboard's referrals per month are the registry's R01, end to end: the chart's own request (read from the
served page) answers the same figures as `/v1/stats/{year}/R01` for the same year and levels. The events include
what a second, raw definition would count differently: a retracted registration and an offer type amended later.
School year 2016-2017: no other test uses it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import referral

YEAR = "2016-2017"
BOTH = {"level": ["primary", "secondary"]}
# R01 for both levels, every other cell 0: M3 retracted (out), M4 amended from regular to corona.
EXPECTED = {("2016-10", "regular"): 2, ("2017-01", "corona"): 1, ("2017-05", "corona"): 1}


def desk(kind: str, ref: str, occurred: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": occurred, "source_system": "desk", "source_ref": ref,
            "actor": "desk:test", "payload": payload}  # fmt: skip


def get(platform: Platform, path: str, **params: Any) -> Any:
    response = platform.api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def r01_cells(result: dict[str, Any]) -> dict[tuple[str, str], int]:
    assert result["dimensions"] == ["month", "offer_type"]
    return {(r["month"], r["offer_type"]): r["value"] for r in result["rows"]}


def chart_cells(monthly: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(m["month"], o["code"]): m[o["code"]] for m in monthly["months"] for o in monthly["offer_types"]}


@pytest.fixture(scope="module")
def year(platform: Platform) -> Platform:
    primary = {"level": "primary", "education_form": "primary_mainstream", "grade": "grade_4", "birth_year": 2007}
    platform.post(
        referral("M1", "2016-10-03T10:00:00+02:00", **primary),
        referral("M2", "2016-10-10T10:00:00+02:00", channel="external_clb"),
        referral("M3", "2016-11-07T10:00:00+01:00"),
        desk("ReferralWithdrawn", "withdrawn:M3", "2016-11-21T10:00:00+01:00",
             {"referral_id": "M3", "reason": "entered_in_error"}),  # a retraction: M3 counts nowhere
        referral("M4", "2017-01-09T10:00:00+01:00", **primary),
        desk("ReferralAmended", "amended:M4", "2017-01-16T10:00:00+01:00",
             {"referral_id": "M4", "changes": {"offer_type": "corona"}}),
        referral("M5", "2017-05-08T10:00:00+02:00", offer_type="corona"),
    )  # fmt: skip
    wait_for(lambda: {k: v for k, v in r01_cells(get(platform, f"/v1/stats/{YEAR}/R01", **BOTH)).items() if v}
             == EXPECTED, timeout_s=60, what="R01 with the retraction and the amendment applied")  # fmt: skip
    return platform


def test_the_dashboards_monthly_figures_are_r01(year: Platform) -> None:
    page = year.api.get("/").text
    chart = page[page.index("async function refreshMonths") :]
    chart = chart[: chart.index("\n}\n")]
    (request,) = re.findall(r"api\(`([^`]+)`\)", chart)
    monthly = get(year, request.replace("${year}", YEAR))
    for field in set(re.findall(r"\bm\.(\w+)", chart)):  # what the chart draws of each month
        assert all(field in m for m in monthly["months"]), field
    assert [m["month"] for m in monthly["months"]][::11] == ["2016-09", "2017-08"] and len(monthly["months"]) == 12

    r01 = get(year, f"/v1/stats/{YEAR}/R01", **BOTH)
    assert chart_cells(monthly) == r01_cells(r01)
    assert (monthly["total"], monthly["population"], monthly["statistic"]) == (r01["total"], r01["population"], "R01")
    assert {k: v for k, v in chart_cells(monthly).items() if v} == EXPECTED and monthly["total"] == 4
    assert all(m["total"] == sum(m[o["code"]] for o in monthly["offer_types"]) for m in monthly["months"])


@pytest.mark.parametrize(("level", "statistic"), [("primary", "R01"), ("secondary", "R31")])
def test_one_level_is_that_levels_monthly_statistic(year: Platform, level: str, statistic: str) -> None:
    monthly = get(year, f"/v1/stats/{YEAR}/referrals-per-month", level=level)
    own = get(year, f"/v1/stats/{YEAR}/{statistic}")  # R01 is primary's, R31 secondary's: the same definition
    assert chart_cells(monthly) == r01_cells(own) and monthly["total"] == own["total"] == 2
