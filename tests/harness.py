"""What the fault and concurrency tests share: the ELT as a separate process, faults injected into its database
with database objects only (no change to the code under test), and what the dashboard shows of the data.

A fault is placed at a point of a run (the COPY of the load, the CREATE TABLE of a model, the run log entering a
stage, the drop of the retired layers after the commit) and either waits on an advisory lock the test holds, so the
test catches the run exactly there, or raises the error PostgreSQL raises when its disk is full.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.audience import AudienceFilter
from elt import db
from elt.config import PROJECT_ROOT
from elt.lock import RUN_LOCK_KEY
from tests.conftest import FIXTURES, query

APP = str(PROJECT_ROOT / "streamlit_app.py")
APP_TIMEOUT = 60
APP_INPUT = str(FIXTURES / "orders_app.csv")
SMALL_INPUT = str(FIXTURES / "orders_small.csv")
# orders_small.csv has 3 rejects in 16 rows, over the default limit of 5 %.
SMALL_INPUT_ENV = {"ELT_MAX_REJECT_SHARE": "50%"}
# "fault" in ASCII: the advisory lock a waiting fault waits on while the test holds it.
GATE_KEY = 0x6661756C74
DISK_FULL = 'could not extend file "base/16384/24576": No space left on device'

# What the dashboard shows, worked out by hand (Amsterdam months; purchases are completed orders).
# orders_app.csv: 5 customers; purchases B1 10.00, B2 11.00, B3 1.25, B4 100.00 (Feb), B5 6.00 (Dec), B6 7.77 (Feb
# 2023); February: K1, K2 (2 orders), K3 (not opted in), K5; months Feb 2023 .. Feb 2025.
APP_VIEW = {
    "customers": 5, "purchases": 6, "revenue": Decimal("136.02"), "february": 4, "february_opted_in": 3,
    "december": 1, "december_opted_in": 1, "february_orders": 5, "february_revenue": Decimal("130.02"), "months": 25,
}
# orders_small.csv: 12 orders load (one exact duplicate dropped, A10 twice and A11 rejected); purchases A1 20.20,
# A2 0.10, A3 0.30 (C1, February), A4 99.99 (March in Amsterdam), A6 39.98, A7 5.00, A8 12.34, A12 1.00, A13 2.00
# (C5, February); December: C3 (A6, A8); months Dec 2023 .. Mar 2025.
SMALL_VIEW = {
    "customers": 5, "purchases": 9, "revenue": Decimal("180.91"), "february": 2, "february_opted_in": 2,
    "december": 1, "december_opted_in": 1, "february_orders": 5, "february_revenue": Decimal("23.60"), "months": 16,
}
PUBLISHED_SCHEMAS = {"meta", "public", "raw", "dwh", "mrt"}


def wait_for(predicate: Callable[[], object], timeout: float = 120.0, interval: float = 0.1, what: str = "condition"):
    """Poll until `predicate` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


def run_lock_holders(url: str) -> int:
    """Sessions holding the run lock in this database."""
    return query(
        url,
        "select count(*) from pg_locks where locktype = 'advisory' and granted "
        "and database = (select oid from pg_database where datname = current_database()) "
        "and ((classid::bigint << 32) | objid::bigint) = %s",
        (RUN_LOCK_KEY,),
    )[0][0]


def elt_sessions(url: str) -> list[str]:
    """application_name of the ELT's sessions (run lock, build, load) still open in this database."""
    rows = query(
        url,
        "select application_name from pg_stat_activity where datname = current_database() "
        "and application_name like 'elt%%' and pid <> pg_backend_pid() order by 1",
    )
    return [row[0] for row in rows]


def schemas(url: str) -> set[str]:
    """The schemas of this database, without PostgreSQL's own."""
    rows = query(url, "select nspname from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'")
    return {row[0] for row in rows}


def runs(url: str) -> list[tuple]:
    """(status, current_stage, error_message) of every run, oldest first."""
    return query(url, "select status, current_stage, error_message from meta.elt_runs order by run_id")


