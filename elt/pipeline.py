"""One ELT run: extract -> load -> build -> test -> publish, with a run lock, a run log and stage timings."""
from __future__ import annotations

import logging
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from elt import build, class_archive, db, refused, runlog
from elt.config import SAMPLE_PATH, Settings
from elt.errors import DataTestFailed, EltError, InputError, TooManyRejects, first_line
from elt.extract import read_header, read_orders
from elt.input_file import absolute_input, check_input, check_unchanged, input_fingerprint, scan_input
from elt.load import copy_files
from elt.lock import run_lock
from elt.progress import live_line, spark_stages
from elt.spark import build_spark_session, session_archive
from elt.stage import ACCEPTED, REJECTED, Staged, new_directory, read_rejected, write_staged
from elt.validate import RAW_ORDER_COLUMNS, REASON_SEPARATOR, REJECT_COLUMNS, REJECT_REASON, validate

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
TOP_REASONS = 3
STAGE_LINE_WIDTH = 66
STAGED_ORDERS = f"{build.STAGING_SCHEMA}.orders"
STAGED_REJECTS = f"{build.STAGING_SCHEMA}.orders_rejected"
STAGING_DIR = "staging"  # under the data directory: the run's COPY files between extract and load


@dataclass
class RunResult:
    """What a finished run did."""

    run_id: int
    input_path: str
    stats: runlog.RunStats
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0


def run(
    settings: Settings,
    input_path: str | None = None,
    *,
    triggered_by: str = "cli",
    report: Report = print,
    spark=None,
) -> RunResult:
    """Run the whole ELT once. Raises EltError (one line) for every expected failure."""
    input_path = absolute_input(input_path or str(SAMPLE_PATH))
    url = db.resolve_url(settings)
    with run_lock(url) as log_conn:
        runlog.ensure_schema(log_conn)
        if runlog.close_interrupted(log_conn):
            report("note: an earlier run had been interrupted; it is now marked failed in meta.elt_runs")
        run_id = runlog.start(log_conn, input_path, triggered_by)
        report(f"ELT run {run_id}: {input_path} -> {db.masked(url)}")
        current = _Run(settings, url, log_conn, run_id, input_path, report)
        try:
            result = current.execute(spark)
        except BaseException as exc:
            failure = db.run_failure(exc, url, current.stage_name)
            runlog.finish(log_conn, run_id, current.stats, error=_one_line(failure or exc), url=url)
            if failure:
                raise failure from exc
            raise
        runlog.finish(log_conn, run_id, current.stats, url=url)
    if spark is None:  # this run started its own JVM: later ones start sooner with its classes archived
        class_archive.record_in_background(settings, session_archive(settings))
    return result


def _one_line(exc: BaseException) -> str:
    """The message a failed run records: ours as is, anything else prefixed as unexpected."""
    if isinstance(exc, EltError):
        return str(exc)
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "interrupted: the run was stopped before it finished"
    return f"unexpected error: {type(exc).__name__}: {first_line(exc, empty='')}"


