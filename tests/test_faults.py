"""Faults around a run: the database away, restarted or refusing work, and the ELT process killed in each stage.

After each, the dashboard serves the last good publish, no run lock is left, the run log tells what happened, and
the next run succeeds without anybody cleaning up. The expected numbers are in tests/harness.py, worked out by hand.
"""
from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
from psycopg2 import sql
from sqlalchemy.engine import make_url

from elt import db, embedded_pg, pipeline
from elt.config import PROJECT_ROOT
from elt.errors import DatabaseFailed
from tests.conftest import TEST_DATA_DIR, fresh_database
from tests.harness import (
    APP_INPUT,
    APP_VIEW,
    DISK_FULL,
    PUBLISHED_SCHEMAS,
    SMALL_INPUT,
    SMALL_INPUT_ENV,
    SMALL_VIEW,
    app_test,
    dashboard_view,
    elt_env,
    elt_sessions,
    fault,
    kill,
    run_lock_holders,
    runs,
    schemas,
    start_elt,
    wait_at,
    wait_for,
)

QUIET = {"report": lambda line: None}
BACKGROUND_LOOK = str(PROJECT_ROOT / "tests" / "apps" / "background_look.py")
RUN_TIMEOUT = 240
INTERRUPTED = "the process ended before the run finished (killed or crashed)"
NOTHING_PUBLISHED = "; nothing was published, the previous data is still served"


@pytest.fixture
def run_settings(settings, tmp_path):
    """Settings for this test's database with a data directory of its own (a run stages files there by run id)."""
    return replace(settings, data_dir=tmp_path / "data")


@pytest.fixture
def published(run_settings, spark, database_url):
    """This test's database with orders_app.csv published (run 1)."""
    pipeline.run(run_settings, APP_INPUT, spark=spark, **QUIET)
    assert dashboard_view(database_url) == APP_VIEW
    return database_url


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL server of this module's own, which the tests stop and restart without disturbing the others:
    its data directory and the URL of a database to administer it from."""
    data_dir = TEST_DATA_DIR / f"own-{uuid.uuid4().hex[:8]}"
    admin = embedded_pg.start(data_dir)
    try:
        yield data_dir, admin
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def own_settings(own_server, base_settings, spark, tmp_path) -> Iterator:
    """Settings for a fresh database on the module's own server, with orders_app.csv published."""
    with fresh_database(own_server[1]) as url:
        settings = replace(base_settings, database_url=url, data_dir=tmp_path / "data")
        pipeline.run(settings, APP_INPUT, spark=spark, **QUIET)
        assert dashboard_view(url) == APP_VIEW
        yield settings


def _error_line(output: Path) -> str:
    """The one 'error: ...' line a failed `python -m elt run` printed, checked to be the only one."""
    text = output.read_text(encoding="utf-8", errors="replace")
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in text, text
    return errors[0]


def _socket_host(url: str) -> str:
    """How messages name the embedded server of `url`: its socket directory and database."""
    parsed = make_url(url)
    return f"{parsed.query['host']}/{parsed.database}"


def _next_run_succeeds(settings, spark) -> None:
    """The next run, nobody having cleaned up: it succeeds, publishes orders_small.csv and leaves only the layers."""
    url = settings.database_url
    pipeline.run(replace(settings, max_reject_share=0.5), SMALL_INPUT, spark=spark, **QUIET)
    assert runs(url)[-1] == ("succeeded", None, None)
    assert dashboard_view(url) == SMALL_VIEW
    assert schemas(url) == PUBLISHED_SCHEMAS, "a staging or retired layer was left behind"
    assert run_lock_holders(url) == 0


@pytest.mark.reliability(
    "Faults", "database unreachable when the run starts",
    "fails at once (exit 4) with one line naming host and database, never the password: `cannot reach PostgreSQL "
    "at …`; nothing is recorded or changed; once the server is back the next run succeeds",
)
def test_unreachable_database_when_the_run_starts(own_server, own_settings, spark, tmp_path):
    url = own_settings.database_url
    with_password = make_url(url).set(password="s3cret-pw").render_as_string(hide_password=False)
    output = tmp_path / "run.log"
    embedded_pg.stop(own_server[0])
    try:
        child = start_elt(elt_env(with_password, own_settings.data_dir), SMALL_INPUT, output)
        assert child.wait(timeout=RUN_TIMEOUT) == 4
    finally:
        embedded_pg.restart(own_server[0])
    line = _error_line(output)
    assert line.startswith(f"error: cannot reach PostgreSQL at {_socket_host(url)}: "), line
    assert "s3cret-pw" not in output.read_text()

    assert dashboard_view(url) == APP_VIEW
    assert runs(url) == [("succeeded", None, None)]
    assert run_lock_holders(url) == 0
    _next_run_succeeds(own_settings, spark)


