"""Write the validated rows once, as CSV files PostgreSQL can COPY: accepted orders and rejects side by side.

One Spark pass writes `outcome=accepted/part-*` (the raw orders contract) and `outcome=rejected/part-*` (the
rejects contract), without the lineage columns (the load gives them as column defaults), and counts rows read,
rejected and dropped as exact duplicates on the way (an Observation), so nothing is cached and nothing passes
through Python. The files are the hand-over to the load stage.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from elt.validate import IS_DUPLICATE, RAW_ORDER_COLUMNS, REJECT_COLUMNS, REJECT_REASON

OUTCOME = "outcome"
ACCEPTED = "accepted"
REJECTED = "rejected"
# What COPY ... (format csv) reads back exactly: doubled quotes, spaces kept, null as an empty unquoted field,
# empty text as "", timestamps with microseconds and offset, true/false.
COPY_CSV_OPTIONS = {
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
}
# PostgreSQL text cannot hold NUL; a rejected record keeps a visible stand-in (U+2400 SYMBOL FOR NULL).
NUL_STAND_IN = "\u2400"


@dataclass(frozen=True)
class Staged:
    """The staged files of one run and what the pass counted."""

    directory: Path
    read: int
    rejected: int
    duplicates: int

    def files(self, outcome: str) -> list[Path]:
        """The non-empty CSV files of one outcome."""
        folder = self.directory / f"{OUTCOME}={outcome}"
        return sorted(p for p in folder.glob("part-*") if p.stat().st_size > 0) if folder.exists() else []


def new_directory(root: Path, run_id: int) -> Path:
    """A fresh directory for one run's files under `root`, after removing those of runs whose process has ended.

    Runs against other databases may share `root` (their run locks do not see each other): each run's
    directory carries its process id, and only directories of dead processes are removed.
    """
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("run_*"):
        pid = old.name.rpartition("_pid")[2]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"run_{run_id}_", suffix=f"_pid{os.getpid()}", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _line(fields: list[Column]) -> Column:
    """One CSV line of these fields."""
    return F.to_csv(F.struct(*fields), COPY_CSV_OPTIONS)


def write_staged(validated_df: DataFrame, directory: Path) -> Staged:
    """Write accepted and rejected rows as COPY-ready CSV under `directory` (replaced); return the counts."""
    outcomes = Observation("outcomes")
    is_rejected = F.col(REJECT_REASON).isNotNull()
    counted = validated_df.observe(
        outcomes,
        F.count(F.lit(1)).alias("read"),
        F.count(F.col(REJECT_REASON)).alias("rejected"),
        F.count(F.when(F.col(IS_DUPLICATE), 1)).alias("duplicates"),
    )
    order_fields = [F.col(name) for name in RAW_ORDER_COLUMNS]
    reject_fields = [F.regexp_replace(F.col(name), "\u0000", NUL_STAND_IN).alias(name) for name in REJECT_COLUMNS]
    lines = counted.where(~F.col(IS_DUPLICATE)).select(
        F.when(is_rejected, F.lit(REJECTED)).otherwise(F.lit(ACCEPTED)).alias(OUTCOME),
        F.when(is_rejected, _line(reject_fields)).otherwise(_line(order_fields)).alias("value"),
    )
    shutil.rmtree(directory, ignore_errors=True)
    lines.write.partitionBy(OUTCOME).mode("overwrite").text(str(directory))
    counts = outcomes.get
    return Staged(directory, counts["read"], counts["rejected"], counts["duplicates"])


def read_rejected(spark: SparkSession, staged: Staged) -> DataFrame:
    """The staged rejects as a DataFrame (for the summary of reasons); empty when there are none."""
    schema = T.StructType([T.StructField(name, T.StringType()) for name in REJECT_COLUMNS])
    files = [str(path) for path in staged.files(REJECTED)]
    if not files:
        return spark.createDataFrame([], schema)
    return spark.read.options(**COPY_CSV_OPTIONS).option("multiLine", "true").schema(schema).csv(files)
