"""Atomic publishing, failed runs, the run lock and killed runs, against a real PostgreSQL."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from elt import build, db, pipeline
from elt.config import PROJECT_ROOT
from elt.errors import DataTestFailed, InputError, RunInProgress, TooManyRejects
from elt.lock import RUN_LOCK_KEY
from elt.sample import write_sample
from tests.conftest import FIXTURES, query

SMALL = str(FIXTURES / "orders_small.csv")
MART_TOTALS = "select count(*), coalesce(sum(revenue), 0) from mrt.customers_february"
QUIET = {"report": lambda line: None}


@pytest.fixture
def published(settings, spark, database_url):
    """A database with the fixture published; returns the February mart totals it shows."""
    pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    return query(database_url, MART_TOTALS)


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
    sections = build.build_order()
    sections["tests"].append(broken)
    monkeypatch.setattr(build, "build_order", lambda: sections)
    with pytest.raises(DataTestFailed, match="always_fails failed.*customer_id=C1, problem=injected failure"):
        pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    assert query(database_url, MART_TOTALS) == published
    schemas = {row[0] for row in query(database_url, "select nspname from pg_namespace")}
    assert {"raw", "dwh", "mrt"} <= schemas
    assert not [name for name in schemas if re.match(build.RETIRED_PATTERN, name)]


def test_second_run_is_refused_while_one_holds_the_lock(settings, spark, database_url):
    holder = db.connect(database_url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        with pytest.raises(RunInProgress, match=r"another ELT run is in progress since \d{4}-\d{2}-\d{2} "):
            pipeline.run(settings, SMALL, spark=spark, **QUIET)
    finally:
        holder.close()


def test_readers_see_old_or_new_data_never_a_mix(published, settings, spark, database_url, tmp_path):
    bigger = tmp_path / "bigger.csv"
    write_sample(bigger, 3000, seed=7)
    seen: set[tuple] = set()
    errors: list[Exception] = []
    done = threading.Event()

    def read_continuously() -> None:
        with db.connection(database_url, autocommit=True) as conn, conn.cursor() as cur:
            while not done.is_set():
                try:
                    cur.execute(MART_TOTALS)
                    seen.add(cur.fetchone())
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        pipeline.run(settings, str(bigger), spark=spark, **QUIET)
    finally:
        done.set()
        reader.join()
    after = query(database_url, MART_TOTALS)[0]
    assert errors == []
    assert seen <= {published[0], after}
    assert published[0] in seen and after != published[0]


def _wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def _run_lock_holders(url: str) -> int:
    key = "((classid::bigint << 32) | objid::bigint)"
    return query(url, f"select count(*) from pg_locks where locktype = 'advisory' and {key} = %s", (RUN_LOCK_KEY,))[0][0]


COPY_GATE_KEY = 424242
COPY_GATE = f"""
create function public.copy_gate() returns trigger language plpgsql as $$
begin perform pg_advisory_lock({COPY_GATE_KEY}); return null; end $$;
create function public.add_copy_gate() returns event_trigger language plpgsql as $$
begin
  if exists (select 1 from pg_event_trigger_ddl_commands() where object_identity = 'raw_next.orders') then
    create trigger copy_gate before insert on raw_next.orders for each statement execute function public.copy_gate();
  end if;
end $$;
create event trigger copy_gate on ddl_command_end when tag in ('CREATE TABLE') execute function public.add_copy_gate();
"""


@contextlib.contextmanager
def _copy_blocked(url: str):
    """While inside: any COPY into raw_next.orders waits at its first row for an advisory lock the test holds.

    Yields a predicate: whether a COPY is waiting there. The gate is removed on exit.
    """
    holder = db.connect(url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute(COPY_GATE)
            cur.execute("select pg_advisory_lock(%s)", (COPY_GATE_KEY,))
        waiting = (
            "select 1 from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory' "
            "and not l.granted and l.objid = %s and a.query ilike 'copy raw_next.orders%%'"
        )
        yield lambda: query(url, waiting, (COPY_GATE_KEY,))
    finally:
        with holder.cursor() as cur:
            cur.execute("drop event trigger copy_gate; drop function add_copy_gate(); drop function copy_gate() cascade")
        holder.close()


@pytest.mark.parametrize("stage", ["extract", "load"])
def test_killed_run_leaves_no_lock_and_next_run_succeeds(published, settings, spark, database_url, tmp_path, stage):
    big = tmp_path / "big.csv"
    write_sample(big, 200_000, seed=3)
    env = {**os.environ, "DATABASE_URL": database_url, "ELT_DATA_DIR": str(settings.data_dir)}
    child = subprocess.Popen(
        [sys.executable, "-m", "elt", "run", "--input", str(big)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    held = _copy_blocked(database_url) if stage == "load" else contextlib.nullcontext(lambda: True)
    try:
        with held as copy_is_waiting:
            _wait_for(lambda: query(database_url, "select 1 from meta.elt_runs where status = 'running' and current_stage = %s", (stage,)))
            _wait_for(copy_is_waiting)  # load: the COPY into raw_next.orders has started and is stuck mid-statement
            os.killpg(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    _wait_for(lambda: _run_lock_holders(database_url) == 0)
    assert query(database_url, MART_TOTALS) == published

    pipeline.run(replace(settings, max_reject_share=0.5), SMALL, spark=spark, **QUIET)
    runs = _runs(database_url)
    assert runs[-2][0] == "failed" and runs[-2][1].startswith("interrupted")
    assert runs[-1] == ("succeeded", None)
    assert query(database_url, MART_TOTALS) == published
