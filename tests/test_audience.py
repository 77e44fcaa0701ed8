"""Audience filter rules that need no database: file names and literal search patterns."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from dashboard import formats
from dashboard.audience import MARTS, AudienceFilter, export_file_name, like_pattern

TODAY = date(2026, 11, 26)


def test_file_name_of_the_marketing_example():
    audience = AudienceFilter(years=(2024,), countries=("NL",))
    assert export_file_name(MARTS["february"], audience, TODAY) == "customers_february_2024_NL_2026-11-26.csv"


def test_file_name_lists_every_narrowing_filter():
    audience = AudienceFilter(
        years=(2024, 2023), countries=("NL", "BE"), opted_in_only=False, min_orders=2,
        min_revenue=Decimal("100.00"), search="anna",
    )
    assert export_file_name(MARTS["december"], audience, TODAY) == (
        "customers_december_2023-2024_BE-NL_incl-not-opted-in_min2orders_min100eur_search_2026-11-26.csv"
    )


def test_the_file_date_is_todays_date_in_the_business_time_zone():
    # 23:30 UTC on 6 December is half past midnight on 7 December in Amsterdam (UTC+1 in winter).
    late_evening_utc = datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc)
    assert formats.today("Europe/Amsterdam", late_evening_utc) == date(2026, 12, 7)
    assert formats.today("UTC", late_evening_utc) == date(2026, 12, 6)
    assert formats.today("America/New_York", late_evening_utc) == date(2026, 12, 6)  # 18:30 there
    early_morning_utc = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
    assert formats.today("America/New_York", early_morning_utc) == date(2026, 12, 6)  # 22:00 the day before


def test_durations_read_at_a_glance():
    assert [formats.duration(seconds) for seconds in (0, 42.9, 59.99, 60, 185, 3599, 3725, -1)] == [
        "0 s", "42 s", "59 s", "1 min 0 s", "3 min 5 s", "59 min 59 s", "1 h 2 min", "0 s",
    ]


def test_file_sizes_read_as_a_file_manager_shows_them():
    sizes = (0, 1, 999, 1000, 2500, 999_949, 999_999, 2_940_169, 117_690_468, 1_176_937_279, 3_200_000_000_000)
    assert [formats.file_size(size).replace("\u00a0", " ") for size in sizes] == [
        "0 bytes", "1 byte", "999 bytes", "1.0 kB", "2.5 kB", "999.9 kB", "1.0 MB", "2.9 MB", "117.7 MB", "1.2 GB",
        "3.2 TB",
    ]
    assert " " not in formats.file_size(2500)  # number and unit are never split over two lines


def test_default_audience_file_name():
    assert export_file_name(MARTS["february"], AudienceFilter(), TODAY) == "customers_february_2026-11-26.csv"


def test_like_pattern_escapes_wildcards():
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"