class _Run:
    """The stages of one run, sharing its settings, connections and counters."""

    def __init__(self, settings: Settings, url: str, log_conn, run_id: int, input_path: str, report: Report) -> None:
        self.settings = settings
        self.input_path = input_path
        self.url = url
        self.log_conn = log_conn
        self.run_id = run_id
        self.report = report
        self.stats = runlog.RunStats()
        self.sections = build.build_order()
        self.stage_name = "start"

    @contextmanager
    def stage(self, name: str, detail: Callable[[], str] = lambda: "") -> Iterator[list[str]]:
        """Time a stage, record it in the run log, and print one line with what the stage says it did; on a
        terminal, a live line says how long it has been running (and `detail`) meanwhile."""
        self.stage_name = name
        runlog.progress(self.log_conn, self.run_id, name, self.stats)
        said: list[str] = []
        started = time.perf_counter()
        with live_line(sys.stdout, name, detail):
            yield said
        seconds = time.perf_counter() - started
        self.stats.stage_seconds[name] = seconds
        text = " · ".join(said)
        if len(text) <= STAGE_LINE_WIDTH:
            self.report(f"  {name:<8} {text:<{STAGE_LINE_WIDTH}} {seconds:6.1f} s")
        else:
            self.report(f"  {name:<8} {'':<{STAGE_LINE_WIDTH}} {seconds:6.1f} s")
            for item in said:
                self.report(f"  {'':<8}   {item}")

    def execute(self, spark) -> RunResult:
        """Run every stage in order; any failure leaves the published layers as they were."""
        started = time.perf_counter()
        fingerprint = input_fingerprint(self.input_path)
        check_input(self.input_path)
        with db.connection(self.url) as conn:
            build.check_server_version(conn)
            build.check_time_zone(conn, self.settings.business_time_zone)
        # The whole-file scan runs on one core while the JVM starts (this thread only waits for it). At 10M orders,
        # three alternating pairs: scan 2.3-2.7 s then Spark 6.2-7.1 s, 8.5-9.9 s in all; side by side 6.7-7.7 s.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="input-scan") as pool:
            scanning = pool.submit(scan_input, self.input_path)
            with self.stage("spark") as said:
                spark = spark or build_spark_session(self.settings)
                said.append(f"Spark {spark.version} on {spark.sparkContext.master}")
            multi_line = scanning.result()
        staged, top_reasons = self.extract(spark, self.input_path, multi_line)
        try:
            self.load(staged)
        finally:
            shutil.rmtree(staged.directory, ignore_errors=True)
        check_unchanged(self.input_path, fingerprint)  # Spark reads lazily: until here it may have re-read it
        self.build_and_publish()
        result = RunResult(self.run_id, self.input_path, self.stats, top_reasons, time.perf_counter() - started)
        self.report(summary(result))
        return result

    def extract(self, spark, input_path: str, multi_line: bool) -> tuple[Staged, list[tuple[str, int]]]:
        """Read and validate the input into staged COPY files; count rows, rejects and duplicates; refuse a
        broken export. `multi_line` false: no record spans lines, so Spark may split the file over the cores."""
        with self.stage("extract", lambda: spark_stages(spark)) as said:
            directory = new_directory(self.settings.data_dir / STAGING_DIR, self.run_id)
            try:  # a refused input leaves no staged files behind
                staged, top = stage_orders(spark, input_path, multi_line, directory)
                read, rejects, duplicates = staged.read, staged.rejected, staged.duplicates
                self.stats.rows_read, self.stats.rows_rejected, self.stats.rows_duplicate = read, rejects, duplicates
                check_reject_share(read, rejects, self.settings.max_reject_share, top)
            except TooManyRejects as refusal:
                kept = self.keep_refused(refusal, staged)
                shutil.rmtree(directory, ignore_errors=True)
                raise kept from None
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            said.append(f"{read:,} rows read · {rejects:,} rejected · {duplicates:,} exact duplicates dropped")
        return staged, top

    def keep_refused(self, refusal: TooManyRejects, staged: Staged) -> TooManyRejects:
        """Keep a refused run's rejected rows for the data team (`elt.refused`); the refusal, saying so when they
        were kept. Failing to keep them must not hide why the run failed: then the refusal as it was."""
        try:
            kept = refused.keep(self.url, self.run_id, staged.files(REJECTED), REJECT_COLUMNS)
        except Exception:  # noqa: BLE001 - the run fails for its rejects either way
            logger.warning("could not keep the refused run's rejected rows", exc_info=True)
            return refusal
        where = f"the Data pipeline page ({refused.TABLE})"
        return TooManyRejects(f"{refusal}; its {kept:,} rejected rows are kept for {where}")

    def load(self, staged: Staged) -> None:
        """COPY the staged accepted and rejected rows into the staging raw layer, a few files in parallel."""
        with self.stage("load") as said:
            lineage = {"run_id": self.run_id, "loaded_at": datetime.now(timezone.utc)}
            with db.connection(self.url) as conn:
                build.prepare_staging(conn, self.sections["raw"], lineage)
                loaded = copy_files(self.url, STAGED_ORDERS, RAW_ORDER_COLUMNS, staged.files(ACCEPTED))
                copy_files(self.url, STAGED_REJECTS, REJECT_COLUMNS, staged.files(REJECTED))
                build.clear_lineage_defaults(conn, self.sections["raw"], lineage.keys())
            expected = staged.read - staged.rejected - staged.duplicates
            if loaded != expected:
                raise DataTestFailed(f"load check failed: {loaded:,} orders copied but {expected:,} accepted, nothing was published")
            self.stats.rows_loaded = loaded
            said.append(f"{loaded:,} orders and {self.stats.rows_rejected:,} rejects copied into raw")

    def build_and_publish(self) -> None:
        """In one transaction: swap in the staged raw layer, build dwh and mrt, test, commit."""
        conn = db.connect(self.url, application_name="elt-build")
        try:
            with conn.cursor() as cur:
                parameters = {
                    "input_path": self.input_path,
                    "business_time_zone": self.settings.business_time_zone,
                    "orders_loaded": self.stats.rows_loaded,
                }
                build.swap_in_staging(cur, self.run_id, parameters)
                for layer in ("dwh", "mrt"):
                    self.build_layer(cur, layer)
                with self.stage("tests") as said:
                    passed = build.run_data_tests(cur, self.sections["tests"])
                    said.append(f"{passed} data tests passed")
            with self.stage("publish") as said:
                conn.commit()
                build.drop_retired(conn)
                said.append("raw, dwh and mrt published together in one commit")
        finally:
            conn.close()  # without a commit, closing rolls the whole build back

    def build_layer(self, cur, layer: str) -> None:
        """Run one layer's models, printing each table's row count (or that a model is a view)."""
        models = self.sections[layer]
        started: list[str] = []  # the tables whose model has started, for the live line
        with self.stage(layer, lambda: building_detail(started, len(models))) as said:
            build.run_models(
                cur, models, lambda m, rows, _s: said.append(model_line(m.table, rows)),
                on_start=lambda m: started.append(m.table),
            )


