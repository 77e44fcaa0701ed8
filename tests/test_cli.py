"""The command line as a user meets it: one clear line and a distinct exit code for each expected failure."""
from __future__ import annotations

import os
import subprocess
import sys

from elt import db
from elt.config import PROJECT_ROOT
from elt.lock import RUN_LOCK_KEY
from tests.conftest import FIXTURES, query

SMALL = str(FIXTURES / "orders_small.csv")


def _elt(*args: str, database_url: str | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "elt", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_input_file(database_url):
    result = _elt("run", "--input", "/nowhere/orders.csv", database_url=database_url)
    assert result.returncode == 2
    assert _one_error_line(result) == "error: input file not found: /nowhere/orders.csv"


def test_unreachable_database_names_host_but_not_password():
    result = _elt("run", "--input", SMALL, database_url="postgresql://marketing:s3cret-pw@127.0.0.1:9/shop")
    assert result.returncode == 4
    line = _one_error_line(result)
    assert line.startswith("error: cannot reach PostgreSQL at 127.0.0.1:9/shop")
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_run_in_progress_is_refused_at_once(database_url):
    holder = db.connect(database_url, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        result = _elt("run", "--input", SMALL, database_url=database_url)
    finally:
        holder.close()
    assert result.returncode == 5
    assert "another ELT run is in progress since" in _one_error_line(result)


def test_bad_header_and_successful_run(database_url, tmp_path):
    nothing = _elt("db", "published", database_url=database_url)
    assert (nothing.returncode, nothing.stdout.strip()) == (1, "nothing published yet")
    bad = tmp_path / "export.csv"
    bad.write_text("order_id,ordered_at\nA1,2024-02-01T10:00:00Z\n")
    result = _elt("run", "--input", str(bad), database_url=database_url)
    assert result.returncode == 2
    assert _one_error_line(result).startswith("error: header does not match the orders contract: missing customer_id")

    ok = _elt("run", "--input", SMALL, database_url=database_url, extra_env={"ELT_MAX_REJECT_SHARE": "50%"})
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    assert "Run 2 succeeded" in ok.stdout and "16 rows read, 12 orders loaded, 3 rejected" in ok.stdout
    assert query(database_url, "select count(*) from mrt.customers_february") == [(2,)]
    published = _elt("db", "published", database_url=database_url)
    assert published.returncode == 0 and published.stdout.startswith("published: run 2 from ")


def test_sample_command_is_deterministic(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (first, second):
        result = _elt("sample", "--rows", "500", "--out", str(out), "--seed", "5")
        assert result.returncode == 0 and "wrote 500 orders" in result.stdout
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text(encoding="utf-8").splitlines()) == 501