@pytest.mark.reliability(
    "Faults", "embedded database stopped under the running dashboard (`make pg_stop`)",
    "an open page's background look for runs leaves it stopped; the next page view starts the embedded server again "
    "and shows the data: no traceback, no alert",
)
def test_dashboard_starts_the_stopped_embedded_database_again(base_settings, spark, monkeypatch, tmp_path):
    data_dir = TEST_DATA_DIR / f"app-{uuid.uuid4().hex[:8]}"
    try:
        url = embedded_pg.start(data_dir)  # as the dashboard's process does on its first page view
        pipeline.run(replace(base_settings, database_url=url, data_dir=tmp_path / "data"), APP_INPUT, spark=spark,
                     **QUIET)
        at = app_test(None, monkeypatch, ELT_DATA_DIR=str(data_dir))  # no DATABASE_URL: the embedded default
        assert at.metric[0].label == "Customers" and at.metric[0].value == str(APP_VIEW["customers"])

        embedded_pg.stop(data_dir)  # what `make pg_stop` does
        look = app_test(None, monkeypatch, script=BACKGROUND_LOOK, fresh=False, ELT_DATA_DIR=str(data_dir))
        assert not look.exception and not look.error
        assert not embedded_pg.is_running(data_dir)  # stopped on purpose: nobody asked for a page
        at.run()  # the next page view starts it again and shows the data
        assert not at.exception, at.exception
        assert not at.error, [error.value for error in at.error]
        assert embedded_pg.is_running(data_dir)
        assert at.metric[0].value == str(APP_VIEW["customers"])

        at.run()
        assert not at.exception and not at.error
        assert at.metric[0].value == str(APP_VIEW["customers"])
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("stage", "point", "target"),
    [
        pytest.param("load", "copy", "raw_next.orders_part_1", marks=pytest.mark.reliability(
            "Faults", "database restarted in the middle of the load (while its COPY runs)",
            "fails (exit 8): `lost the connection to PostgreSQL at … during load: <the server's reason>; nothing was "
            "published, the previous data is still served`; the run reconnects to record it as failed",
        )),
        pytest.param("mrt", "model", "mrt.customers_february", marks=pytest.mark.reliability(
            "Faults", "database restarted in the middle of the SQL build (dwh built, building mrt)",
            "fails (exit 8): `lost the connection to PostgreSQL at … during mrt: <the server's reason>; nothing was "
            "published, the previous data is still served`; the run reconnects to record it as failed",
        )),
    ],
)
def test_database_restarted_during_the_run(own_server, own_settings, spark, tmp_path, stage, point, target):
    url = own_settings.database_url
    output = tmp_path / "run.log"
    with fault(url, point, "wait", target) as gate:
        child = start_elt(elt_env(url, own_settings.data_dir, **SMALL_INPUT_ENV), SMALL_INPUT, output)
        try:
            wait_at(gate, child, output)
            embedded_pg.restart(own_server[0])
            assert child.wait(timeout=RUN_TIMEOUT) == 8, output.read_text()
        finally:
            if child.poll() is None:
                kill(child)
    # How the server's goodbye reads depends on whether the session was waiting or reading when it went.
    reasons = ("terminating connection due to administrator command", "server closed the connection unexpectedly")
    line = _error_line(output)
    expected = {
        f"lost the connection to PostgreSQL at {_socket_host(url)} during {stage}: {reason}{NOTHING_PUBLISHED}"
        for reason in reasons
    }
    assert line.removeprefix("error: ") in expected, line
    assert runs(url)[-1] == ("failed", None, line.removeprefix("error: "))
    assert dashboard_view(url) == APP_VIEW
    assert run_lock_holders(url) == 0
    _next_run_succeeds(own_settings, spark)


