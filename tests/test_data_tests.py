"""Each data test in sql/tests against small tables written by hand: consistent tables pass all six, and each
broken rule fails its own test, naming the offending values. Runs the tests as the build does
(`build.run_data_tests`) in a fresh database of the real PostgreSQL; every table is rolled back afterwards."""
from __future__ import annotations

import re

import pytest

from elt import build, db
from elt.config import PROJECT_ROOT
from elt.errors import DataTestFailed

TESTS_DIR = PROJECT_ROOT / "sql" / "tests"
DATA_TESTS = (
    "dwh_orders_required_fields",
    "dwh_orders_reconcile_with_load",
    "dwh_customers_reconcile_with_orders",
    "mrt_customers_seasonal_reconcile_with_dwh",
    "mrt_orders_by_month_reconcile_with_dwh",
    "mrt_orders_by_month_has_no_gaps",
)
# Three orders of two customers, and the dwh and mrt rows they make, worked out by hand: C1 bought in February 2024
# (2 x 10.00) and cancelled an order in March; C2 bought in December 2024 (1 x 30.00).
CONSISTENT_TABLES = """
create schema dwh;
create schema mrt;
create table dwh.orders (
    order_id text, ordered_at timestamptz, customer_id text, quantity integer, unit_price numeric(12, 2),
    amount numeric(14, 2), status text, is_purchase boolean, marketing_opt_in boolean, order_month date,
    order_month_of_year integer
);
insert into dwh.orders values
    ('O1', '2024-02-14 10:00Z', 'C1', 2, 10.00, 20.00, 'completed', true, true, '2024-02-01', 2),
    ('O2', '2024-03-01 10:00Z', 'C1', 1, 5.00, 5.00, 'cancelled', false, true, '2024-03-01', 3),
    ('O3', '2024-12-20 10:00Z', 'C2', 1, 30.00, 30.00, 'completed', true, false, '2024-12-01', 12);
create table dwh.customers (customer_id text, order_count integer, revenue numeric(16, 2));
insert into dwh.customers values ('C1', 2, 20.00), ('C2', 1, 30.00);
create table mrt.customers_february (customer_id text, order_count integer, revenue numeric(16, 2));
insert into mrt.customers_february values ('C1', 1, 20.00);
create table mrt.customers_december (customer_id text, order_count integer, revenue numeric(16, 2));
insert into mrt.customers_december values ('C2', 1, 30.00);
create table mrt.orders_by_month (month date, order_count integer, revenue numeric(16, 2));
insert into mrt.orders_by_month values
    ('2024-02-01', 1, 20.00), ('2024-03-01', 0, 0), ('2024-04-01', 0, 0), ('2024-05-01', 0, 0),
    ('2024-06-01', 0, 0), ('2024-07-01', 0, 0), ('2024-08-01', 0, 0), ('2024-09-01', 0, 0),
    ('2024-10-01', 0, 0), ('2024-11-01', 0, 0), ('2024-12-01', 1, 30.00);
"""
ORDERS_LOADED = 3


def run_tests(database_url: str, names: tuple[str, ...], breakage: str = "", orders_loaded: int = ORDERS_LOADED) -> int:
    """Build the consistent tables, apply a breakage, run the named data tests as the build does; roll back."""
    with db.connection(database_url) as conn, conn.cursor() as cur:
        try:
            cur.execute(CONSISTENT_TABLES + breakage)
            cur.execute("select set_config('elt.orders_loaded', %s, true)", (str(orders_loaded),))
            return build.run_data_tests(cur, [TESTS_DIR / f"{name}.sql" for name in names])
        finally:
            conn.rollback()


def test_the_build_runs_exactly_these_data_tests():
    # Which tests, not their order: a new data test needs its cases here, a reordered build order does not.
    assert sorted(path.stem for path in build.build_order()["tests"]) == sorted(DATA_TESTS)
    assert sorted(path.stem for path in TESTS_DIR.glob("*.sql")) == sorted(DATA_TESTS)


def test_consistent_tables_pass_every_data_test(database_url):
    assert run_tests(database_url, DATA_TESTS) == 6


@pytest.mark.parametrize(
    "breakage",
    [
        "update dwh.orders set quantity = 0 where order_id = 'O2'",
        "update dwh.orders set quantity = null where order_id = 'O2'",
        "update dwh.orders set unit_price = -0.01 where order_id = 'O2'",
        "update dwh.orders set unit_price = null where order_id = 'O2'",
        "update dwh.orders set status = 'shipped' where order_id = 'O2'",
        "update dwh.orders set customer_id = null where order_id = 'O2'",
        "update dwh.orders set ordered_at = null where order_id = 'O2'",
        "update dwh.orders set marketing_opt_in = null where order_id = 'O2'",
        "update dwh.orders set order_month = null where order_id = 'O2'",
    ],
)
def test_an_order_missing_a_required_field_is_named(database_url, breakage):
    with pytest.raises(DataTestFailed, match=r"^data test dwh_orders_required_fields failed, nothing was published: order_id=O2$"):
        run_tests(database_url, ("dwh_orders_required_fields",), breakage)


