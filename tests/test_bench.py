"""Smoke test of the benchmark script on a tiny file: it runs end to end and prints its tables. No timing checks."""
from __future__ import annotations

import subprocess
import sys

from benchmarks.bench import BENCH_DIR
from elt import embedded_pg
from elt.config import PROJECT_ROOT


def test_bench_runs_end_to_end_on_a_tiny_file():
    committed = [(PROJECT_ROOT / "docs" / name).read_bytes() for name in ("benchmarks.md", "benchmarks.json")]
    was_running = embedded_pg.is_running(BENCH_DIR)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--rows", "300", "--no-record", "--rounds", "2"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ("| floor: COPY of the CSV into an untyped table |", "| project: whole ELT", "| raw load ÷ COPY floor |",
                 "| audience: size, 2024 + NL |", "2 rounds; the tables above show the median round",
                 "| export: COPY (same query) TO STDOUT into a byte counter (median of 5) |",
                 "| after the run: vacuum and analyze of its new tables (autovacuum's work, not in the whole ELT) |"):
        assert line in result.stdout
    assert "No runtime found" not in result.stderr  # Streamlit's warning about the cached functions, quietened
    # --no-record leaves the committed record and the chart's points alone.
    assert [(PROJECT_ROOT / "docs" / name).read_bytes() for name in ("benchmarks.md", "benchmarks.json")] == committed
    # The bench stops the server it started (a clean clone's first run), and leaves one that was running.
    assert embedded_pg.is_running(BENCH_DIR) is was_running


def test_maintenance_vacuums_and_analyzes_what_was_written_since(database_url):
    from benchmarks.bench import maintain
    from elt import db
    from tests.conftest import query
    from tests.harness import wait_for

    # Autovacuum is off for the table, so only maintain may reset its counters.
    with db.connection(database_url) as conn, conn.cursor() as cur:
        cur.execute("create table written (n integer) with (autovacuum_enabled = false); insert into written select generate_series(1, 1000)")
        conn.commit()
    stats = ("select n_ins_since_vacuum, n_mod_since_analyze, last_vacuum is not null, last_analyze is not null"
             " from pg_stat_user_tables where relname = 'written'")
    wait_for(lambda: query(database_url, stats) == [(1000, 1000, False, False)], timeout=10, what="the insert counted")
    maintain(database_url)
    assert query(database_url, stats) == [(0, 0, True, True)]


def _result(rows: int, measured_at: str, floor: float, end_to_end: float) -> dict:
    return {
        "rows": rows, "measured_at": measured_at, "floor_copy_seconds": floor, "seed_jdbc_seconds": None,
        "project_end_to_end_seconds": end_to_end,
        "project_stages": {"extract": 9.0, "load": 1.0, "dwh": 0.5, "mrt": 0.25, "tests": 0.25, "publish": 0.0},
    }


def test_chart_series_come_from_the_recorded_results():
    from benchmarks.chart import chart_point, frame

    point = chart_point(_result(100_000, "2026-11-29T02:44:00+00:00", 0.1, 20.0))
    series = {row.series: row.seconds for row in frame([point]).itertuples()}
    # No seed point when the JDBC baseline was skipped; the whole ELT leaves out extract.
    assert series == {"floor: COPY": 0.1, "project: whole ELT": 2.0, "project: end to end": 20.0}


def test_a_recorded_size_replaces_only_its_own_point_and_smoke_sizes_are_not_charted(tmp_path):
    from benchmarks.chart import read, record, subtitle

    path = tmp_path / "benchmarks.json"
    record(_result(10_000_000, "2026-11-29T14:24:00+00:00", 15.7, 202.0), path)
    record(_result(1_000_000, "2026-11-28T10:00:00+00:00", 1.5, 50.0), path)
    record(_result(1_000_000, "2026-11-29T16:57:10+00:00", 2.2, 67.2), path)  # a fresh clone's bench of one size
    record(_result(300, "2026-11-29T17:00:00+00:00", 0.01, 5.0), path)  # the smoke test's size
    recorded = read(path)
    assert [(p["rows"], p["measured_at"], p["seconds"]["floor: COPY"]) for p in recorded] == [
        (1_000_000, "2026-11-29T16:57:10+00:00", 2.2), (10_000_000, "2026-11-29T14:24:00+00:00", 15.7)]
    assert subtitle(recorded) == "measured 1,000,000 rows 2026-11-29 16:57 UTC · 10,000,000 rows 2026-11-29 14:24 UTC"


def test_a_ratio_just_over_its_target_fails_even_if_it_rounds_to_it():
    from benchmarks.report import lines

    result = {
        "rows": 1_000_000, "floor_copy_seconds": 1.0, "seed_jdbc_seconds": 16.09, "spark_start_seconds": 7.0,
        "project_end_to_end_seconds": 50.0,
        "project_stages": {"extract": 30.0, "load": 1.59, "dwh": 4.28, "mrt": 4.25, "tests": 0.91, "publish": 0.28},
        "export": {"customers": 10, "csv_bytes": 1000, "project_seconds": 1.2, "project_peak_bytes": 1100,
                   "copy_to_seconds": 1.0, "copy_to_peak_bytes": 0},
        "dashboard_queries": {},
    }
    printed = lines(result)
    # 11.31 s / 16.09 s = 0.7029...: over the 0.7 target although it rounds to 0.70.
    assert "| whole ELT ÷ seed load | 0.703 ❌ | ≤ 0.7 |" in printed
    assert "| raw load ÷ COPY floor | 1.590 ✅ | ≤ 2.5 |" in printed


def _round(seed: float, whole_parts: tuple[float, float], end_to_end: float) -> dict:
    load, build = whole_parts
    return {"floor_copy_seconds": 1.0, "seed_jdbc_seconds": seed, "spark_start_seconds": 6.0,
            "project_end_to_end_seconds": end_to_end,
            "project_stages": {"extract": 30.0, "load": load, "dwh": build, "mrt": 0.0, "tests": 0.0, "publish": 0.0}}


def test_the_median_round_by_whole_elt_over_seed_is_shown_and_every_round_is_listed():
    from benchmarks.report import median_round, round_lines

    rounds = [
        _round(10.0, (2.0, 6.0), 50.0),  # 0.80
        _round(16.0, (1.0, 9.0), 45.0),  # 0.625
        _round(12.0, (1.5, 6.9), 48.0),  # 0.70
    ]
    assert median_round(rounds) is rounds[2]
    assert median_round(rounds[:2]) is rounds[1]  # of two, the lower one
    printed = round_lines(rounds)
    assert "| 1 | 1.00 | 10.00 | 8.00 | 50.00 | 0.800 | 2.000 |" in printed
    assert "| 2 | 1.00 | 16.00 | 10.00 | 45.00 | 0.625 | 1.000 |" in printed
    assert "| 3 | 1.00 | 12.00 | 8.40 | 48.00 | 0.700 | 1.500 |" in printed
    assert round_lines(rounds[:1]) == []
