"""The generator's own per-year totals equal what the platform counts after ingesting its events: through the
ingest API (REST batches) and through the Kafka inbound topic, each into a school year no other test uses."""

from __future__ import annotations

from datetime import date
from typing import Any

from kans.synthetic.generator import generate
from kans.synthetic.output import DEMO_API_KEY, post_to_ingest, produce_to_inbound
from kans.synthetic.params import GeneratorParams
from kans.synthetic.summary import Summary
from tests.conftest import wait_for
from tests.platform import Platform


def _year_with_a_crisis(year: str, seed: int) -> GeneratorParams:
    """A small year (a quarter of Brussels) with a spring crisis, so both offer types are counted."""
    spring = int(year[5:])
    crisis = {"start": date(spring, 3, 10), "offer_from_secondary": date(spring, 4, 22),
              "offer_from_primary": date(spring, 5, 5), "offer_until": date(spring, 6, 20)}  # fmt: skip
    return GeneratorParams(years=(year,), seed=seed, scale=0.25, overrides={year: {"crisis": crisis}})


def _rows(stat: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [(m["month"], m["regular"], m["corona"], m["total"]) for m in stat["months"]]


def _settles_on(platform: Platform, year: str, summary: Summary) -> None:
    for level in (None, "primary", "secondary"):
        expected = summary.referrals_per_month(year, level)

        def counted(level: str | None = level, total: int = expected["total"]) -> dict[str, Any] | None:
            params = {"level": level} if level else {}
            stat = platform.api.get(f"/v1/stats/{year}/referrals-per-month", params=params).json()
            return stat if stat["total"] >= total else None

        stat = wait_for(counted, timeout_s=90, interval_s=0.5, what=f"{expected['total']} referrals of {year}")
        assert _rows(stat) == _rows(expected), level
        assert stat["total"] == expected["total"]


def test_totals_of_a_year_loaded_through_the_ingest_api_equal_the_statistics(platform: Platform) -> None:
    year = "2013-2014"  # a school year no other test uses
    summary = Summary()
    sent = post_to_ingest(summary.watch(generate(_year_with_a_crisis(year, seed=13))),
                          platform.settings.ingest_base_url, DEMO_API_KEY)  # fmt: skip
    assert sent["created"] == sent["events"] and sent["batches"] >= 1
    months = summary.referrals_per_month(year)["months"]
    assert sum(m["regular"] for m in months) > 20 and sum(m["corona"] for m in months) > 10
    _settles_on(platform, year, summary)


def test_totals_of_a_year_produced_to_the_inbound_topic_equal_the_statistics(platform: Platform) -> None:
    year = "2012-2013"  # a school year no other test uses
    platform.start("inbound")
    try:
        summary = Summary()
        produced = produce_to_inbound(summary.watch(generate(_year_with_a_crisis(year, seed=12))),
                                      platform.settings, DEMO_API_KEY)  # fmt: skip
        assert produced > 300
        _settles_on(platform, year, summary)
    finally:
        platform.stop("inbound")
