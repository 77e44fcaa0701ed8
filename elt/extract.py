"""Read the orders CSV with Spark: check the header, then read every field as text with the raw record kept."""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.errors import AnalysisException

from elt.contract import COLUMNS, check_header
from elt.errors import InputError

logger = logging.getLogger(__name__)

CORRUPT_COLUMN = "_corrupt_record"
RAW_RECORD = "raw_record"
SOURCE_FILE = "source_file"
# RFC 4180: fields may hold commas, quotes (doubled) and line breaks.
CSV_OPTIONS = {
    "encoding": "UTF-8",
    "quote": '"',
    "escape": '"',
    "multiLine": "true",
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
}

# Rebuilding a record keeps the fields' surrounding spaces (Spark's CSV writer trims them by default).
REBUILD_OPTIONS = {
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}
ONLY_BOM_OR_BLANK = b"\xef\xbb\xbf \t\r\n"
HEAD_BYTES = 64


def absolute_input(path: str) -> str:
    """A local input path made absolute (so the run log names the file unambiguously); URLs unchanged."""
    if urlparse(path).scheme in ("", "file") and not path.startswith("file:"):
        return str(Path(path).expanduser().resolve())
    return path


def check_input_exists(path: str) -> None:
    """Fail early with one line when a local input path does not exist or is not readable."""
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file"):
        return  # remote storage: Spark will tell
    local = Path(parsed.path if parsed.scheme == "file" else path)
    if not local.exists():
        raise InputError(f"input file not found: {path}")
    if local.is_dir() and not any(child.is_file() for child in local.iterdir()):
        raise InputError(f"input directory has no files: {path}")
    if local.is_file() and _is_blank(local):
        raise InputError(f"input file is empty (no header row): {path}")


def _is_blank(path: Path) -> bool:
    """Whether a file holds nothing but a BOM and whitespace (read from its start only)."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return head.strip(ONLY_BOM_OR_BLANK) == b"" and path.stat().st_size <= HEAD_BYTES


def read_header(spark: SparkSession, path: str) -> list[str]:
    """The header row's column names as written in the file, after checking them against the contract."""
    try:
        first = spark.read.options(**CSV_OPTIONS).option("header", "false").csv(path).first()
    except AnalysisException as exc:
        raise InputError(f"cannot read input {path}: {_first_line(exc)}") from None
    if first is None:
        raise InputError(f"input is empty (no header row): {path}")
    names = [value or "" for value in first]
    check_header(names)
    return names


def read_orders(spark: SparkSession, path: str, header: list[str]) -> DataFrame:
    """All fields as text in contract order, plus the raw record text and the source file of each row.

    `header` is the file's header as `read_header` returned it (names as written, e.g. with spaces); Spark
    checks every file's header against it by position, and the columns are then selected by contract name.
    """
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(CORRUPT_COLUMN, T.StringType())]
    )
    raw_df = (
        spark.read.options(**CSV_OPTIONS)
        .option("header", "true")
        .option("enforceSchema", "false")  # every file's header must match the first one's, by position
        .schema(schema)
        .csv(path)
    )
    as_written = dict(zip(check_header(header), header))
    fields = [F.col(f"`{name}`") for name in header]
    # Well-formed rows have no corrupt-record text: rebuild their record from the fields, in file order.
    rebuilt = F.to_csv(F.struct(*fields), REBUILD_OPTIONS)
    return raw_df.select(
        *[F.col(f"`{as_written[name]}`").alias(name) for name in COLUMNS],
        F.coalesce(F.col(CORRUPT_COLUMN), rebuilt).alias(RAW_RECORD),
        F.col(CORRUPT_COLUMN).isNotNull().alias("is_malformed"),
        F.col("_metadata.file_path").alias(SOURCE_FILE),
    )


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, without Spark's error-class prefix noise."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text
