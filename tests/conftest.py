"""Shared fixtures: one local SparkSession, one real PostgreSQL, a fresh database per test."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import psycopg2
import pytest
from psycopg2 import sql

from elt import db, embedded_pg
from elt.config import PROJECT_ROOT, Settings, load_settings

TEST_DATA_DIR = PROJECT_ROOT / ".data" / "test"
# The tests' JVMs (1 GB heap) record and map their class archive apart from the product's.
os.environ.setdefault("ELT_JVM_ARCHIVE_DIR", str(TEST_DATA_DIR / "jvm"))
FIXTURES = Path(__file__).parent / "fixtures"
# The contract's header, written out by hand (not imported from elt.contract) so tests check the code against it.
CONTRACT_HEADER: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "country",
    "product_category",
    "quantity",
    "unit_price",
    "status",
    "marketing_opt_in",
)
# The fields of one good order (all but order_id) as written in a CSV file, for tests to vary.
GOOD_ORDER: dict[str, str] = {
    "ordered_at": "2024-02-14T19:22:05Z",
    "customer_id": "C-1",
    "email": "ann@example.nl",
    "first_name": "Ann",
    "last_name": "de Vries",
    "country": "NL",
    "product_category": "books",
    "quantity": "2",
    "unit_price": "12.50",
    "status": "completed",
    "marketing_opt_in": "true",
}


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings for tests: defaults, with the test data directory and two local Spark cores."""
    settings = load_settings({})
    return replace(settings, data_dir=TEST_DATA_DIR, spark_master="local[2]", spark_driver_memory="1g")


@pytest.fixture(scope="session")
def spark(base_settings: Settings):
    """The one local SparkSession all tests share."""
    from elt.spark import build_spark_session

    session = build_spark_session(base_settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def admin_url(base_settings: Settings) -> Iterator[str]:
    """A PostgreSQL server for the tests: TEST_DATABASE_URL, or an embedded one under .data/test, stopped after
    the session if the session started it."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield db.libpq_url(os.environ["TEST_DATABASE_URL"])
        return
    with embedded_pg.serving(base_settings.data_dir) as url:
        yield url


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped when the block ends."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    _admin(admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield db.libpq_url(_with_database(admin_url, name))
    finally:
        _admin(admin_url, sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def database_url(admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    with fresh_database(admin_url) as url:
        yield url


@pytest.fixture
def settings(base_settings: Settings, database_url: str) -> Settings:
    """Settings pointing at this test's own database."""
    return replace(base_settings, database_url=database_url)


def _admin(url: str, statement: sql.Composable) -> None:
    """Run one statement outside a transaction (create/drop database)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def _with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def query(url: str, statement: str, params: tuple | dict | None = None) -> list[tuple]:
    """Rows of one query against a test database."""
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def run_elt(
    *args: str, database_url: str | None = None, extra_env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run `python -m elt ARGS` as a user would, against `database_url` (no DATABASE_URL: the embedded server)."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "elt", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line a failed command printed on stderr (asserting it is one line and no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- The reliability report (tests/reliability.py): written after a run in which every marked test passed. ---
_MARKED_RESULTS: dict[str, bool] = {}


def pytest_collection_finish(session) -> None:
    from tests import reliability

    session.reliability_cases = reliability.cases_of(session.items)
    for item in session.items:
        if item.get_closest_marker(reliability.MARKER):
            _MARKED_RESULTS[item.nodeid] = False


def pytest_runtest_logreport(report) -> None:
    if report.nodeid in _MARKED_RESULTS and report.when == "call":
        _MARKED_RESULTS[report.nodeid] = report.passed
    elif report.nodeid in _MARKED_RESULTS and report.failed:
        _MARKED_RESULTS[report.nodeid] = False


def pytest_sessionfinish(session, exitstatus) -> None:
    from tests import reliability

    cases = getattr(session, "reliability_cases", [])
    complete = session.config.args == [] or session.config.args == session.config.getini("testpaths")
    if cases and complete and not session.config.option.keyword and not session.config.option.markexpr \
            and all(_MARKED_RESULTS.values()):
        text = reliability.render(cases)
        if not reliability.REPORT.exists() or reliability.REPORT.read_text() != text:
            reliability.REPORT.write_text(text)
