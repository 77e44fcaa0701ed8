"""Build the dwh and mrt layers from the SQL files, test them, and publish all layers atomically.

The load fills schema `raw_next`. One transaction then renames the published `raw`, `dwh` and `mrt` aside,
renames `raw_next` to `raw`, builds `dwh` and `mrt` from the SQL files in `sql/build_order.txt`, runs the data
tests and commits. PostgreSQL DDL is transactional: until the commit every reader sees the previous layers,
after it the new ones, never a mix. Renaming a schema takes no lock on its tables, so readers are not blocked
while the build runs. The old layers are dropped after the commit; if a long reader still holds one, the next
run drops it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import psycopg2.errors
import psycopg2.extensions

from elt.config import PROJECT_ROOT
from elt.errors import ConfigError, DataTestFailed

logger = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
BUILD_ORDER = SQL_DIR / "build_order.txt"
PUBLISHED_LAYERS = ("raw", "dwh", "mrt")
STAGING_SCHEMA = "raw_next"
RETIRED_PATTERN = r"^(raw|dwh|mrt)_retired_\d+$"
LOCK_TIMEOUT = "10s"
DROP_LOCK_TIMEOUT = "2s"
# Dropping a retired layer waits for an autovacuum working on its tables, and PostgreSQL cancels an autovacuum that
# blocks a session only after deadlock_timeout (1 s by default): a publish soon after the previous one waited a
# second per table under vacuum (up to 4 s in the 1M-order bench). Vacuuming a table about to be dropped is wasted
# work, so the drop has it cancelled at once. Only a superuser may change the setting; others wait as before.
DROP_DEADLOCK_TIMEOUT = "10ms"
# Abort a build whose client has gone (e.g. a killed run) instead of finishing work nobody will commit.
CLIENT_CHECK_INTERVAL = "1s"
FAILING_ROWS_SHOWN = 3
MODEL_ROWS = """
    select
        class.relkind = 'v' as is_view,
        coalesce(stats.n_tup_ins - stats.n_tup_del, 0) as written,
        current_setting('track_counts')::boolean as counted
    from pg_class as class
    left join pg_stat_xact_user_tables as stats on stats.relid = class.oid
    where class.oid = %s::regclass
"""
MIN_SERVER_VERSION_NUM = 170000
# The build is one session doing large scans, sorts, hashes and index builds on a machine of its own: give it
# memory instead of spilling to disk, skip JIT compilation (measured: it costs more than it saves on these models),
# and let the planner use parallel workers for whole-table scans. Its default costs price every row handed from
# a worker to the leader so high that it never chose them here; with them, dwh + mrt took 9.0 s instead of 11.8 s
# at 1M orders on 2 cores.
BUILD_SETTINGS = {
    "work_mem": "256MB",
    "maintenance_work_mem": "512MB",
    "jit": "off",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
}


@dataclass(frozen=True)
class Model:
    """One SQL file and the table (or view) it builds."""

    path: Path
    table: str


def build_order(path: Path = BUILD_ORDER) -> dict[str, list[Path]]:
    """The SQL files of each section of the build order file, in order."""
    sections: dict[str, list[Path]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is None:
            raise ConfigError(f"{path}: '{line}' comes before any [section]")
        else:
            current.append(SQL_DIR / line)
    return sections


def model(path: Path) -> Model:
    """The model a file builds: sql/dwh/orders.sql builds dwh.orders."""
    return Model(path=path, table=f"{path.parent.name}.{path.stem}")


def built_tables(sections: dict[str, list[Path]]) -> list[str]:
    """Every table this version's build publishes in dwh and mrt (a database published by an older version may
    lack some of them)."""
    return [model(path).table for layer in ("dwh", "mrt") for path in sections.get(layer, [])]


def missing_tables(cur, sections: dict[str, list[Path]] | None = None) -> list[str]:
    """The tables of this version's build that the published layers lack."""
    tables = built_tables(sections or build_order())
    cur.execute("select name from unnest(%s::text[]) as name where to_regclass(name) is null", (tables,))
    return [row[0] for row in cur.fetchall()]


def prepare_staging(conn: psycopg2.extensions.connection, raw_files: list[Path], lineage: dict[str, object]) -> None:
    """Create an empty staging schema with the raw tables, removing what a killed run may have left.

    While the run loads, each table's lineage columns (e.g. run_id, loaded_at) default to this run's values, so
    the staged files need not repeat them on every line: at 1M orders COPY then reads 15 % fewer bytes and parses
    one timestamp per row instead of two (2.5-2.9 s instead of 3.8-4.2 s on one connection).
    `clear_lineage_defaults` removes the defaults once the rows are in.
    """
    with conn, conn.cursor() as cur:
        cur.execute(f"drop schema if exists {STAGING_SCHEMA} cascade")
        cur.execute(f"create schema {STAGING_SCHEMA}")
        cur.execute(f"set local search_path to {STAGING_SCHEMA}")
        set_defaults = ", ".join(f"alter column {column} set default %s" for column in lineage)
        for path in raw_files:
            cur.execute(path.read_text())
            cur.execute(f"alter table {path.stem} {set_defaults}", tuple(lineage.values()))


def clear_lineage_defaults(conn: psycopg2.extensions.connection, raw_files: list[Path], columns: Iterable[str]) -> None:
    """Drop the staged raw tables' lineage defaults: they held for this run's load only."""
    drop_defaults = ", ".join(f"alter column {column} drop default" for column in columns)
    with conn, conn.cursor() as cur:
        for path in raw_files:
            cur.execute(f"alter table {STAGING_SCHEMA}.{path.stem} {drop_defaults}")


