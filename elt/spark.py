"""The one place that builds the SparkSession; everything else receives it."""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

from elt.config import Settings

logger = logging.getLogger(__name__)

APP_NAME = "marketing-elt"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
# Small local inputs do not need Spark's 200 shuffle partitions; adaptive execution coalesces further.
SHUFFLE_PARTITIONS = 8


def build_spark_session(settings: Settings):
    """Start (or reuse) the SparkSession for an ELT run: quiet, UTC, our Python on the executors."""
    warnings.filterwarnings("ignore", module="pyspark")
    warnings.filterwarnings("ignore", message=".*pandas.*")
    # Executors must run the same Python (with pyarrow and psycopg2) as the driver, unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    java_options = f"-Dlog4j.configurationFile=file:{LOG_CONFIG} -Dlog4j2.configurationFile=file:{LOG_CONFIG}"
    spark = (
        SparkSession.builder.appName(APP_NAME)
        .master(settings.spark_master)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", java_options)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    logger.info("spark session on %s (version %s)", settings.spark_master, spark.version)
    return spark
