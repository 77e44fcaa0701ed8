"""The command line as a user meets it: one clear line and a distinct exit code for each expected failure."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

from elt import db
from elt.config import PROJECT_ROOT
from elt.lock import RUN_LOCK_KEY
from tests.conftest import FIXTURES, one_error_line, query, run_elt

SMALL = str(FIXTURES / "orders_small.csv")
WIPE = "\r\x1b[K"  # carriage return, then ANSI "erase to the end of the line"


def test_missing_input_file(database_url):
    result = run_elt("run", "--input", "/nowhere/orders.csv", database_url=database_url)
    assert result.returncode == 2
    assert one_error_line(result) == "error: input file not found: /nowhere/orders.csv"


def test_unreachable_database_names_host_but_not_password():
    result = run_elt("run", "--input", SMALL, database_url="postgresql://marketing:s3cret-pw@127.0.0.1:9/shop")
    assert result.returncode == 4
    line = one_error_line(result)
    assert line.startswith("error: cannot reach PostgreSQL at 127.0.0.1:9/shop")
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_a_data_directory_that_is_a_file_is_one_line(tmp_path):
    not_a_directory = tmp_path / "data"
    not_a_directory.write_text("")
    result = run_elt("db", "start", extra_env={"ELT_DATA_DIR": str(not_a_directory)})
    assert result.returncode == 4
    line = one_error_line(result)
    assert line.startswith(f"error: could not start the embedded PostgreSQL in {not_a_directory / 'postgres'}: "), line
    assert "File exists" in line


def test_run_in_progress_is_refused_at_once(database_url):
    holder = db.connect(database_url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        result = run_elt("run", "--input", SMALL, database_url=database_url)
    finally:
        holder.close()
    assert result.returncode == 5
    assert "another ELT run is in progress since" in one_error_line(result)


def test_bad_header_and_successful_run(database_url, tmp_path):
    nothing = run_elt("db", "published", database_url=database_url)
    assert (nothing.returncode, nothing.stdout.strip()) == (1, "nothing published yet")
    bad = tmp_path / "export.csv"
    bad.write_text("order_id,ordered_at\nA1,2024-02-01T10:00:00Z\n")
    result = run_elt("run", "--input", str(bad), database_url=database_url)
    assert result.returncode == 2
    assert one_error_line(result).startswith("error: header does not match the orders contract: missing customer_id")

    ok = run_elt("run", "--input", SMALL, database_url=database_url, extra_env={"ELT_MAX_REJECT_SHARE": "50%"})
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    assert "\r" not in ok.stdout and "\x1b" not in ok.stdout  # no live line when the output is not a terminal
    assert "Run 2 succeeded" in ok.stdout and "16 rows read, 12 orders loaded, 3 rejected" in ok.stdout
    assert query(database_url, "select count(*) from mrt.customers_february") == [(2,)]
    published = run_elt("db", "published", database_url=database_url)
    assert published.returncode == 0 and published.stdout.startswith("published: run 2 from ")

    # Published by an older version that did not build mrt.overview yet: `make run` must run the ELT again.
    _drop(database_url, "mrt.overview")
    older = run_elt("db", "published", database_url=database_url)
    assert older.returncode == 1
    assert older.stdout.splitlines()[-1] == "but built by an older version (no mrt.overview): the ELT must run again"


def test_on_a_terminal_the_running_stage_counts_seconds_and_leaves_only_the_stage_lines(database_url):
    returncode, text = _run_on_terminal(
        "run", "--input", SMALL, env={"DATABASE_URL": database_url, "ELT_MAX_REJECT_SHARE": "50%"}
    )
    assert returncode == 0, text
    assert WIPE + "  extract  running · 1 s" in text  # a fresh JVM's extract takes longer than a second
    # What stays on the screen: each live line is wiped before the stage prints its own line.
    screen = [line.rsplit(WIPE, 1)[-1] for line in text.split("\r\n")]
    assert not [line for line in screen if "running ·" in line]
    stages = [line.split()[0] for line in screen if re.match(r"^  [a-z]+ ", line)]
    assert stages == ["spark", "extract", "load", "dwh", "mrt", "tests", "publish"]
    assert any(line.startswith("Run ") and " succeeded in " in line for line in screen)


def _run_on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `python -m elt ARGS` with its output on a pseudo-terminal, as in a user's shell; return the exit code
    and everything it wrote there."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "elt", *args], cwd=PROJECT_ROOT, env={**os.environ, **env},
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary,
    )
    os.close(secondary)
    written = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process has ended and closed its side
            break
        if not chunk:
            break
        written += chunk
    os.close(primary)
    return process.wait(timeout=300), written.decode()


def _drop(url: str, table: str) -> None:
    from elt import db

    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(f"drop table {table}")
        conn.commit()


def test_sample_command_is_deterministic(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (first, second):
        result = run_elt("sample", "--rows", "500", "--out", str(out), "--seed", "5")
        assert result.returncode == 0 and "wrote 500 orders" in result.stdout
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text(encoding="utf-8").splitlines()) == 501
