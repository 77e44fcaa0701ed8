"""The run log `meta.elt_runs`: every run, its counts, stage durations and error, written as the run goes."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import psycopg2.extensions

from elt.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

SCHEMA_SQL = PROJECT_ROOT / "sql" / "meta" / "elt_runs.sql"
INTERRUPTED = "interrupted: the process ended before the run finished (killed or crashed)"


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
    """Mark runs still 'running' as failed. Call only while holding the run lock: then none can be alive."""
    with conn.cursor() as cur:
        cur.execute(
            "update meta.elt_runs set status = 'failed', finished_at = now(), error_message = %s "
            "where status = 'running'",
            (INTERRUPTED,),
        )
        return cur.rowcount


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
    conn: psycopg2.extensions.connection, run_id: int, stats: RunStats, error: str | None = None
) -> None:
    """Close a run as succeeded (no error) or failed (with its one-line error)."""
    status = "failed" if error else "succeeded"
    _update(conn, run_id, stats, status=status, error_message=error, current_stage=None, finished=True)


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