def elt_env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an ELT process on this database (two Spark cores, like the tests' session)."""
    env = {name: value for name, value in os.environ.items() if name != "ELT_ADMIN_PASSWORD"}
    env.update(DATABASE_URL=url, ELT_DATA_DIR=str(data_dir), SPARK_MASTER="local[2]", SPARK_DRIVER_MEMORY="1g")
    env.update(extra)
    return env


def start_elt(env: dict[str, str], input_path: str, output: Path) -> subprocess.Popen:
    """`python -m elt run` in its own process group (so a kill takes Spark's JVM too), output to a file."""
    with output.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "elt", "run", "--input", input_path], cwd=PROJECT_ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )


def wait_at(gate: "Fault", child: subprocess.Popen, output: Path, timeout: float = 240.0) -> None:
    """Wait until the ELT process waits at the fault; fail with its output if it ends first."""
    wait_for(lambda: gate.waiting() or child.poll() is not None, timeout=timeout, what="the run reaching the fault")
    assert child.poll() is None, f"the run ended before it reached the fault:\n{output.read_text()}"


def kill(child: subprocess.Popen) -> None:
    """SIGKILL the ELT process and everything it started."""
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()


# --- Faults -------------------------------------------------------------------------------------------------------

_ACTIONS = {
    "wait": f"perform pg_advisory_xact_lock_shared({GATE_KEY});",
    "disk full": f"raise exception using errcode = 'disk_full', message = '{DISK_FULL.replace(chr(39), chr(39) * 2)}';",
    "sleep": "perform pg_sleep(60);",
}
_ON_MODEL = """
create function public.fault_on_ddl() returns event_trigger language plpgsql as $$
begin
    if exists (select 1 from pg_event_trigger_ddl_commands() where object_identity = '{target}') then
        perform public.fault_action();
    end if;
end $$;
create event trigger fault_on_ddl on ddl_command_end when tag in ('CREATE TABLE AS')
execute function public.fault_on_ddl();
"""
_ON_COPY = """
create function public.fault_on_ddl() returns event_trigger language plpgsql as $$
begin
    if exists (select 1 from pg_event_trigger_ddl_commands() where object_identity = '{target}') then
        execute 'create trigger fault_on_copy before insert on {target} '
             || 'for each statement execute function public.fault_trigger()';
    end if;
end $$;
create event trigger fault_on_ddl on ddl_command_end when tag in ('CREATE TABLE')
execute function public.fault_on_ddl();
"""
_ON_STAGE = """
create trigger fault_on_stage before update on meta.elt_runs for each row
when (new.current_stage = '{target}' and old.current_stage is distinct from new.current_stage)
execute function public.fault_trigger();
"""
_ON_DROP_RETIRED = """
create function public.fault_on_ddl() returns event_trigger language plpgsql as $$
begin
    if exists (select 1 from pg_event_trigger_dropped_objects()
               where object_type = 'schema' and object_name ~ '_retired_') then
        perform public.fault_action();
    end if;
end $$;
create event trigger fault_on_ddl on sql_drop execute function public.fault_on_ddl();
"""
_POINTS = {"model": _ON_MODEL, "copy": _ON_COPY, "stage": _ON_STAGE, "drop retired": _ON_DROP_RETIRED}


