"""Where the database is and how to connect to it: one place for URLs, masking and connections."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import unquote

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from elt import embedded_pg
from elt.config import Settings
from elt.errors import ConfigError, DatabaseUnreachable

logger = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgres", "postgresql")
SQLALCHEMY_DRIVER = "postgresql+psycopg2"
CONNECT_TIMEOUT_SECONDS = 10


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
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachable(f"cannot reach PostgreSQL at {describe_host(url)}: {reason}") from None
    conn.autocommit = autocommit
    return conn


@contextmanager
def connection(url: str, **kwargs) -> Iterator[psycopg2.extensions.connection]:
    """A connection closed on exit (commit/rollback is the caller's business)."""
    conn = connect(url, **kwargs)
    try:
        yield conn
    finally:
        conn.close()
