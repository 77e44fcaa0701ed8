"""`make bench`: the project's ELT, export and dashboard queries against baselines, measured in one run.

Baselines on the same file and database: the floor (a plain PostgreSQL COPY of the CSV into an untyped table) and
the seed design (Spark's typed read, then Spark's JDBC writer with default options). Prints a table with ratios,
writes JSON under .data/bench/results/, and appends a dated entry to docs/benchmarks.md (and its size's point of the
chart to docs/benchmarks.json).

Each contender starts on a checkpointed server (`settle`): none pays for flushing what the one before it wrote.
After the project's run the bench does the maintenance autovacuum would do on its new tables (`maintain`: vacuum
and analyze, timed and reported apart from the whole ELT), so it does not land, at random, in the next contender.
The floor, the seed and the project's run take turns for several rounds (3 up to 1M rows); the table shows the
median round and lists every round's ratios, so one noisy round does not decide a verdict.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg2.errors

from benchmarks import server
from benchmarks.measure import latencies, timed
from benchmarks.seed import JDBC_JAR
from elt import class_archive, db, embedded_pg
from elt.config import PROJECT_ROOT
from elt.contract import COLUMNS
from elt.sample import write_sample

logger = logging.getLogger(__name__)

BENCH_DIR = PROJECT_ROOT / ".data" / "bench"
RESULTS_DIR = BENCH_DIR / "results"
REPORT = PROJECT_ROOT / "docs" / "benchmarks.md"
QUERY_REPEAT = 20
EXPORT_REPEAT = 5


def input_file(rows: int) -> Path:
    """The generated orders file for this size (kept between runs; generated with the project's generator)."""
    path = BENCH_DIR / f"orders_{rows}.csv"
    if not path.exists():
        print(f"generating {rows:,} orders into {path} …", flush=True)
        write_sample(path, rows)
    return path


def settle(url: str) -> None:
    """Write out everything earlier work left in the server's buffers and WAL, so the next contender starts clean."""
    with db.connection(url) as conn, conn.cursor() as cur:
        conn.autocommit = True
        try:
            cur.execute("checkpoint")
        except psycopg2.errors.InsufficientPrivilege:
            logger.warning("no CHECKPOINT privilege on this server: contenders may pay for each other's writes")


PENDING_MAINTENANCE = """
    select format('%I.%I', schemaname, relname)
    from pg_stat_user_tables
    where n_ins_since_vacuum > 0 or n_mod_since_analyze > 0
"""


def maintain(url: str) -> float:
    """Seconds to vacuum and analyze every table written since its last vacuum or analyze.

    That is the work autovacuum starts within a minute of a run (at 1M orders several seconds of one core, after
    every run). Left to autovacuum it overlapped whichever contender ran next, and made the next run's drop of its
    retired layers wait; done here, between contenders, its cost is measured instead.
    """
    with db.connection(url) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute(PENDING_MAINTENANCE)
        tables = [row[0] for row in cur.fetchall()]
        with timed() as timing:
            for table in tables:
                cur.execute(f"vacuum (analyze) {table}")
    return timing.seconds


def floor_copy(url: str, path: Path) -> float:
    """Seconds for COPY of the file into an untyped table: what the database can do at best."""
    columns = ", ".join(f"{name} text" for name in COLUMNS)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(f"drop schema if exists bench_floor cascade; create schema bench_floor; create table bench_floor.orders ({columns})")
        conn.commit()
        with timed() as timing, path.open("rb") as handle:
            cur.copy_expert("copy bench_floor.orders from stdin with (format csv, header)", handle)
            conn.commit()
        cur.execute("drop schema bench_floor cascade")
        conn.commit()
    return timing.seconds


def seed_jdbc(url: str, path: Path) -> dict:
    """The seed design's load, in a process of its own (`benchmarks.seed`): its Spark start-up and load seconds."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.seed", url, str(path), str(BENCH_DIR)], cwd=PROJECT_ROOT,
                          check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def class_archive_exists() -> bool:
    """Whether the project's run (and the seed's) will start Spark with the JVM class archive (`elt.class_archive`)."""
    from elt.config import load_settings
    from elt.spark import session_archive

    return bool(session_archive(load_settings()).map_option())


def end_to_end(url: str, path: Path) -> tuple[float, dict[str, float]]:
    """Seconds of `python -m elt run` as a user runs it, and the seconds of each of its stages (Spark start-up
    included) as that run recorded them in meta.elt_runs (one run gives both: a 10M-row run is long)."""
    env = {**os.environ, "DATABASE_URL": url, "ELT_DATA_DIR": str(BENCH_DIR)}
    with timed() as timing:
        subprocess.run([sys.executable, "-m", "elt", "run", "--input", str(path)], cwd=PROJECT_ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    # A run that found no JVM class archive starts one being recorded in the background: let it finish before
    # anything else is timed.
    class_archive.wait_for_recorder()
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select stage_seconds from meta.elt_runs where status = 'succeeded' order by run_id desc limit 1")
        stages = cur.fetchone()[0]
    return timing.seconds, {name: round(seconds, 3) for name, seconds in stages.items()}


def export(url: str, repeat: int = EXPORT_REPEAT) -> dict[str, float]:
    """The full February audience through the app's export code, against COPY (the same query) TO STDOUT.

    Both run once untimed, then `repeat` times each, taking turns and swapping who goes first, and the medians are
    compared: a single pair favoured whichever ran second (the mart was then in the cache) and varied by ±40 %.
    Peak memory is traced in calls of its own, so tracing does not slow the timed ones.
    """
    from dashboard import data
    from dashboard.audience import AudienceFilter

    everyone = AudienceFilter(opted_in_only=False)
    export_sql, params = data.audience_export_sql("february", everyone, "Europe/Amsterdam", semicolons=False)
    data.publication()  # open the app's connection pool first, as a running app has
    with db.connection(url) as conn, conn.cursor() as cur:
        bound = cur.mogrify(export_sql, params).decode()

        def ours() -> bytes:
            return data.audience_csv("february", everyone, "Europe/Amsterdam", semicolons=False)

        def copy_to() -> None:
            cur.copy_expert(f"copy ({bound}) to stdout with (format csv, header)", _CountingSink())

        payload = ours()
        copy_to()
        seconds: dict[str, list[float]] = {"ours": [], "copy_to": []}
        for turn in range(repeat):
            pair = (("ours", ours), ("copy_to", copy_to))
            for name, call in pair if turn % 2 == 0 else reversed(pair):
                with timed() as timing:
                    call()
                seconds[name].append(timing.seconds)
        with timed(trace_memory=True) as ours_memory:
            ours()
        with timed(trace_memory=True) as copy_to_memory:
            copy_to()
    return {
        "customers": payload.count(b"\n") - 1,
        "csv_bytes": len(payload),
        "repeat": repeat,
        "project_seconds": round(statistics.median(seconds["ours"]), 6),
        "project_peak_bytes": ours_memory.peak_bytes,
        "copy_to_seconds": round(statistics.median(seconds["copy_to"]), 6),
        "copy_to_peak_bytes": copy_to_memory.peak_bytes,
    }


class _CountingSink:
    """A file-like object that only counts what COPY writes."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        return len(chunk)


def dashboard_queries() -> dict[str, dict[str, float]]:
    """p50/p95 of each page's queries with typical filters, uncached (the cache would hide the database)."""
    from dashboard import data
    from dashboard.audience import AudienceFilter

    publication = data.publication()
    version, tz = publication.run_id, publication.business_time_zone
    typical = AudienceFilter(years=(2024,), countries=("NL",))
    calls = {
        "overview: publication": lambda: data.publication(),
        "overview: headline": lambda: data.headline.__wrapped__(version),
        "audience: filter options": lambda: data.filter_options.__wrapped__(version, "february"),
        "audience: size, default filters": lambda: data.audience_summary.__wrapped__(version, "february", AudienceFilter()),
        "audience: size, 2024 + NL": lambda: data.audience_summary.__wrapped__(version, "february", typical),
        "audience: preview page 1": lambda: data.audience_preview.__wrapped__(version, "february", AudienceFilter(), 1, tz),
        "audience: preview 2024 + NL": lambda: data.audience_preview.__wrapped__(version, "december", typical, 1, tz),
        "audience: search 'van'": lambda: data.audience_summary.__wrapped__(version, "december", AudienceFilter(search="van")),
        "orders by month": lambda: data.orders_by_month.__wrapped__(version),
        "pipeline: run history": lambda: data.run_history.__wrapped__(),
        "pipeline: rejects": lambda: data.latest_rejects.__wrapped__(data.RejectedRows(version)),
        "pipeline: reject count": lambda: data.reject_count.__wrapped__(data.RejectedRows(version)),
        "pipeline: rejects by reason": lambda: data.reject_reasons.__wrapped__(data.RejectedRows(version)),
        "sidebar: run in progress": lambda: data.run_in_progress(),
    }
    return {name: latencies(call, QUERY_REPEAT) for name, call in calls.items()}