def version_problem(server_version_num: int) -> str | None:
    """Why a server of this version cannot run the build (None when it can)."""
    if server_version_num >= MIN_SERVER_VERSION_NUM:
        return None
    return (
        f"PostgreSQL {MIN_SERVER_VERSION_NUM // 10000} or newer is needed (the models use the built-in collation"
        f" pg_c_utf8); this server is PostgreSQL {server_version_num // 10000}"
    )


def check_server_version(conn: psycopg2.extensions.connection) -> None:
    """Fail with one line when the server is too old for the models (psycopg2 learned the version on connecting)."""
    problem = version_problem(conn.server_version)
    if problem:
        raise ConfigError(problem)


def check_time_zone(conn: psycopg2.extensions.connection, time_zone: str) -> None:
    """Fail with one line when PostgreSQL does not know the business time zone."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select now() at time zone %s", (time_zone,))
    except psycopg2.errors.InvalidParameterValue:
        raise ConfigError(f"ELT_BUSINESS_TIME_ZONE {time_zone!r} is not a time zone PostgreSQL knows") from None


def _existing_schemas(cur) -> set[str]:
    """Names of the schemas in this database."""
    cur.execute("select nspname from pg_namespace")
    return {row[0] for row in cur.fetchall()}


def swap_in_staging(cur, run_id: int, parameters: dict[str, object]) -> None:
    """Inside the build transaction: set the published layers aside and make the staged raw layer `raw`.

    Also hands the models and data tests their parameters as transaction-local settings `elt.<name>` (read with
    current_setting), e.g. input_path, business_time_zone, orders_loaded; `elt.run_id` is always set. The
    parameters must name the business time zone: the build runs in it (the session's TimeZone), so a timestamptz
    cast to timestamp or date is local time there.
    """
    cur.execute("set local lock_timeout = %s", (LOCK_TIMEOUT,))
    cur.execute("set local client_connection_check_interval = %s", (CLIENT_CHECK_INTERVAL,))
    for name, value in BUILD_SETTINGS.items():
        cur.execute("select set_config(%s, %s, true)", (name, value))
    for name, value in {"run_id": run_id, **parameters}.items():
        cur.execute("select set_config(%s, %s, true)", (f"elt.{name}", str(value)))
    cur.execute("select set_config('TimeZone', %s, true)", (parameters["business_time_zone"],))
    existing = _existing_schemas(cur)
    for layer in PUBLISHED_LAYERS:
        if layer in existing:
            cur.execute(f"alter schema {layer} rename to {layer}_retired_{run_id}")
    cur.execute(f"alter schema {STAGING_SCHEMA} rename to raw")
    for layer in PUBLISHED_LAYERS[1:]:
        cur.execute(f"create schema {layer}")


def run_models(
    cur, files: list[Path], on_model: Callable[[Model, int | None, float], None],
    on_start: Callable[[Model], None] = lambda built: None,
) -> None:
    """Run each model file and report its table's row count (None for a view) and duration; `on_start` hears of
    each model before it runs."""
    for path in files:
        started = time.perf_counter()
        built = model(path)
        on_start(built)
        try:
            cur.execute(path.read_text())
        except psycopg2.errors.UniqueViolation as exc:  # a primary key of the model found duplicate rows
            detail = " ".join(str(exc).split())
            raise DataTestFailed(f"model {built.table} has duplicate keys, nothing was published: {detail}") from None
        on_model(built, model_rows(cur, built.table), time.perf_counter() - started)


def model_rows(cur, table: str) -> int | None:
    """The rows of a table built in this transaction, None for a view (counting would compute it).

    The server counted the rows the model wrote (pg_stat_xact_user_tables: this transaction's inserts less its
    deletes), so the table is not scanned again (a count(*) after each model cost 1.8 s at 10M orders). A server
    that does not count (track_counts off) gets the count(*).
    """
    cur.execute(MODEL_ROWS, (table,))
    is_view, written, counted = cur.fetchone()
    if is_view:
        return None
    if counted:
        return written
    cur.execute(f"select count(*) from {table}")
    return cur.fetchone()[0]


def run_data_tests(cur, files: list[Path]) -> int:
    """Run each data test; fail with the first offending rows of the first test that finds any."""
    for path in files:
        cur.execute(path.read_text())
        failing = cur.fetchmany(FAILING_ROWS_SHOWN + 1)
        if failing:
            columns = [column.name for column in cur.description]
            shown = "; ".join(_describe_row(columns, row) for row in failing[:FAILING_ROWS_SHOWN])
            more = " and more" if len(failing) > FAILING_ROWS_SHOWN else ""
            raise DataTestFailed(f"data test {path.stem} failed, nothing was published: {shown}{more}")
    return len(files)


def _describe_row(columns: list[str], row: tuple) -> str:
    """One offending row as 'name=value, ...'."""
    return ", ".join(f"{name}={value}" for name, value in zip(columns, row))


def drop_retired(conn: psycopg2.extensions.connection) -> list[str]:
    """Drop layers set aside by earlier publishes; skip (and keep for later) any a reader still holds."""
    dropped = []
    with conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname ~ %s", (RETIRED_PATTERN,))
        retired = [row[0] for row in cur.fetchall()]
        cur.execute("select current_setting('is_superuser')::boolean")
        may_cancel_autovacuum = cur.fetchone()[0]
    for schema in retired:
        try:
            with conn, conn.cursor() as cur:
                cur.execute("set local lock_timeout = %s", (DROP_LOCK_TIMEOUT,))
                if may_cancel_autovacuum:
                    cur.execute("set local deadlock_timeout = %s", (DROP_DEADLOCK_TIMEOUT,))
                cur.execute(f"drop schema {schema} cascade")
            dropped.append(schema)
        except psycopg2.errors.LockNotAvailable:
            logger.warning("kept %s for now: a reader still uses it; the next run drops it", schema)
    return dropped

