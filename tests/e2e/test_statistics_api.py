"""The statistics API end to end: events posted to the ingest, through Kafka and the writer into ClickHouse, asked
from the API process over HTTP (the services run as processes: the API owns its own chDB directory, which this
pytest process could not open next to the session's chDB engine). School year 2015-2016: no other test uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.warehouse.statistics.registry import STATISTICS
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import dispatch, pupil, referral, start

YEAR = "2015-2016"


def group_referral() -> dict[str, Any]:
    groups = [
        {
            "group_id": f"GE-{m}",
            "school_id": "school-e2e",
            "level": "primary",
            "education_form": "primary_mainstream",
            "grade": "grade_5",
            "group_kind": "class_group",
            "pupil_count": n,
            "requested_module": m,
        }
        for m, n in (("class_action", 20), ("theme_workshop", 18))
    ]
    return {
        "event_type": "GroupReferralSubmitted",
        "occurred_at": "2015-10-12T10:00:00+02:00",
        "source_system": "group_referral_tool",
        "source_ref": "e2e-stats:GE1",
        "actor": "clb:clb-1",
        "payload": {"group_referral_id": "GE1", "channel": "lars", "referrer_id": "clb-1", "groups": groups},
    }


@pytest.fixture(scope="module")
def stats(platform: Platform) -> Platform:
    primary = {"level": "primary", "education_form": "primary_mainstream", "grade": "grade_3", "birth_year": 2007}
    platform.post(
        referral("E1", "2015-10-05T10:00:00+02:00", **primary, school_id="school-e2e"),
        referral("E2", "2015-11-09T10:00:00+01:00", **primary),
        referral("E3", "2016-01-11T10:00:00+01:00", **primary, pupil_id=pupil("E1"), school_id="school-e2e"),
        referral("E4", "2016-02-01T10:00:00+01:00", **primary, gender="girl", channel="external_clb"),
        referral("E5", "2016-05-09T10:00:00+02:00", **primary, offer_type="corona", channel="school_direct"),
        dispatch("E1", "TE1", "tigo-e2e", "day-care", occurred="2015-10-19T10:00:00+02:00"),
        start("E1", "TE1", occurred="2015-10-26T10:00:00+01:00"),
        group_referral(),
    )
    wait_for(lambda: get(platform, f"/v1/stats/{YEAR}/R22")["total"] == 2, timeout_s=60, what="groups in ClickHouse")
    wait_for(lambda: get(platform, f"/v1/stats/{YEAR}/R02")["total"] == 5, timeout_s=60, what="5 referrals")
    return platform


def get(platform: Platform, path: str, **params: Any) -> Any:
    response = platform.api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def cells(result: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    return {tuple(r[d] for d in result["dimensions"]): r["value"] for r in result["rows"] if r["value"] != 0}


def test_one_statistic_with_filters_as_of_and_audience(stats: Platform) -> None:
    r02 = get(stats, f"/v1/stats/{YEAR}/R02")
    assert cells(r02) == {("regular", "boy"): 3, ("regular", "girl"): 1, ("corona", "boy"): 1}
    assert r02["population"] == "individuele aanmeldingen basisonderwijs, alle kanalen, in en buiten LARS geregistreerd"
    lars_only = get(stats, f"/v1/stats/{YEAR}/R02", exclude_channel=["external_clb", "intake"])
    assert (lars_only["total"], lars_only["filters"]) == (4, {"exclude_channel": ["external_clb", "intake"]})
    in_lars = get(stats, f"/v1/stats/{YEAR}/R02", registration="lars")  # every referral here came from LARS
    assert in_lars["total"] == 5 and in_lars["population"].endswith("alle kanalen, geregistreerd in LARS")
    assert get(stats, f"/v1/stats/{YEAR}/R22", registration="outside_lars")["total"] == 2  # the group tool's
    refused = stats.api.get(f"/v1/stats/{YEAR}/R02", params={"registration": "elsewhere"})
    assert refused.status_code == 422 and "'lars' or 'outside_lars'" in refused.text
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert get(stats, f"/v1/stats/{YEAR}/R02", as_of=yesterday)["total"] == 0  # everything was recorded today
    policy = get(stats, f"/v1/stats/{YEAR}/R02", audience="policy")
    hidden = {(r["offer_type"], r["gender"]) for r in policy["rows"] if r["suppressed"]}
    # 3, 1 and 1 are below 5; corona/boy (1) is alone in its row, so one of its zeros is hidden with it.
    assert hidden == {("regular", "boy"), ("regular", "girl"), ("corona", "boy"), ("corona", "girl")}
    assert policy["suppressed_cells"] == 4 and not [r for r in policy["rows"] if r["value"]]


def test_the_whole_year_and_the_existing_monthly_endpoint(stats: Platform) -> None:
    report = get(stats, f"/v1/stats/{YEAR}")
    codes = [s["statistic"] for section in report["sections"] for s in section["statistics"]]
    assert codes == list(STATISTICS) and len(codes) == 59 + 10  # R01-R59 and the figures of the report's text
    assert [section["section"] for section in report["sections"]] == [
        "primary_individual",
        "primary_groups",
        "secondary_individual",
        "secondary_groups",
    ]
    assert get(stats, f"/v1/stats/{YEAR}/referrals-per-month")["total"] == 5


def test_comparisons_across_years(stats: Platform) -> None:
    compared = get(stats, "/v1/stats/compare/R02", from_year="2014-2015", to_year=YEAR)
    assert compared["totals"] == {"2014-2015": 0, YEAR: 5}
    t5 = get(stats, "/v1/stats/comparisons/exclusions", from_year="2014-2015", to_year=YEAR, level="primary")
    values = {row["column"]: row["values"][YEAR] for row in t5["rows"]}
    assert values == {
        "raw": 5,
        "excl_corona": 4,
        "excl_corona_extra_part_time": 4,
        "until_03_31": 4,
        "until_03_31_excl_part_time": 4,
    }
    body = {
        "from_year": "2014-2015",
        "to_year": YEAR,
        "level": "primary",
        "columns": [{"code": "lars", "label_nl": "Zonder corona", "exclude_offer_type": ["corona"]}],
    }
    response = stats.api.post("/v1/stats/comparisons/exclusions", json=body)
    assert response.status_code == 200 and response.json()["rows"][0]["values"] == {"2014-2015": 0, YEAR: 4}


def test_ad_hoc_questions_answer_and_refuse_what_is_not_allowed(stats: Platform) -> None:
    question = {
        "measures": ["referrals", "pupils"],
        "dimensions": ["gender"],
        "years": [YEAR],
        "filters": {"level": ["primary"]},
    }
    answer = stats.api.post("/v1/query", json=question)
    assert answer.status_code == 200, answer.text
    assert {r["gender"]: (r["referrals"], r["pupils"]) for r in answer.json()["rows"]} == {
        "boy": (4, 3),
        "girl": (1, 1),
    }
    injected = stats.api.post("/v1/query", json={**question, "dimensions": ["gender; DROP TABLE events"]})
    assert injected.status_code == 422
    error = injected.json()["errors"][0]
    assert error["field"] == "body.dimensions[0]" and "gender" in error["allowed"]
    quoted = stats.api.post("/v1/query", json={**question, "filters": {"gender": ["boy' OR '1'='1"]}})
    assert (quoted.status_code, quoted.json()["rows"]) == (200, [])
    raw_sql = stats.api.post("/v1/query", json={**question, "sql": "SELECT * FROM events"})
    assert raw_sql.status_code == 422
    per_school = {**question, "dimensions": ["school_id"]}
    assert stats.api.post("/v1/query", json=per_school, params={"audience": "policy"}).status_code == 422
    desk = stats.api.post("/v1/query", json=per_school).json()["rows"]
    assert {r["school_id"]: r["referrals"] for r in desk}["school-e2e"] == 2
    assert get(stats, f"/v1/stats/{YEAR}/R02")["total"] == 5  # the events table is still there


def test_unknown_statistics_and_years_are_422(stats: Platform) -> None:
    unknown = stats.api.get(f"/v1/stats/{YEAR}/R60")
    assert unknown.status_code == 422 and "R59" in unknown.json()["errors"][0]["message"]
    assert stats.api.get("/v1/stats/2015-2017/R01").status_code == 422
    assert stats.api.get(f"/v1/stats/{YEAR}/R01", params={"channel": "lars' OR 1=1"}).status_code == 422
