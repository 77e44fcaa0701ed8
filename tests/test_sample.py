"""Contract tests for the sample order generator (elt/sample.py).

Expectations come from the CSV contract, not from the generator's internals.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from elt.sample import COLUMNS, DEFAULT_SEED, generate_orders, write_sample

ROWS = 20_000
HEADER = (
    "order_id,ordered_at,customer_id,email,first_name,last_name,country,"
    "product_category,quantity,unit_price,status,marketing_opt_in"
)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
RANGE_FIRST, RANGE_LAST = date(2022, 1, 1), date(2025, 12, 31)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
PRICE_RE = re.compile(r"^\d+\.\d{2}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
STATUSES = {"completed", "cancelled", "refunded"}
OPT_IN_VALUES = {"true", "false"}
KNOWN_COUNTRIES = {"NL", "BE", "DE", "FR", "LU", "AT", "GB"}
UTF8_BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default-seed sample of ROWS orders, written once for the module."""
    path = tmp_path_factory.mktemp("sample") / "orders.csv"
    assert write_sample(path, ROWS) == ROWS
    return path


@pytest.fixture(scope="module")
def orders(sample_file: Path) -> list[dict[str, str]]:
    """The sample's data rows as dicts keyed by header name."""
    with sample_file.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _instant(row: dict[str, str]) -> datetime:
    """Parse ordered_at; the contract requires an offset."""
    parsed = datetime.fromisoformat(row["ordered_at"])
    assert parsed.tzinfo is not None, row["ordered_at"]
    return parsed


def _local(row: dict[str, str]) -> datetime:
    """ordered_at as Amsterdam wall-clock time."""
    return _instant(row).astimezone(AMSTERDAM)


def _row_problems(row: dict[str, str]) -> list[str]:
    """Return the contract rules this row breaks (empty when it is valid)."""
    problems = []
    if not TIMESTAMP_RE.match(row["ordered_at"]):
        problems.append("ordered_at not ISO 8601 with seconds and offset")
    if not row["order_id"] or not row["customer_id"]:
        problems.append("empty order_id or customer_id")
    if not row["first_name"] or not row["last_name"] or not row["product_category"]:
        problems.append("empty name or category")
    if row["email"] and "@" not in row["email"]:
        problems.append("email without @")
    if row["country"] and not COUNTRY_RE.match(row["country"]):
        problems.append("country not ISO alpha-2")
    if not row["quantity"].isdigit() or int(row["quantity"]) < 1:
        problems.append("quantity not an integer >= 1")
    if not PRICE_RE.match(row["unit_price"]) or Decimal(row["unit_price"]) >= 10_000:
        problems.append("unit_price not a two-decimal amount below 10000")
    if row["status"] not in STATUSES:
        problems.append("unknown status")
    if row["marketing_opt_in"] not in OPT_IN_VALUES:
        problems.append("marketing_opt_in not true/false")
    return problems


def _daily_rate(orders: list[dict[str, str]], months: set[int]) -> float:
    """Average orders per calendar day over the given months of every year in range."""
    count = sum(1 for row in orders if _local(row).month in months)
    days = sum(
        1
        for ordinal in range(RANGE_FIRST.toordinal(), RANGE_LAST.toordinal() + 1)
        if date.fromordinal(ordinal).month in months
    )
    return count / days


def _normalised(email: str) -> str:
    """Email as the warehouse stores it: trimmed and lower-cased."""
    return email.strip().lower()


def test_columns_constant_matches_contract() -> None:
    assert COLUMNS == tuple(HEADER.split(","))
    assert DEFAULT_SEED == 42


def test_header_encoding_and_line_endings(sample_file: Path) -> None:
    raw = sample_file.read_bytes()
    assert not raw.startswith(UTF8_BOM)
    text = raw.decode("utf-8")
    assert text.split("\n", 1)[0] == HEADER
    assert b"\r\n" not in raw
    assert text.endswith("\n")


def test_row_count(sample_file: Path, orders: list[dict[str, str]]) -> None:
    assert len(orders) == ROWS
    with sample_file.open(encoding="utf-8", newline="") as handle:
        assert all(len(record) == len(COLUMNS) for record in csv.reader(handle))


