"""Atomic publishing, failed runs, the run lock and killed runs, against a real PostgreSQL."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard import data
from elt import build, db, pipeline
from elt.config import PROJECT_ROOT
from elt.errors import DataTestFailed, InputError, RunInProgress, TooManyRejects
from elt.lock import RUN_LOCK_KEY
from elt.sample import write_sample
from tests.conftest import FIXTURES, query
from tests.harness import dashboard_numbers, dashboard_on, fault, run_lock_holders, wait_for

SMALL = str(FIXTURES / "orders_small.csv")
MART_TOTALS = "select count(*), coalesce(sum(revenue), 0) from mrt.customers_february"
QUIET = {"report": lambda line: None}


@pytest.fixture
def published(settings, spark, database_url):
    """A database with the fixture published; returns the February mart totals it shows."""
    pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    return query(database_url, MART_TOTALS)


def _build_with(monkeypatch, section: str, path: Path) -> None:
    """Runs build with one more file at the end of a section of the build order."""
    sections = build.build_order()
    sections[section].append(path)
    monkeypatch.setattr(build, "build_order", lambda: sections)


def _runs(url: str) -> list[tuple]:
    return query(url, "select status, error_message from meta.elt_runs order by run_id")


def test_bad_header_fails_and_keeps_published_data(published, settings, spark, database_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,ordered_at,customer,email\nA1,2024-02-01T10:00:00Z,C1,a@b.c\n")
    with pytest.raises(InputError, match="missing customer_id, .*unexpected 'customer'"):
        pipeline.run(settings, str(bad), spark=spark, **QUIET)
    assert query(database_url, MART_TOTALS) == published
    assert _runs(database_url)[-1][0] == "failed"
    assert "header does not match" in _runs(database_url)[-1][1]


def test_too_many_rejects_fails_and_keeps_published_data(published, settings, spark, database_url):
    # 3 of 16 fixture rows are rejected: 18.75 % is over the default limit of 5 %.
    with pytest.raises(TooManyRejects, match=r"3 of 16 rows rejected \(18\.8%\), more than the allowed 5\.0%"):
        pipeline.run(settings, SMALL, spark=spark, **QUIET)
    assert query(database_url, MART_TOTALS) == published


def test_failing_data_test_fails_and_keeps_published_data(published, settings, spark, database_url, tmp_path, monkeypatch):
    broken = tmp_path / "always_fails.sql"
    broken.write_text("select 'C1' as customer_id, 'injected failure' as problem")
    _build_with(monkeypatch, "tests", broken)
    with pytest.raises(DataTestFailed, match="always_fails failed.*customer_id=C1, problem=injected failure"):
        pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    assert query(database_url, MART_TOTALS) == published
    schemas = {row[0] for row in query(database_url, "select nspname from pg_namespace")}
    assert {"raw", "dwh", "mrt"} <= schemas
    assert not [name for name in schemas if re.match(build.RETIRED_PATTERN, name)]


def test_model_whose_key_finds_duplicates_fails_naming_the_key(published, settings, spark, database_url, tmp_path, monkeypatch):
    broken = tmp_path / "mrt" / "two_of_a_kind.sql"
    broken.parent.mkdir()
    broken.write_text(
        "create table mrt.two_of_a_kind as select 'C7' as customer_id from generate_series(1, 2);\n"
        "alter table mrt.two_of_a_kind add primary key (customer_id);\n"
    )
    _build_with(monkeypatch, "mrt", broken)
    with pytest.raises(
        DataTestFailed,
        match=r"^model mrt\.two_of_a_kind has duplicate keys, nothing was published: .*Key \(customer_id\)=\(C7\) is duplicated",
    ):
        pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    assert query(database_url, MART_TOTALS) == published


def test_second_run_is_refused_while_one_holds_the_lock(settings, spark, database_url):
    holder = db.connect(database_url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        with pytest.raises(RunInProgress, match=r"another ELT run is in progress since \d{4}-\d{2}-\d{2} "):
            pipeline.run(settings, SMALL, spark=spark, **QUIET)
    finally:
        holder.close()


# One statement, so one snapshot: the published run, and totals that reconcile across raw, dwh and mrt.
RECONCILE = """
select
    (select run_id from mrt.publication) as run_id,
    (select order_count from mrt.publication) as published_orders,
    (select count(*) from dwh.orders) as dwh_orders,
    (select count(*) from raw.orders) as raw_orders,
    (select coalesce(sum(revenue), 0) from mrt.customers_february) as february_revenue,
    (select coalesce(sum(amount), 0) from dwh.orders where is_purchase and order_month_of_year = 2) as dwh_february_revenue,
    (select coalesce(sum(order_count), 0) from mrt.orders_by_month) as month_purchases,
    (select count(*) from dwh.orders where is_purchase) as dwh_purchases
