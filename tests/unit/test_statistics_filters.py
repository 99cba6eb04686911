"""Filters -> SQL conditions with bound parameters, school-day keys and as-of instants (pure)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.warehouse.statistics.filters import Filters, as_of_ms, filter_conditions, school_day_key


def test_values_become_parameters_never_sql_text() -> None:
    filters = Filters(channel=("lars",), exclude_channel=("intake",), offer_type=("corona",), until="03-31")
    where, params = filter_conditions(filters, "secondary", provider_column="provider_id", database="db")
    sql = " AND ".join(where)
    assert "lars" not in sql and "corona" not in sql and "secondary" not in sql
    assert "channel IN {f_channel:Array(String)}" in where
    assert "channel NOT IN {f_exclude_channel:Array(String)}" in where
    assert "date_key <= {f_until:UInt16}" in where
    assert params == {
        "f_level": ["secondary"],
        "f_channel": ["lars"],
        "f_exclude_channel": ["intake"],
        "f_offer_type": ["corona"],
        "f_until": school_day_key(3, 31),
    }


def test_a_level_filter_overrides_the_statistics_level() -> None:
    _, params = filter_conditions(
        Filters(level=("primary", "secondary")), "secondary", provider_column=None, database="db"
    )
    assert params["f_level"] == ["primary", "secondary"]


def test_provider_filter_on_referrals_goes_through_the_trajectories_as_known_then() -> None:
    where, params = filter_conditions(Filters(provider=("tigo",)), None, provider_column=None, database="kans")
    assert where == [
        "referral_id IN (SELECT referral_id FROM kans.trajectory_log WHERE provider_id IN "
        "{f_provider:Array(String)} AND event_type IN ('TrajectoryDispatched', 'TrajectoryCarriedOver') "
        "AND recorded_at < fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC') AND event_id NOT IN (SELECT event_id "
        "FROM kans.trajectory_log WHERE provider_id IN {f_provider:Array(String)} AND event_type IN "
        "('TrajectoryDispatched', 'TrajectoryCarriedOver') AND recorded_at >= "
        "fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC')))"
    ]
    assert params == {"f_provider": ["tigo"]}


def test_unknown_codes_and_bad_days_are_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match="allowed values: lars, external_clb"):
        Filters(channel=("lars'; DROP TABLE events --",))
    with pytest.raises(ValidationError, match="MM-DD"):
        Filters(until="31-03")


def test_school_day_keys_order_days_from_september_to_august() -> None:
    days = [(9, 1), (12, 31), (1, 1), (3, 31), (4, 1), (8, 31)]
    keys = [school_day_key(m, d) for m, d in days]
    assert keys == sorted(keys) and keys[0] == 1 and keys[-1] == 1131


def test_as_of_is_the_end_of_the_day_in_brussels() -> None:
    assert as_of_ms(date(2020, 3, 31)) == 1585692000000  # 2020-04-01 00:00 CEST = 2020-03-31 22:00 UTC
    assert as_of_ms(date(2020, 1, 15)) == 1579129200000  # 2020-01-16 00:00 CET = 2020-01-15 23:00 UTC
    assert as_of_ms(None) > as_of_ms(date(2100, 1, 1))


def test_population_text_says_what_is_counted() -> None:
    assert Filters().describe_nl() == "alle kanalen, in en buiten LARS geregistreerd"
    text = Filters(exclude_channel=("external_clb", "intake"), until="03-31").describe_nl()
    assert text == "zonder CLB buiten Brussel en Intake, in en buiten LARS geregistreerd, tot en met 31/03"
    assert Filters(registration="lars").describe_nl() == "alle kanalen, geregistreerd in LARS"
    both = Filters(channel=("external_clb",), registration="outside_lars").describe_nl()
    assert both == "kanalen: CLB buiten Brussel, buiten LARS geregistreerd"


@pytest.mark.parametrize(("view", "condition"), [("lars", "source_system = {f_registration:String}"),
                                                 ("outside_lars", "source_system != {f_registration:String}")])
def test_the_registration_views_are_by_source_system_beside_the_channel_filters(view: str, condition: str) -> None:
    where, params = filter_conditions(Filters(registration=view, exclude_channel=("intake",)), "primary",  # type: ignore[arg-type]
                                      provider_column=None, database="db")  # fmt: skip
    assert condition in where and "channel NOT IN {f_exclude_channel:Array(String)}" in where
    assert params["f_registration"] == "lars"
    with pytest.raises(ValidationError, match="'lars' or 'outside_lars'"):
        Filters(registration="external")  # type: ignore[arg-type]
