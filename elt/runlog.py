"""The run log `meta.elt_runs`: every run, its counts, stage durations and error, written as the run goes."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions

from elt import db
from elt.config import PROJECT_ROOT
from elt.errors import DatabaseUnreachable

logger = logging.getLogger(__name__)

SCHEMA_SQL = PROJECT_ROOT / "sql" / "meta" / "elt_runs.sql"
INTERRUPTED = "the process ended before the run finished (killed or crashed)"
PUBLISHED_THEN_INTERRUPTED = "published; then the process ended before it closed the run (killed or crashed)"
PUBLISHED_THEN_FAILED = "published; then: "
# A run whose connection broke (e.g. PostgreSQL restarted) reconnects for this long to record how it ended.
RECONNECT_SECONDS = 20.0
RECONNECT_PAUSE_SECONDS = 0.5


@dataclass
class RunStats:
    """What a run counted and timed so far."""

    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    rows_duplicate: int | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)


def ensure_schema(conn: psycopg2.extensions.connection) -> None:
    """Create the run log if this database has none yet."""
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL.read_text())


def close_interrupted(conn: psycopg2.extensions.connection) -> int:
    """Close runs still 'running'; return how many are now marked failed. Call only while holding the run lock.

    Holding the lock, no other run can be alive: a 'running' row is a run whose process ended early. If its data
    is what is published, it got as far as its commit and is marked succeeded; otherwise failed, naming the stage
    it had reached.
    """
    published = _published_run(conn)
    with conn.cursor() as cur:
        cur.execute(
            "update meta.elt_runs set status = 'succeeded', finished_at = now(), error_message = %s "
            "where status = 'running' and run_id = %s",
            (PUBLISHED_THEN_INTERRUPTED, published),
        )
        cur.execute(
            "update meta.elt_runs set status = 'failed', finished_at = now(), "
            "error_message = 'interrupted during ' || coalesce(current_stage, 'start') || ': ' || %s "
            "where status = 'running'",
            (INTERRUPTED,),
        )
        return cur.rowcount


def _published_run(conn: psycopg2.extensions.connection) -> int | None:
    """The id of the run whose data is published, or None before the first publish."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('mrt.publication') is not null")
        if not cur.fetchone()[0]:
            return None
        cur.execute("select run_id from mrt.publication")
        row = cur.fetchone()
    return row[0] if row else None


def start(conn: psycopg2.extensions.connection, input_path: str, triggered_by: str) -> int:
    """Record a new running run and return its id."""
    with conn.cursor() as cur:
        cur.execute(
            "insert into meta.elt_runs (input_path, triggered_by, current_stage) values (%s, %s, 'starting') "
            "returning run_id",
            (input_path, triggered_by),
        )
        return cur.fetchone()[0]


def progress(conn: psycopg2.extensions.connection, run_id: int, stage: str, stats: RunStats) -> None:
    """Record the stage a run has reached and what it has counted, for live progress in the dashboard."""
    _update(conn, run_id, stats, current_stage=stage)


def finish(
    conn: psycopg2.extensions.connection,
    run_id: int,
    stats: RunStats,
    error: str | None = None,
    *,
    url: str | None = None,
) -> None:
    """Close a run as succeeded (no error, or its data got published) or failed (with its one-line error).

    With `url`, a run whose connection broke (PostgreSQL restarted) reconnects to record how it ended, and gives
    up with a warning if it cannot: then the next run marks it interrupted.
    """
    try:
        _close(conn, run_id, stats, error)
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        if url is None:
            raise
        _close_on_new_connection(url, run_id, stats, error)


def _close(conn: psycopg2.extensions.connection, run_id: int, stats: RunStats, error: str | None) -> None:
    """Write the end of a run on this connection."""
    published = error is not None and _published_run(conn) == run_id
    if published:
        error = PUBLISHED_THEN_FAILED + error
    status = "failed" if error and not published else "succeeded"
    _update(conn, run_id, stats, status=status, error_message=error, current_stage=None, finished=True)


def _close_on_new_connection(url: str, run_id: int, stats: RunStats, error: str | None) -> None:
    """Record the end of a run over a fresh connection, waiting a little for a restarting server."""
    deadline = time.monotonic() + RECONNECT_SECONDS
    while True:
        try:
            with db.connection(url, autocommit=True, application_name="elt-run") as conn:
                _close(conn, run_id, stats, error)
            return
        except (DatabaseUnreachable, psycopg2.OperationalError) as exc:
            if time.monotonic() >= deadline:
                logger.warning(
                    "could not record the end of run %d (%s): the next run marks it interrupted", run_id, exc
                )
                return
            time.sleep(RECONNECT_PAUSE_SECONDS)


def _update(conn, run_id: int, stats: RunStats, *, finished: bool = False, **values) -> None:
    """Write counts, durations and the given columns of one run."""
    columns = {
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_rejected": stats.rows_rejected,
        "rows_duplicate": stats.rows_duplicate,
        "stage_seconds": json.dumps({name: round(sec, 3) for name, sec in stats.stage_seconds.items()}),
        **values,
    }
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    if finished:
        assignments += ", finished_at = now()"
    with conn.cursor() as cur:
        cur.execute(f"update meta.elt_runs set {assignments} where run_id = %(run_id)s", {**columns, "run_id": run_id})