"""


def _dashboard_read() -> tuple[dict, tuple]:
    """One reconciliation read, then what the dashboard's own queries show of that run, as a page view reads them.

    If a run is published between the two, the dashboard says so (Republished; in the app the page view starts
    again) rather than return numbers of the new run for the old one: then the view is read again.
    """
    while True:
        reconciliation = data._fetch(RECONCILE).iloc[0].to_dict()
        try:
            numbers = dashboard_numbers(int(reconciliation["run_id"]))
        except data.Republished:
            continue
        return reconciliation, tuple(sorted(numbers.items()))


def _reconciles(read: dict) -> bool:
    return (
        read["published_orders"] == read["dwh_orders"] == read["raw_orders"]
        and read["february_revenue"] == read["dwh_february_revenue"]
        and read["month_purchases"] == read["dwh_purchases"]
    )


@pytest.mark.reliability(
    "Concurrency", "dashboard queries issued continuously during a run (the dashboard's own queries plus a "
    "reconciliation query in every read)",
    "every query succeeds; each sees the old or the new data, never a mix: marts reconcile with dwh and raw in "
    "every read",
)
def test_readers_see_old_or_new_data_never_a_mix(published, settings, spark, database_url, tmp_path):
    bigger = tmp_path / "bigger.csv"
    write_sample(bigger, 3000, seed=7)
    reads: list[tuple[dict, tuple]] = []
    errors: list[Exception] = []
    done = threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            try:
                reads.append(_dashboard_read())
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    with dashboard_on(database_url):
        before = _dashboard_read()
        reader = threading.Thread(target=read_continuously)
        reader.start()
        try:
            pipeline.run(settings, str(bigger), spark=spark, **QUIET)
        finally:
            done.set()
            reader.join()
        after = _dashboard_read()
    assert errors == []
    assert before[0]["run_id"] == 1 and after[0]["run_id"] == 2 and before[1] != after[1]
    assert len(reads) > 10
    shown = {1: before[1], 2: after[1]}
    mixed = [read for read, numbers in reads if not _reconciles(read) or shown.get(read["run_id"]) != numbers]
    assert mixed == [], f"{len(mixed)} of {len(reads)} reads saw a mix of old and new data, e.g. {mixed[0]}"
    assert before[1] in {numbers for _, numbers in reads}


@pytest.mark.parametrize("stage", [
    pytest.param("extract", marks=pytest.mark.reliability(
        "Faults", "ELT killed (SIGKILL) during extract",
        "nothing in the database changes, the lock is gone; the next run records the killed one as failed "
        "`interrupted during extract: …` and succeeds",
    )),
    pytest.param("load", marks=pytest.mark.reliability(
        "Faults", "ELT killed (SIGKILL) during load",
        "the published data is untouched (the load fills a staging schema), the lock is gone; the next run records "
        "the killed one as failed `interrupted during load: …` and succeeds",
    )),
])
def test_killed_run_leaves_no_lock_and_next_run_succeeds(published, settings, spark, database_url, tmp_path, stage):
    big = tmp_path / "big.csv"
    write_sample(big, 200_000, seed=3)
    env = {**os.environ, "DATABASE_URL": database_url, "ELT_DATA_DIR": str(settings.data_dir)}
    child = subprocess.Popen(
        [sys.executable, "-m", "elt", "run", "--input", str(big)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    # load: the first loader's COPY (into raw_next.orders_part_1) waits at its first row: the kill lands mid-COPY
    held = contextlib.nullcontext()
    if stage == "load":
        held = fault(database_url, "copy", "wait", "raw_next.orders_part_1")
    try:
        with held as gate:
            wait_for(lambda: query(database_url, "select 1 from meta.elt_runs where status = 'running' and current_stage = %s", (stage,)))
            if gate is not None:
                wait_for(gate.waiting)
            os.killpg(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    wait_for(lambda: run_lock_holders(database_url) == 0)
    assert query(database_url, MART_TOTALS) == published

    pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    runs = _runs(database_url)
    interrupted = f"interrupted during {stage}: the process ended before the run finished (killed or crashed)"
    assert runs[-2] == ("failed", interrupted)
    assert runs[-1] == ("succeeded", None)
    assert query(database_url, MART_TOTALS) == published


def test_a_refused_input_leaves_no_staged_files(published, settings, spark):
    staging = settings.data_dir / "staging"
    before = set(staging.iterdir()) if staging.exists() else set()
    with pytest.raises(TooManyRejects):
        pipeline.run(settings, SMALL, spark=spark, **QUIET)  # 3 of 16 rejected: over the default 5 %
    assert set(staging.iterdir()) - before == set()


@contextlib.contextmanager
def _server_settings(admin_url: str, **settings: str):
    """Server-wide settings for the length of a block (ALTER SYSTEM, then reset), reloaded at once."""
    def apply(statements: list[str]) -> None:
        with db.connection(admin_url) as conn, conn.cursor() as cur:
            conn.autocommit = True
            for statement in statements:
                cur.execute(statement)
            cur.execute("select pg_reload_conf()")

    apply([f"alter system set {name} = '{value}'" for name, value in settings.items()])
    try:
        yield
    finally:
        apply([f"alter system reset {name}" for name in settings])


def test_dropping_a_retired_layer_does_not_wait_for_autovacuum(admin_url, database_url):
    """An autovacuum working on a retired table is cancelled at once, not after the server's deadlock_timeout.

    The server's deadlock_timeout is set longer than the drop's lock timeout, so a drop that waited for it would
    give up and keep the layer. The table's vacuum is slowed to a crawl, so autovacuum is still on it at the drop.
    """
    if not query(admin_url, "select current_setting('is_superuser')::boolean")[0][0]:
        pytest.skip("needs a superuser: ALTER SYSTEM, and cancelling autovacuum through deadlock_timeout")
    with _server_settings(admin_url, autovacuum_naptime="1s", deadlock_timeout="5s"):
        with db.connection(database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "create schema mrt_retired_7;"
                " create table mrt_retired_7.customers_february"
                " with (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1)"
                " as select n as customer_id from generate_series(1, 50000) as n"
            )
            conn.commit()
        vacuuming = (
            "select count(*) from pg_stat_activity where backend_type = 'autovacuum worker'"
            " and datname = current_database() and query like '%mrt_retired_7.customers_february%'"
        )
        wait_for(lambda: query(database_url, vacuuming)[0][0] == 1, timeout=60, what="autovacuum on the retired table")
        with db.connection(database_url) as conn:
            assert build.drop_retired(conn) == ["mrt_retired_7"]
        assert query(database_url, "select count(*) from pg_namespace where nspname = 'mrt_retired_7'") == [(0,)]
