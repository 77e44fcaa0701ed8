"""The embedded PostgreSQL: a fresh server comes up with the settings the product chose for it; a block that
serves it stops it afterwards only if the block started it."""
from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import pytest

from elt import embedded_pg
from tests.conftest import TEST_DATA_DIR, query, run_elt


def test_a_fresh_embedded_server_runs_with_its_settings():
    data_dir = TEST_DATA_DIR / f"fresh-{uuid.uuid4().hex[:8]}"
    try:
        url = embedded_pg.start(data_dir)  # first start: initdb, ALTER SYSTEM, restart
        settings = query(url, "select name, setting from pg_settings"
                              " where name in ('wal_level', 'max_wal_senders', 'io_method') order by name")
        assert settings == [("io_method", "sync"), ("max_wal_senders", "0"), ("wal_level", "minimal")]
        assert query(url, "select current_database()") == [("marketing",)]
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_stopping_after_the_server_died_with_the_machine_says_it_was_not_running():
    """After a reboot the data directory still holds postmaster.pid, naming a process that no longer exists."""
    data_dir = TEST_DATA_DIR / f"stale-{uuid.uuid4().hex[:8]}"
    try:
        embedded_pg.start(data_dir)
        pid_file = embedded_pg.pgdata_dir(data_dir) / "postmaster.pid"
        saved = pid_file.read_text()
        assert embedded_pg.stop(data_dir) is True
        assert not pid_file.exists()
        dead_pid = _a_pid_no_process_has()
        pid_file.write_text("\n".join([str(dead_pid)] + saved.splitlines()[1:]) + "\n")

        assert embedded_pg.is_running(data_dir) is False
        assert embedded_pg.stop(data_dir) is False
        result = run_elt("db", "stop", extra_env={"ELT_DATA_DIR": str(data_dir)})
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout.strip() == "the embedded PostgreSQL was not running"

        url = embedded_pg.start(data_dir)  # this process started it before: it starts again all the same
        assert query(url, "select 1") == [(1,)]
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_serving_stops_the_server_afterwards_only_if_it_started_it():
    data_dir = TEST_DATA_DIR / f"serving-{uuid.uuid4().hex[:8]}"
    pid_file = embedded_pg.pgdata_dir(data_dir) / "postmaster.pid"
    try:
        with embedded_pg.serving(data_dir) as url:  # nothing there yet: created and started
            assert query(url, "select current_database()") == [("marketing",)]
            assert pid_file.exists()
        assert not pid_file.exists()
        assert embedded_pg.is_running(data_dir) is False

        with pytest.raises(RuntimeError), embedded_pg.serving(data_dir) as url:  # stopped: started again
            assert query(url, "select 1") == [(1,)]
            raise RuntimeError("the block failed")
        assert not pid_file.exists()  # stopped all the same

        embedded_pg.start(data_dir)  # someone else's running server
        with embedded_pg.serving(data_dir) as url:
            assert query(url, "select 1") == [(1,)]
        assert embedded_pg.is_running(data_dir) is True
        assert query(url, "select 1") == [(1,)]  # still serving
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def _a_pid_no_process_has() -> int:
    """A process that has exited: its pid names no process until the kernel hands it out again."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid

