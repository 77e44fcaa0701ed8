"""Where the database is and how to connect to it: one place for URLs, masking and connections."""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import unquote

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from elt import embedded_pg
from elt.config import Settings
from elt.errors import ConfigError, DatabaseFailed, DatabaseUnreachable, first_line

logger = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgres", "postgresql")
SQLALCHEMY_DRIVER = "postgresql+psycopg2"
CONNECT_TIMEOUT_SECONDS = 10
# The server checks every second that the client is still there, even while a statement waits on a lock: the
# session of a killed run ends at once and takes the run lock and its open transaction with it.
CLIENT_CHECK_INTERVAL = "1s"
# SQLSTATEs of a server that is shutting down or restarting: the connection is lost, not the statement refused.
LOST_CONNECTION_CODES = frozenset({"57P01", "57P02", "57P03"})
# How a psycopg2 error raised in a Spark task appears in the exception the driver receives.
TASK_ERROR = re.compile(r"psycopg2\.(?:errors\.)?(?P<name>\w+): (?P<message>[^\n]*)")
LOST_CONNECTION_WORDS = ("server closed the connection", "terminating connection", "connection already closed")


def _parse(url: str) -> URL:
    """Parse a user's URL and check that it names PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid URL (expected postgresql://user:password@host:port/db)") from None
    if parsed.get_backend_name() not in POSTGRES_SCHEMES:
        raise ConfigError(f"DATABASE_URL must be a PostgreSQL URL, got scheme {parsed.drivername!r}")
    return parsed


def sqlalchemy_url(url: str) -> str:
    """The URL for SQLAlchemy with our driver: plain postgresql:// means psycopg 3 in SQLAlchemy 2.1, we ship psycopg2."""
    return _parse(url).set(drivername=SQLALCHEMY_DRIVER).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL as libpq/psycopg2 understands it (no +driver suffix)."""
    return _parse(url).set(drivername="postgresql").render_as_string(hide_password=False)


def masked(url: str) -> str:
    """The URL safe to print: the password replaced by ***."""
    try:
        return unquote(_parse(url).set(drivername="postgresql").render_as_string(hide_password=True))
    except ConfigError:
        return "<invalid DATABASE_URL>"


def describe_host(url: str) -> str:
    """Host (or socket directory) and database of a URL, for messages."""
    parsed = _parse(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database or ''}"


def resolve_url(settings: Settings) -> str:
    """The libpq URL of the project database: DATABASE_URL, or the embedded server started on demand."""
    if settings.database_url:
        return libpq_url(settings.database_url)
    return embedded_pg.start(settings.data_dir)


def connect(url: str, *, autocommit: bool = False, application_name: str = "elt") -> psycopg2.extensions.connection:
    """Open a psycopg2 connection, turning connection failures into one clear line."""
    try:
        conn = psycopg2.connect(
            url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=application_name
        )
    except psycopg2.OperationalError as exc:
        raise DatabaseUnreachable(f"cannot reach PostgreSQL at {describe_host(url)}: {first_line(exc)}") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("set client_connection_check_interval = %s", (CLIENT_CHECK_INTERVAL,))
    conn.autocommit = autocommit
    return conn


def run_failure(exc: BaseException, url: str, stage: str) -> DatabaseFailed | None:
    """The one-line failure of a run that PostgreSQL stopped, or None when `exc` is something else.

    PostgreSQL stops a run by dropping the connection (a restart) or by refusing a statement for reasons outside
    the run's SQL (disk full, a timeout, an error raised by a trigger). The error comes from psycopg2 in the driver,
    or as text inside the exception of a Spark task that was writing to the database.
    """
    lost, reason = _database_error(exc)
    if reason is None:
        return None
    host = describe_host(url)
    what = f"lost the connection to PostgreSQL at {host}" if lost else f"PostgreSQL at {host} refused the run"
    after = "" if stage == "publish" else "; nothing was published, the previous data is still served"
    return DatabaseFailed(f"{what} during {stage}: {reason}{after}")


def _database_error(exc: BaseException) -> tuple[bool, str | None]:
    """(whether the connection was lost, the server's one-line reason) of a database error; reason None otherwise."""
    if isinstance(exc, psycopg2.InterfaceError):
        return True, first_line(exc)
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InternalError)):
        return exc.pgcode is None or exc.pgcode in LOST_CONNECTION_CODES, first_line(exc)
    if isinstance(exc, psycopg2.Error):
        return False, None  # our SQL or our data: a bug to report as unexpected, not a database failure
    match = TASK_ERROR.search(str(exc)) if "psycopg2" in str(exc) else None
    if match is None:
        return False, None
    reason = match["message"].strip() or match["name"]
    return any(words in reason for words in LOST_CONNECTION_WORDS), reason


@contextmanager
def connection(url: str, **kwargs) -> Iterator[psycopg2.extensions.connection]:
    """A connection closed on exit (commit/rollback is the caller's business)."""
    conn = connect(url, **kwargs)
    try:
        yield conn
    finally:
        conn.close()