@pytest.mark.parametrize(
    ("stage", "point", "target", "action", "reason"),
    [
        pytest.param("load", "copy", "raw_next.orders_part_1", "disk full", DISK_FULL, marks=pytest.mark.reliability(
            "Faults", "PostgreSQL out of disk during the load (an injected `disk_full` error on the COPY)",
            "fails (exit 8): `PostgreSQL at … refused the run during load: could not extend file …: No space left "
            "on device; nothing was published, the previous data is still served`",
        )),
        pytest.param("mrt", "model", "mrt.customers_february", "disk full", DISK_FULL, marks=pytest.mark.reliability(
            "Faults", "PostgreSQL out of disk during the SQL build (an event trigger raising `disk_full`)",
            "fails (exit 8): `PostgreSQL at … refused the run during mrt: could not extend file …: No space left "
            "on device; nothing was published, the previous data is still served`",
        )),
        pytest.param("mrt", "model", "mrt.orders_by_month", "sleep", "canceling statement due to statement timeout",
                     marks=pytest.mark.reliability(
            "Faults", "statement_timeout hit during the SQL build",
            "fails (exit 8): `PostgreSQL at … refused the run during mrt: canceling statement due to statement "
            "timeout; nothing was published, the previous data is still served`",
        )),
    ],
)
def test_database_error_during_the_run(published, run_settings, spark, stage, point, target, action, reason):
    url = published
    with fault(url, point, action, target):
        if action == "sleep":
            _set_statement_timeout(url, "3s")  # for the run's sessions: new sessions of this test's database
        try:
            with pytest.raises(DatabaseFailed) as failed:
                pipeline.run(replace(run_settings, max_reject_share=0.5), SMALL_INPUT, spark=spark, **QUIET)
        finally:
            _set_statement_timeout(url, None)
    expected = f"PostgreSQL at {_socket_host(url)} refused the run during {stage}: {reason}{NOTHING_PUBLISHED}"
    assert str(failed.value) == expected
    assert failed.value.exit_code == 8
    assert runs(url)[-1] == ("failed", None, expected)
    assert dashboard_view(url) == APP_VIEW
    assert run_lock_holders(url) == 0
    _next_run_succeeds(run_settings, spark)


def _set_statement_timeout(url: str, value: str | None) -> None:
    """Set (or reset) statement_timeout for new sessions of this test's database."""
    name = sql.Identifier(make_url(url).database)
    statement = sql.SQL("alter database {} set statement_timeout = {}").format(name, sql.Literal(value)) if value \
        else sql.SQL("alter database {} reset statement_timeout").format(name)
    with db.connection(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement)


@pytest.mark.parametrize(
    ("point", "target", "view_after_kill", "recorded"),
    [
        pytest.param("model", "mrt.customers_february", APP_VIEW, ("failed", f"interrupted during mrt: {INTERRUPTED}"),
                     id="build", marks=pytest.mark.reliability(
            "Faults", "ELT killed (SIGKILL) during the SQL build (dwh built, creating an mrt table)",
            "the build transaction rolls back within a second, the lock is gone; the next run records the killed "
            "one as failed `interrupted during mrt: …` and succeeds",
        )),
        pytest.param("stage", "publish", APP_VIEW, ("failed", f"interrupted during tests: {INTERRUPTED}"),
                     id="publish-before-commit", marks=pytest.mark.reliability(
            "Faults", "ELT killed (SIGKILL) during publish, before its commit (data tests passed)",
            "nothing is published, the lock is gone; the next run records the killed one as failed `interrupted "
            "during tests: …` (the last stage it recorded) and succeeds",
        )),
        pytest.param("drop retired", "", SMALL_VIEW, ("succeeded", "published; then the process ended before it "
                     "closed the run (killed or crashed)"), id="publish-after-commit", marks=pytest.mark.reliability(
            "Faults", "ELT killed (SIGKILL) during publish, after its commit (dropping the retired layers)",
            "the new data stays published (it was tested and committed); the next run records the killed one as "
            "succeeded `published; then the process ended …`, drops the retired layers and succeeds",
        )),
    ],
)
def test_killed_run_in_build_or_publish(
    published, run_settings, spark, tmp_path, point, target, view_after_kill, recorded
):
    url = published
    output = tmp_path / "run.log"
    with fault(url, point, "wait", target) as gate:
        child = start_elt(elt_env(url, run_settings.data_dir, **SMALL_INPUT_ENV), SMALL_INPUT, output)
        try:
            wait_at(gate, child, output)
        finally:
            kill(child)
        # Still held at the fault: the server notices the killed client within a second even though its session
        # waits on a lock, so the run lock and any open build transaction go at once.
        wait_for(lambda: elt_sessions(url) == [] and run_lock_holders(url) == 0, timeout=10,
                 what="the killed run's sessions gone")
        assert dashboard_view(url) == view_after_kill
        assert runs(url)[-1][0] == "running"
    _next_run_succeeds(run_settings, spark)
    assert runs(url)[-2][0::2] == recorded
