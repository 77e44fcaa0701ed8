"""Staged COPY files: what Spark writes, PostgreSQL reads back exactly (real Spark, real COPY).

The expected values are written by hand; the validated frame is built directly so every awkward value
(spaces, quotes, line breaks, empty vs missing text, microseconds, NUL in a rejected record) is covered.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from decimal import Decimal

from elt import db, load
from elt.stage import ACCEPTED, REJECTED, read_rejected, write_staged
from tests.conftest import query

UTC = timezone.utc
RAW_DDL = """
create table orders (order_id text, ordered_at timestamptz, customer_id text, email text, first_name text,
  last_name text, country text, product_category text, quantity integer, unit_price numeric(12, 2), status text,
  marketing_opt_in boolean, source_file text);
create table orders_rejected (order_id text, raw_record text, reject_reason text, source_file text);
"""
COLUMNS = ("order_id ordered_at customer_id email first_name last_name country product_category quantity "
           "unit_price status marketing_opt_in source_file").split()
VALIDATED_SCHEMA = (
    "order_id string, ordered_at timestamp, customer_id string, email string, first_name string, last_name string, "
    "country string, product_category string, quantity int, unit_price decimal(12,2), status string, "
    "marketing_opt_in boolean, raw_record string, source_file string, reject_reason string, is_duplicate boolean"
)


def _validated(spark):
    at = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    rows = [
        ("o1", at, "c1", " Ann@Example.com ", 'Ann "Jo"', "line one\nline two", "NL", "", 1, Decimal("12.50"),
         "completed", True, "o1,...", "file:/in/a.csv", None, False),
        ("o2", at, "c2", None, "Zoë, the 2nd", "O'Brien", "BE", "wine", 99, Decimal("0.00"), "refunded", False,
         "o2,...", "file:/in/a.csv", None, False),
        ("o2", at, "c2", None, "Zoë, the 2nd", "O'Brien", "BE", "wine", 99, Decimal("0.00"), "refunded", False,
         "o2,...", "file:/in/b.csv", None, True),  # an exact copy: counted, not written
        ("o3", None, None, None, None, None, None, None, None, None, None, None,
         'o3,"bad\u0000",x', "file:/in/a.csv", "record contains a NUL character", False),
        (None, None, None, None, None, None, None, None, None, None, None, None,
         'x,"unclosed', "file:/in/a.csv", "malformed record", False),
    ]
    return spark.createDataFrame(rows, VALIDATED_SCHEMA)


def test_staged_files_load_back_exactly(spark, database_url, tmp_path):
    staged = write_staged(_validated(spark), tmp_path / "run_7")
    assert (staged.read, staged.rejected, staged.duplicates) == (5, 2, 1)

    with db.connection(database_url) as conn, conn.cursor() as cur:
        cur.execute(RAW_DDL)
        conn.commit()
    assert load.copy_files(database_url, "orders", COLUMNS, staged.files(ACCEPTED)) == 2
    rejects = ["order_id", "raw_record", "reject_reason", "source_file"]
    assert load.copy_files(database_url, "orders_rejected", rejects, staged.files(REJECTED)) == 2

    at = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    assert query(database_url, "select * from orders order by order_id") == [
        ("o1", at, "c1", " Ann@Example.com ", 'Ann "Jo"', "line one\nline two", "NL", "", 1, Decimal("12.50"),
         "completed", True, "file:/in/a.csv"),
        ("o2", at, "c2", None, "Zoë, the 2nd", "O'Brien", "BE", "wine", 99, Decimal("0.00"), "refunded", False,
         "file:/in/a.csv"),
    ]
    assert query(database_url, "select * from orders_rejected order by order_id nulls last") == [
        ("o3", 'o3,"bad\u2400",x', "record contains a NUL character", "file:/in/a.csv"),
        (None, 'x,"unclosed', "malformed record", "file:/in/a.csv"),
    ]
    reasons = sorted(row["reject_reason"] for row in read_rejected(spark, staged).collect())
    assert reasons == ["malformed record", "record contains a NUL character"]


def test_each_connection_loads_a_child_table_whose_rows_are_frozen(spark, database_url, tmp_path):
    lines = [(f"o{n}", None, None, None, None, None, None, None, 1, Decimal("1.00"), "completed", True,
              f"o{n},...", "file:/in/a.csv", None, False) for n in range(1000)]
    staged = write_staged(spark.createDataFrame(lines, VALIDATED_SCHEMA).repartition(4), tmp_path / "run_8")
    files = staged.files(ACCEPTED)
    assert len(files) == 4
    with db.connection(database_url) as conn, conn.cursor() as cur:
        cur.execute(RAW_DDL)
        cur.execute("create extension pg_visibility")
        conn.commit()

    assert load.copy_files(database_url, "orders", COLUMNS, files) == 1000
    again = len(files[0].read_text().splitlines())  # one line per row: no field here holds a line break
    assert load.copy_files(database_url, "orders", COLUMNS, files[:1]) == again

    # One child per connection (one per core, up to four), then the second call's, numbered on; the parent holds
    # no rows itself.
    connections = min(4, os.cpu_count() or 1)
    children = query(database_url, "select inhrelid::regclass::text from pg_inherits order by inhrelid")
    assert children == [(f"orders_part_{n}",) for n in range(1, connections + 2)]
    assert query(database_url, "select count(*) from only orders") == [(0,)]
    assert query(database_url, "select count(*), count(distinct order_id) from orders") == [(1000 + again, 1000)]
    # Frozen when written: the first reader has no hint bits to set, so no page is written (or logged) again.
    frozen = query(database_url, "select bool_and(all_frozen), count(*) from pg_inherits, pg_visibility_map(inhrelid)")
    assert frozen[0][0] is True and frozen[0][1] >= len(children)


def test_nothing_to_copy_loads_nothing(database_url):
    assert load.copy_files(database_url, "no_such_table", ["a"], []) == 0