def building_detail(started: list[str], total: int) -> str:
    """What a layer's live line says: the model being built, and how far the layer is."""
    return f"building {started[-1]} ({len(started)} of {total})" if started else ""


def model_line(table: str, rows: int | None) -> str:
    """How a run reports one built model: its row count, or that it is a view (nothing stored to count)."""
    return f"{table} (view)" if rows is None else f"{table} {rows:,}"


def stage_orders(spark, input_path: str, multi_line: bool, directory: Path) -> tuple[Staged, list[tuple[str, int]]]:
    """Spark's part of a run: read and validate the input, write the staged COPY files under `directory`, and
    summarise the reject reasons. The JVM class-archive recorder (`elt.class_archive`) runs it on the sample."""
    header = read_header(spark, input_path)
    staged = write_staged(validate(read_orders(spark, input_path, header, multi_line=multi_line)), directory)
    if staged.read == 0:
        raise InputError(f"input has a header but no data rows: {input_path}")
    return staged, top_reject_reasons(read_rejected(spark, staged)) if staged.rejected else []


def top_reject_reasons(validated_df: DataFrame, limit: int = TOP_REASONS) -> list[tuple[str, int]]:
    """The most common kinds of reject reason (the text before the quoted value), with their counts."""
    kinds = validated_df.where(F.col(REJECT_REASON).isNotNull()).select(
        F.explode(F.split(F.col(REJECT_REASON), REASON_SEPARATOR)).alias("reason")
    ).select(F.regexp_extract("reason", r"^([^:]+)", 1).alias("kind"))
    rows = kinds.groupBy("kind").count().orderBy(F.desc("count"), "kind").limit(limit).collect()
    return [(row["kind"], row["count"]) for row in rows]


def check_reject_share(read: int, rejects: int, max_share: float, top: list[tuple[str, int]]) -> None:
    """Refuse a run whose rejected share is above the limit: a broken export, not dirty data."""
    if read and rejects / read > max_share:
        common = ", ".join(f"{count:,} × {kind}" for kind, count in top)
        raise TooManyRejects(
            f"{rejects:,} of {read:,} rows rejected ({rejects / read:.1%}), more than the allowed "
            f"{max_share:.1%}: this looks like a broken export, nothing was published (most common: {common})"
        )


def summary(result: RunResult) -> str:
    """The closing lines of a successful run."""
    stats = result.stats
    share = (stats.rows_rejected or 0) / stats.rows_read if stats.rows_read else 0.0
    lines = [
        f"Run {result.run_id} succeeded in {result.seconds:.1f} s: {stats.rows_read:,} rows read, "
        f"{stats.rows_loaded:,} orders loaded, {stats.rows_rejected:,} rejected ({share:.1%}), "
        f"{stats.rows_duplicate:,} exact duplicates dropped."
    ]
    if result.top_reasons:
        common = ", ".join(f"{count:,} × {kind}" for kind, count in result.top_reasons)
        lines.append(f"Rejected rows are in raw.orders_rejected (most common: {common}).")
    return "\n".join(lines)