def default_rounds(rows: int) -> int:
    """Rounds of the timed contenders: three up to 1M rows (back-to-back runs on this machine differ by 10-30 %,
    so one round can pass or fail a target by chance), one above (a 10M round takes ~8 minutes)."""
    return 3 if rows <= 1_000_000 else 1


def measure_round(url: str, path: Path, with_seed: bool) -> dict:
    """One round of the timed contenders on the same file, in turn, each on a checkpointed server."""
    measured: dict = {"seed_jdbc_seconds": None}
    settle(url)
    measured["floor_copy_seconds"] = round(floor_copy(url, path), 3)
    if with_seed and not JDBC_JAR.exists():
        print(f"seed baseline skipped: {JDBC_JAR} not found (apt-get install libpostgresql-jdbc-java)")
    elif with_seed:
        settle(url)
        measured.update(seed_jdbc(url, path))
    settle(url)
    measured["class_archive_mapped"] = class_archive_exists()
    seconds, stages = end_to_end(url, path)
    measured["spark_start_seconds"] = stages.pop("spark")
    measured["project_stages"] = stages
    measured["project_end_to_end_seconds"] = round(seconds, 3)
    measured["maintenance_seconds"] = round(maintain(url), 3)
    return measured


def measure(rows: int, with_seed: bool, rounds: int = 1) -> dict:
    """Every measurement for one size. The timed contenders run `rounds` times, interleaved; the result's
    timings are those of the median round (see `report.median_round`), and every round is kept under "rounds"."""
    from benchmarks import report

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = input_file(rows)
    with embedded_pg.serving(BENCH_DIR, server.start) as url:  # stopped afterwards unless it was already running
        os.environ["DATABASE_URL"] = url  # the dashboard's data module reads it
        measured = []
        for number in range(1, rounds + 1):
            if rounds > 1:
                print(f"round {number} of {rounds} …", flush=True)
            measured.append(measure_round(url, path, with_seed))
        results: dict = {"rows": rows, "file_bytes": path.stat().st_size, **report.median_round(measured), "rounds": measured}
        results["export"] = export(url)
        results["dashboard_queries"] = dashboard_queries()
    results["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return results


def _quiet_streamlit_outside_the_app() -> None:
    """The bench calls the app's cached data functions without a running app, and Streamlit warns "No runtime
    found" once per function as the data module loads. Its loggers exist once streamlit is imported."""
    import streamlit  # noqa: F401

    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for one size and record it."""
    from benchmarks import chart, report

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders in the generated file (default 1M)")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed design's JDBC baseline")
    parser.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md (nor chart)")
    parser.add_argument("--rounds", type=int, help="rounds of the timed contenders (default 3 up to 1M rows, else 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    _quiet_streamlit_outside_the_app()
    rounds = args.rounds or default_rounds(args.rows)
    results = measure(args.rows, with_seed=not args.no_seed, rounds=max(1, rounds))
    results["ratios"] = report.ratios(results)
    results["machine"] = report.machine()
    results["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bench_{args.rows}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    text = "\n".join(report.lines(results))
    print(text)
    print(f"results: {out}")
    if not args.no_record:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        if not REPORT.exists():
            REPORT.write_text("# Benchmarks\n\nAppended by `make bench` (`python -m benchmarks.bench`); newest last.\n\n")
        with REPORT.open("a") as handle:
            handle.write(text + "\n")
        chart.record(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