def test_a_free_order_is_not_a_missing_field(database_url):
    assert run_tests(database_url, ("dwh_orders_required_fields",), "update dwh.orders set unit_price = 0") == 1


# Each broken rule: the data test that must catch it, the breakage, the orders the load reported, and the offending
# values the failure must name (worked out by hand from CONSISTENT_TABLES).
BROKEN_RULES = {
    "more orders than loaded": (
        "dwh_orders_reconcile_with_load", "", 4,
        "dwh_orders=3, orders_loaded=4",
    ),
    "customer revenue differs from the orders": (
        "dwh_customers_reconcile_with_orders", "update dwh.customers set revenue = 5.00 where customer_id = 'C2'", 3,
        "customers_order_count=3, orders_order_count=3, customers_revenue=25.00, orders_revenue=50.00",
    ),
    "customer order count differs from the orders": (
        "dwh_customers_reconcile_with_orders", "update dwh.customers set order_count = 1 where customer_id = 'C1'", 3,
        "customers_order_count=2, orders_order_count=3, customers_revenue=50.00, orders_revenue=50.00",
    ),
    "a customer missing from a seasonal mart": (
        "mrt_customers_seasonal_reconcile_with_dwh", "delete from mrt.customers_december", 3,
        "month_of_year=12, mart_customers=0, dwh_customers=1, mart_orders=None, dwh_orders=1, mart_revenue=None,"
        " dwh_revenue=30.00",
    ),
    "seasonal revenue differs from the orders": (
        "mrt_customers_seasonal_reconcile_with_dwh", "update mrt.customers_february set revenue = 21.00", 3,
        "month_of_year=2, mart_customers=1, dwh_customers=1, mart_orders=1, dwh_orders=1, mart_revenue=21.00,"
        " dwh_revenue=20.00",
    ),
    "monthly purchases differ from the orders": (
        "mrt_orders_by_month_reconcile_with_dwh",
        "update mrt.orders_by_month set order_count = 2 where month = '2024-02-01'", 3,
        "mart_orders=3, dwh_orders=2, mart_revenue=50.00, dwh_revenue=50.00",
    ),
    "a month missing from orders by month": (
        "mrt_orders_by_month_has_no_gaps", "delete from mrt.orders_by_month where month = '2024-05-01'", 3,
        "previous_month=2024-04-01, month=2024-06-01",
    ),
}


@pytest.mark.parametrize(("test", "breakage", "orders_loaded", "values"), BROKEN_RULES.values(), ids=BROKEN_RULES)
def test_a_broken_rule_fails_its_data_test_naming_the_values(database_url, test, breakage, orders_loaded, values):
    with pytest.raises(DataTestFailed) as failed:
        run_tests(database_url, (test,), breakage, orders_loaded)
    assert str(failed.value) == f"data test {test} failed, nothing was published: {values}"


def test_a_cancelled_order_in_a_seasonal_month_is_not_a_purchase(database_url):
    # A cancelled December order of C1 is no December purchase: the December mart rightly leaves C1 out.
    breakage = (
        "insert into dwh.orders values ('O4', '2024-12-02 10:00Z', 'C1', 1, 7.00, 7.00, 'cancelled', false, true,"
        " '2024-12-01', 12); update dwh.customers set order_count = 3 where customer_id = 'C1'"
    )
    assert run_tests(database_url, ("mrt_customers_seasonal_reconcile_with_dwh", "dwh_customers_reconcile_with_orders"), breakage, 4) == 2


def test_failing_rows_shown_are_capped_at_three_and_say_there_are_more(database_url):
    breakage = (  # all three orders and a fourth break the rule
        "update dwh.orders set quantity = 0;"
        " insert into dwh.orders (order_id, ordered_at, customer_id, quantity, unit_price, status, marketing_opt_in,"
        " order_month) values ('O9', '2024-02-15 10:00Z', 'C1', 0, 10.00, 'completed', true, '2024-02-01')"
    )
    with pytest.raises(DataTestFailed) as failed:
        run_tests(database_url, ("dwh_orders_required_fields",), breakage)
    assert re.fullmatch(r"data test dwh_orders_required_fields failed, nothing was published: (order_id=O\d; ){2}order_id=O\d and more", str(failed.value))