def test_return_value_is_rows_written(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    assert write_sample(path, 123, seed=5) == 123
    with path.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 123


def test_same_seed_gives_identical_bytes(tmp_path: Path, sample_file: Path) -> None:
    again = tmp_path / "again.csv"
    write_sample(again, ROWS)
    assert again.read_bytes() == sample_file.read_bytes()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_sample(first, 3_000, seed=7)
    write_sample(second, 3_000, seed=7)
    assert first.read_bytes() == second.read_bytes()


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_sample(first, 3_000, seed=1)
    write_sample(second, 3_000, seed=2)
    assert first.read_bytes() != second.read_bytes()


def test_zero_rows_writes_only_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    assert write_sample(path, 0) == 0
    assert path.read_bytes() == (HEADER + "\n").encode("utf-8")
    assert list(generate_orders(0)) == []


def test_negative_rows_rejected(tmp_path: Path) -> None:
    path = tmp_path / "negative.csv"
    with pytest.raises(ValueError):
        write_sample(path, -1)
    with pytest.raises(ValueError):
        generate_orders(-5)
    assert not path.exists()


def test_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "orders.csv"
    assert write_sample(str(path), 10) == 10
    assert path.is_file()


def test_generate_orders_matches_written_file(sample_file: Path) -> None:
    generated = list(generate_orders(ROWS))
    assert all(len(row) == len(COLUMNS) and all(isinstance(v, str) for v in row) for row in generated)
    with sample_file.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        assert list(reader) == generated


def test_every_row_follows_contract(orders: list[dict[str, str]]) -> None:
    broken = [(row["order_id"], problem) for row in orders for problem in _row_problems(row)]
    assert broken == []


def test_order_ids_unique_and_non_empty(orders: list[dict[str, str]]) -> None:
    ids = [row["order_id"] for row in orders]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_timestamps_in_range_with_real_amsterdam_offsets(orders: list[dict[str, str]]) -> None:
    offsets = Counter()
    for row in orders:
        instant = _instant(row)
        assert RANGE_FIRST <= instant.astimezone(AMSTERDAM).date() <= RANGE_LAST
        if row["ordered_at"].endswith("Z"):
            offsets["Z"] += 1
            continue
        assert instant.utcoffset() == instant.astimezone(AMSTERDAM).utcoffset(), row["ordered_at"]
        offsets[row["ordered_at"][-6:]] += 1
    assert offsets["+01:00"] > 0 and offsets["+02:00"] > 0
    assert 0 < offsets["Z"] < len(orders) / 2


def test_every_month_in_range_has_orders(orders: list[dict[str, str]]) -> None:
    months = {(_local(row).year, _local(row).month) for row in orders}
    expected = {(year, month) for year in range(2022, 2026) for month in range(1, 13)}
    assert months == expected


def test_february_and_december_busier_than_summer(orders: list[dict[str, str]]) -> None:
    summer = _daily_rate(orders, {6, 7})
    assert _daily_rate(orders, {2}) > 1.5 * summer
    assert _daily_rate(orders, {12}) > 1.5 * summer


def test_seasonal_product_mix(orders: list[dict[str, str]]) -> None:
    def share(rows: list[dict[str, str]], categories: set[str]) -> float:
        return sum(row["product_category"] in categories for row in rows) / len(rows)

    valentine = [r for r in orders if _local(r).month == 2 and _local(r).day <= 14]
    december = [r for r in orders if _local(r).month == 12]
    summer = [r for r in orders if _local(r).month in (6, 7)]
    gifts = {"flowers", "chocolate", "jewellery"}
    assert share(valentine, gifts) > share(summer, gifts)
    assert share(december, {"toys", "electronics"}) > share(summer, {"toys", "electronics"})


def test_accented_names_exist(orders: list[dict[str, str]]) -> None:
    names = {row["first_name"] for row in orders} | {row["last_name"] for row in orders}
    accented = {name for name in names if not name.isascii()}
    assert len(accented) >= 5
    assert any(" " in name for name in names)


def test_names_consistent_per_customer(orders: list[dict[str, str]]) -> None:
    names = defaultdict(set)
    for row in orders:
        names[row["customer_id"]].add((row["first_name"], row["last_name"]))
    assert all(len(pairs) == 1 for pairs in names.values())


def test_repeat_customers_with_heavy_tail(orders: list[dict[str, str]]) -> None:
    per_customer = Counter(row["customer_id"] for row in orders)
    once = sum(1 for n in per_customer.values() if n == 1)
    assert once >= 0.3 * len(per_customer)
    assert sum(1 for n in per_customer.values() if n > 1) >= 0.1 * len(per_customer)
    assert max(per_customer.values()) >= 10
    years = defaultdict(set)
    for row in orders:
        years[row["customer_id"]].add(_local(row).year)
    assert any(len(seen) >= 3 for seen in years.values())


def test_some_customers_change_email(orders: list[dict[str, str]]) -> None:
    emails = defaultdict(set)
    for row in orders:
        if row["email"].strip():
            emails[row["customer_id"]].add(_normalised(row["email"]))
    changed = sum(1 for seen in emails.values() if len(seen) > 1)
    assert changed > 0
    assert changed < 0.3 * len(emails)


def test_email_quirks_are_present_but_rare(orders: list[dict[str, str]]) -> None:
    empty = sum(1 for row in orders if not row["email"])
    untidy = sum(1 for row in orders if row["email"] and row["email"] != _normalised(row["email"]))
    assert 0 < empty < 0.1 * len(orders)
    assert 0 < untidy < 0.1 * len(orders)
    assert any(row["email"] != row["email"].strip() for row in orders)


def test_status_mix(orders: list[dict[str, str]]) -> None:
    shares = {status: n / len(orders) for status, n in Counter(r["status"] for r in orders).items()}
    assert 0.85 <= shares["completed"] <= 0.95
    assert 0.03 <= shares["cancelled"] <= 0.09
    assert 0.02 <= shares["refunded"] <= 0.07


def test_opt_in_mix_mostly_stable_per_customer(orders: list[dict[str, str]]) -> None:
    true_share = sum(row["marketing_opt_in"] == "true" for row in orders) / len(orders)
    assert 0.5 <= true_share <= 0.7
    seen = defaultdict(set)
    for row in orders:
        seen[row["customer_id"]].add(row["marketing_opt_in"])
    assert sum(1 for values in seen.values() if len(values) > 1) < 0.15 * len(seen)


def test_country_mix(orders: list[dict[str, str]]) -> None:
    countries = Counter(row["country"] for row in orders)
    assert set(countries) - {""} <= KNOWN_COUNTRIES
    assert countries["NL"] + countries["BE"] + countries["DE"] >= 0.8 * len(orders)
    assert countries[""] < 0.05 * len(orders)


def test_quantities_mostly_small(orders: list[dict[str, str]]) -> None:
    small = sum(1 for row in orders if 1 <= int(row["quantity"]) <= 3)
    assert small >= 0.9 * len(orders)
