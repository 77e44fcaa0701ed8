"""The embedded PostgreSQL: a fresh server comes up with the settings the product chose for it; a postmaster.pid
that outlived its server is no running server, whatever process has its pid now; a server that does not answer is
one clear line; a block that serves it stops it afterwards only if the block started it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from elt import embedded_pg
from elt.errors import DatabaseUnreachable
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
        pid_file.write_text(_naming(saved, dead_pid))

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


def test_a_postmaster_pid_whose_pid_another_process_has_now_is_stale():
    """After a reboot the pid in a leftover postmaster.pid may be another process's: pg_ctl would take that process
    for the server (and signal it to stop), PostgreSQL would refuse to start. Neither may happen."""
    data_dir = TEST_DATA_DIR / f"reused-{uuid.uuid4().hex[:8]}"
    pid_file = embedded_pg.pgdata_dir(data_dir) / "postmaster.pid"
    env = {"ELT_DATA_DIR": str(data_dir)}
    # The process that got the dead server's pid, run by the server's system user as after a reboot (a process of
    # another user would be invisible to pg_ctl and PostgreSQL, which ask with kill(pid, 0)).
    other = subprocess.Popen(["sleep", "600"], user=embedded_pg.server_user())
    try:
        embedded_pg.start(data_dir)
        saved = pid_file.read_text()
        assert embedded_pg.stop(data_dir) is True
        pid_file.write_text(_naming(saved, other.pid))

        assert embedded_pg.is_running(data_dir) is False
        result = run_elt("db", "stop", extra_env=env)
        assert (result.returncode, result.stdout.strip()) == (0, "the embedded PostgreSQL was not running"), result
        assert other.poll() is None  # not signalled

        result = run_elt("db", "start", extra_env=env)  # a new process: the wheel reads the file itself
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert embedded_pg.is_running(data_dir) is True
        assert other.poll() is None
        assert pid_file.read_text().split("\n", 1)[0] != str(other.pid)

        assert embedded_pg.stop(data_dir) is True
        pid_file.write_text(_naming(saved, other.pid))
        url = embedded_pg.start(data_dir)  # this process started it before: the wheel's cached handle
        assert query(url, "select 1") == [(1,)]
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_postmaster_pid_naming_the_server_of_another_data_directory_is_stale():
    """After a reboot the pid may have gone to the PostgreSQL of another data directory (another checkout's embedded
    server, say): that server is neither stopped nor taken for this one, and this one starts."""
    data_dir = TEST_DATA_DIR / f"mine-{uuid.uuid4().hex[:8]}"
    other_dir = TEST_DATA_DIR / f"theirs-{uuid.uuid4().hex[:8]}"
    pid_file = embedded_pg.pgdata_dir(data_dir) / "postmaster.pid"
    env = {"ELT_DATA_DIR": str(data_dir)}
    try:
        embedded_pg.start(data_dir)
        other_url = embedded_pg.start(other_dir)
        other_pid = int((embedded_pg.pgdata_dir(other_dir) / "postmaster.pid").read_text().split("\n", 1)[0])
        saved = pid_file.read_text()
        assert embedded_pg.stop(data_dir) is True
        pid_file.write_text(_naming(saved, other_pid))

        assert embedded_pg.is_running(data_dir) is False
        result = run_elt("db", "stop", extra_env=env)
        assert (result.returncode, result.stdout.strip()) == (0, "the embedded PostgreSQL was not running"), result
        assert query(other_url, "select 1") == [(1,)]  # not stopped

        result = run_elt("db", "start", extra_env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert embedded_pg.is_running(data_dir) is True
        assert pid_file.read_text().split("\n", 1)[0] != str(other_pid)
        assert query(other_url, "select 1") == [(1,)]
    finally:
        for directory in (data_dir, other_dir):
            embedded_pg.stop(directory)
            shutil.rmtree(directory, ignore_errors=True)


def test_a_server_that_does_not_answer_fails_the_start_with_one_line(monkeypatch):
    """A postmaster that runs but does not answer (stopped with SIGSTOP here; one just killed and not yet reaped
    looks the same to `pg_ctl status`): the start fails with one line instead of a psycopg2 traceback."""
    monkeypatch.setattr(embedded_pg, "CONNECT_TIMEOUT_SECONDS", 2)
    data_dir = TEST_DATA_DIR / f"frozen-{uuid.uuid4().hex[:8]}"
    pgdata = embedded_pg.pgdata_dir(data_dir)
    try:
        embedded_pg.start(data_dir)
        postmaster = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(postmaster, signal.SIGSTOP)
        try:
            assert embedded_pg.is_running(data_dir) is True
            with pytest.raises(DatabaseUnreachable) as caught:
                embedded_pg.start(data_dir)
        finally:
            os.kill(postmaster, signal.SIGCONT)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"the embedded PostgreSQL in {pgdata} does not answer: "), message
        assert query(embedded_pg.start(data_dir), "select 1") == [(1,)]  # answers again once it runs
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


def _naming(pid_file_text: str, pid: int) -> str:
    """A postmaster.pid as the server wrote it, naming another process id."""
    return "\n".join([str(pid)] + pid_file_text.splitlines()[1:]) + "\n"
