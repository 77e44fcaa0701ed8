"""The one place that builds the SparkSession; everything else receives it."""
from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from elt import class_archive
from elt.config import Settings

logger = logging.getLogger(__name__)

APP_NAME = "marketing-elt"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
# Enough shuffle partitions that each validation task sorts its share of 10M rows in memory (with 8 the tasks
# spilled 1.5 GB to disk: extract 137 s -> 128 s); adaptive execution coalesces them for small inputs.
SHUFFLE_PARTITIONS = 32
# Spark compiles each stage into one Java method per operator; the validation's projection is larger than the
# 8,000 bytes of bytecode the JVM's JIT compiles by default, so without this it ran interpreted, about 2x slower.
JIT_HUGE_METHODS = "-XX:-DontCompileHugeMethods"
# The throughput collector instead of Java 17's default G1: a run is a batch job, where pauses do not matter and
# G1's concurrent work and write barriers cost CPU the tasks need (2 cores, same session: extract of 10M orders
# 93-94 s against 104 s; of 1M 24-27 s against 25-30 s).
PARALLEL_GC = "-XX:+UseParallelGC"
# Where a user may already have chosen a collector for every JVM: the JVM refuses to start with two.
JAVA_OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")
COLLECTOR_CHOICE = re.compile(r"-XX:\+Use\w+GC\b")


def build_spark_session(settings: Settings, jars: list[str] | None = None, *, record_classes: bool = False):
    """Start (or reuse) the SparkSession for an ELT run: quiet, UTC, our Python on the executors.

    `jars` adds JVM libraries (the benchmark's JDBC baseline needs the PostgreSQL driver). A JVM this starts maps
    the class archive when there is one (`elt.class_archive`), or records it with `record_classes`.
    """
    warnings.filterwarnings("ignore", module="pyspark")
    warnings.filterwarnings("ignore", message=".*pandas.*")
    # Executors must run the same Python (with pyarrow and psycopg2) as the driver, unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    log_path = settings.data_dir / "logs" / "spark.log"
    java_options = _java_options()
    archive = session_archive(settings)
    archive_option = archive.record_option() if record_classes else archive.map_option()
    with _stderr_to(log_path):  # the JVM (and its Python workers) keep writing their console noise there
        builder = _builder(SparkSession, settings, java_options, archive_option)
        if jars:
            builder = builder.config("spark.jars", ",".join(jars))
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    logger.info("spark session on %s (version %s), JVM output in %s", settings.spark_master, spark.version, log_path)
    return spark


def session_archive(settings: Settings) -> class_archive.ClassArchive:
    """The class archive for the JVM `build_spark_session` starts with these settings."""
    from pyspark import __version__ as spark_version

    return class_archive.for_session(spark_version, _java_options(), settings.spark_driver_memory)


def _java_options() -> str:
    """The JVM options of the driver (and of executors elsewhere): logging, JIT and collector."""
    return (
        f"-Dlog4j.configurationFile=file:{LOG_CONFIG} -Dlog4j2.configurationFile=file:{LOG_CONFIG} "
        f"{JIT_HUGE_METHODS} {collector_option(os.environ)}"
    )


def collector_option(environ: Mapping[str, str]) -> str:
    """The Parallel collector, unless the environment already chose a collector for every JVM (then theirs)."""
    chosen = " ".join(environ.get(name, "") for name in JAVA_OPTION_VARIABLES)
    return "" if COLLECTOR_CHOICE.search(chosen) else PARALLEL_GC


def _builder(session_class, settings: Settings, java_options: str, archive_option: str = ""):
    """The session configuration: quiet, UTC, few shuffle partitions; the class archive for the driver's JVM."""
    return (
        session_class.builder.appName(APP_NAME)
        .master(settings.spark_master)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.driver.extraJavaOptions", f"{java_options} {archive_option}".strip())
        .config("spark.executor.extraJavaOptions", java_options)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Local files through Hadoop's raw file system, not its checksumming one, which looks for a ".<name>.crc"
        # beside every file it reads and builds that name as a URI: a file named with a colon (a time,
        # `orders 2024-12-01T10:00.csv`) failed with "Relative path in absolute URI". It also wrote a .crc beside
        # every staged file (stage of 1M orders, three alternating pairs: 16.2-17.1 s against 17.0-17.7 s).
        .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
    )


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at a log file while the JVM starts, so the console shows only our lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