class Fault:
    """One injected fault: where a run meets it ("model", "copy", "stage", "drop retired") and what it does there."""

    def __init__(self, url: str, point: str, action: str, target: str = "") -> None:
        self.url = url
        self.holder = None
        if action == "wait":
            self.holder = db.connect(url, autocommit=True, application_name="test-gate")
            with self.holder.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", (GATE_KEY,))
        with db.connection(url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(
                f"create function public.fault_action() returns void language plpgsql as $$ begin {_ACTIONS[action]} end $$"
            )
            cur.execute(
                "create function public.fault_trigger() returns trigger language plpgsql as "
                "$$ begin perform public.fault_action(); return new; end $$"
            )
            cur.execute(_POINTS[point].format(target=target))

    def waiting(self) -> int:
        """How many sessions wait at the fault now."""
        return query(
            self.url,
            "select count(*) from pg_locks where locktype = 'advisory' and not granted "
            "and database = (select oid from pg_database where datname = current_database()) "
            "and ((classid::bigint << 32) | objid::bigint) = %s",
            (GATE_KEY,),
        )[0][0]

    def release(self) -> None:
        """Let whatever waits at the fault go on."""
        if self.holder is not None:
            self.holder.close()
            self.holder = None

    def remove(self) -> None:
        """Release and drop every object of the fault (the functions take their triggers with them)."""
        self.release()
        with db.connection(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("drop event trigger if exists fault_on_ddl")
            cur.execute(
                "drop function if exists public.fault_on_ddl(), public.fault_trigger(), public.fault_action() cascade"
            )


@contextmanager
def fault(url: str, point: str, action: str, target: str = "") -> Iterator[Fault]:
    """A fault for the block, removed afterwards whatever happens."""
    injected = Fault(url, point, action, target)
    try:
        yield injected
    finally:
        injected.remove()


# --- What the dashboard shows -------------------------------------------------------------------------------------

def app_test(
    url: str | None, monkeypatch, page: str | None = None, query: dict | None = None, script: str = APP,
    fresh: bool = True, **env: str,
) -> AppTest:
    """The app on `url` (None: no DATABASE_URL, the embedded server of ELT_DATA_DIR), optionally on a page and with a
    URL query. `fresh`: as a newly started server (caches and server-wide records cleared: they are per process);
    otherwise another session of the same server."""
    if url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if fresh:
        st.cache_data.clear()
        st.cache_resource.clear()
    at = AppTest.from_file(script, default_timeout=APP_TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@contextmanager
def dashboard_on(url: str) -> Iterator[None]:
    """The dashboard's data module pointed at `url` for the block (its engine is per process)."""
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    st.cache_resource.clear()
    try:
        yield
    finally:
        data.engine().dispose()
        st.cache_resource.clear()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


def dashboard_numbers(version: int) -> dict:
    """The published numbers through the dashboard's own queries, their caches bypassed."""
    headline = data.headline.__wrapped__(version)
    everyone = AudienceFilter(opted_in_only=False)
    february = data.audience_summary.__wrapped__(version, "february", everyone)
    months = data.orders_by_month.__wrapped__(version)
    numbers = {name: _plain(value) for name, value in headline.items()}
    numbers.update(
        february_orders=_plain(february["orders"]), february_revenue=_plain(february["revenue"]), months=len(months)
    )
    return numbers


def dashboard_view(url: str) -> dict | None:
    """What a page view of the dashboard shows (None: nothing published)."""
    with dashboard_on(url):
        publication = data.publication()
        return None if publication is None else dashboard_numbers(publication.run_id)


def _plain(value) -> int | Decimal:
    """numpy and Decimal values as int or Decimal, to compare with hand-written numbers."""
    return value if isinstance(value, Decimal) else int(value)


@contextmanager
def command_line_run_in_progress(url: str, seconds_ago: int = 0) -> Iterator[tuple[object, int]]:
    """A run from the command line as the dashboard sees one, in its extract stage: the run lock held and the run's
    row in the run log, started `seconds_ago`. Yields the lock's connection (autocommit) and the run id; on leaving,
    the connection closes and the lock goes with it, as when the run's process ends."""
    holder = db.connect(url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
            cur.execute(
                "insert into meta.elt_runs (input_path, triggered_by, started_at, current_stage) values "
                "('/exports/orders.csv', 'cli', now() - make_interval(secs => %s), 'extract') returning run_id",
                (seconds_ago,),
            )
            run_id = cur.fetchone()[0]
        yield holder, run_id
    finally:
        holder.close()
