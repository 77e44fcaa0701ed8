"""One ELT run at a time, enforced by PostgreSQL: a session advisory lock held for the whole run.

The lock belongs to a connection, so it disappears with the process that holds it: a killed run leaves none,
even when it was waiting on a lock at that moment (db.connect has the server check the client every second).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

import psycopg2.extensions

from elt import db
from elt.errors import RunInProgress

logger = logging.getLogger(__name__)

# Any fixed 64-bit key works; this one spells "mktELT".
RUN_LOCK_KEY = 0x6D6B74454C54

HOLDER_SINCE = """
select min(activity.backend_start)
from pg_locks as locks
join pg_stat_activity as activity on activity.pid = locks.pid
where locks.locktype = 'advisory'
  and locks.granted
  and locks.database = (select oid from pg_database where datname = current_database())
  and ((locks.classid::bigint << 32) | locks.objid::bigint) = %(key)s
"""


def holder_started_at(conn: psycopg2.extensions.connection) -> datetime | None:
    """When the connection that holds the run lock started, or None when nobody holds it."""
    with conn.cursor() as cur:
        cur.execute(HOLDER_SINCE, {"key": RUN_LOCK_KEY})
        return cur.fetchone()[0]


def holder_since(conn: psycopg2.extensions.connection) -> str | None:
    """`holder_started_at` as text, to the second (for messages)."""
    since = holder_started_at(conn)
    return None if since is None else since.isoformat(sep=" ", timespec="seconds")


@contextmanager
def run_lock(url: str) -> Iterator[psycopg2.extensions.connection]:
    """Hold the run lock for the block; refuse at once if another run holds it. Yields the lock's connection."""
    conn = db.connect(url, autocommit=True, application_name="elt-run")
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,))
            acquired = cur.fetchone()[0]
        if not acquired:
            since = holder_since(conn)
            when = f" since {since}" if since else ""
            raise RunInProgress(f"another ELT run is in progress{when}; try again when it has finished")
        yield conn
    finally:
        conn.close()  # closing the session releases its advisory lock
