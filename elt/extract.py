"""Read the orders CSV with Spark: check its header, then read every field as text (the file's bytes are checked
before, by elt/input_file.py)."""
from __future__ import annotations

import logging
import operator
import re
from functools import reduce
from typing import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.errors import AnalysisException

from elt.contract import check_header
from elt.errors import InputError, first_line
from elt.input_file import local_path

logger = logging.getLogger(__name__)

CORRUPT_COLUMN = "_corrupt_record"
MALFORMED_RECORD = "malformed_record"
BLANK_LINE = r"^\s*$"  # Java's \s: space, tab, LF, VT, FF, CR
SOURCE_FILE = "source_file"
LINE = "_line"
LINE_POSITION = "_line_position"
LINE_COUNT = "_line_count"
PARSED_LINE = "_parsed_line"
LINE_BREAK = r"\r?\n"
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
_REBUILD_OPTIONS = {
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}
# How one line of a record that swallowed others is read: as Spark's line reader reads a line.
LINE_OPTIONS = {"quote": '"', "escape": '"', "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}
HADOOP_GLOB = re.compile(r"([\\*?\[\]{}])")  # what Spark (Hadoop's globbing) reads as a pattern in a path


def spark_path(path: str) -> str:
    """A local input's path as Spark must be given it to read that file and nothing else. Spark expands
    `* ? [ ] { } \\` in every path it reads as a pattern: `orders [final].csv` would not be found, and `orders*.csv`
    would read `orders1.csv` beside it too. Escaped, each is the character itself. A remote path is left as it is
    (there a pattern is the user's to write; a local one the input checks have already refused as not found)."""
    return HADOOP_GLOB.sub(r"\\\1", path) if local_path(path) is not None else path


def read_header(spark: SparkSession, path: str) -> list[str]:
    """The header row's column names as written in the file, after checking them against the contract."""
    try:
        # Line by line: a multi-line read without a schema lists the files again through Hadoop, by their resolved
        # paths unescaped, so a name holding `[` or `{` was not found. The contract's names hold no line break.
        reader = spark.read.options(**CSV_OPTIONS).option("header", "false").option("multiLine", "false")
        first = reader.csv(spark_path(path)).first()
    except AnalysisException as exc:
        raise InputError(f"cannot read input {path}: {first_line(exc)}") from None
    if first is None:
        raise InputError(f"input is empty (no header row): {path}")
    names = [value or "" for value in first]
    try:
        check_header(names)
    except InputError as exc:
        raise InputError(f"{exc}: {path}") from None
    return names


def read_orders(spark: SparkSession, path: str, header: list[str], *, multi_line: bool = True) -> DataFrame:
    """All fields as text, named by the contract and in the file's order, plus the malformed record and the file.

    `header` is the file's header as `read_header` returned it (names as written, e.g. with spaces); Spark
    checks every file's header against it by position. `malformed_record` holds the record as read when Spark
    could not split it into the header's fields, and is null otherwise: a good row's record is rebuilt from its
    fields later (`validate`), after the rows are spread over the cores, because a multi-line CSV is read by one
    task and that rebuild would otherwise run there. With `multi_line` false (no record spans lines, see
    `scan_input`) Spark splits the file over the cores instead; with it true, a record that swallowed whole rows
    is read again line by line (`split_swallowed_rows`). A line of nothing but whitespace is no record
    with either reader (the line reader skips it; the multi-line reader would call it malformed).
    """
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(CORRUPT_COLUMN, T.StringType())]
    )
    raw_df = (
        spark.read.options(**CSV_OPTIONS)
        .option("multiLine", str(multi_line).lower())
        .option("header", "true")
        .option("enforceSchema", "false")  # every file's header must match the first one's, by position
        .schema(schema)
        .csv(spark_path(path))
    )
    blank = F.col(CORRUPT_COLUMN).isNotNull() & F.col(CORRUPT_COLUMN).rlike(BLANK_LINE)
    names = check_header(header)
    text_df = raw_df.where(~blank).select(
        *[F.col(f"`{as_written}`").alias(name) for as_written, name in zip(header, names)],
        F.col(CORRUPT_COLUMN).alias(MALFORMED_RECORD),
        F.col("_metadata.file_path").alias(SOURCE_FILE),
    )
    return split_swallowed_rows(text_df, names) if multi_line else text_df


def split_swallowed_rows(text_df: DataFrame, names: list[str]) -> DataFrame:
    """Read a record that spans lines line by line when a line of it is a whole record by itself.

    A stray quote in a file read multi-line (`A"n,"n`, or `"Ann` opening a field) opens a quoted field that runs
    on to the next quote in the file, maybe its end: every row in between would be part of one record, malformed
    or with one very long field. Such a record is taken apart into its lines, each read as the line reader would
    (a whole record, or malformed by itself), so the rows it swallowed are checked and kept like any other. A
    record that spans lines none of which is a whole record by itself (a quoted line break, in a good row or in a
    row with a field too many) stays one record.
    A malformed record's lines are those of the record as read. A record Spark could split into its fields has no
    text as read: its lines are those of the record rebuilt from its fields, whose inner lines are the file's
    (they lie inside the one quoted field), while its first and last line, where the stray quote opened and
    closed that field, are not: those two are quarantined as malformed, with their rebuilt text.
    `names`: the contract's names of the fields in the file's order. A transform without I/O. Every row of a
    multi-line read passes through this: a multi-line file of 1M orders took a median 22.3 s to extract against
    20.5 s without it (seven fresh processes each, alternating); files read line by line do not take this path.
    """
    parsed = _line_reader(len(names))
    lines, swallowing = _lines_to_read(names, parsed)
    line, line_position = F.col(LINE), F.col(LINE_POSITION)
    by_line_df = (
        text_df.select(
            "*", F.size(lines).alias(LINE_COUNT), F.posexplode_outer(F.when(swallowing, lines)).alias(LINE_POSITION, LINE)
        )
        .where(line.isNull() | ~line.rlike(BLANK_LINE))
        .select("*", F.when(line.isNotNull(), parsed(line)).alias(PARSED_LINE))
    )
    rebuilt_edge = F.col(MALFORMED_RECORD).isNull() & ((line_position == 0) | (line_position == F.col(LINE_COUNT) - 1))
    from_line = {name: F.col(PARSED_LINE)[f"f{index}"] for index, name in enumerate(names)}
    from_line[MALFORMED_RECORD] = F.when(rebuilt_edge, line).otherwise(F.col(PARSED_LINE)[CORRUPT_COLUMN])
    return by_line_df.select(
        *[F.when(line.isNull(), F.col(name)).otherwise(from_line[name]).alias(name) for name in [*names, MALFORMED_RECORD]],
        F.col(SOURCE_FILE),
    )


def rebuilt_record(fields: list[Column]) -> Column:
    """A record as CSV text rebuilt from its fields (given in the file's order), surrounding spaces kept."""
    return F.to_csv(F.struct(*fields), _REBUILD_OPTIONS)


def _line_reader(field_count: int) -> Callable[[Column], Column]:
    """How one line is read by itself: a struct of its fields (f0, f1, ...) and the corrupt record (null when the
    line is a whole record)."""
    ddl = ", ".join([*(f"f{index} STRING" for index in range(field_count)), f"{CORRUPT_COLUMN} STRING"])
    return lambda line: F.from_csv(line, ddl, LINE_OPTIONS)


def _lines_to_read(names: list[str], parsed: Callable[[Column], Column]) -> tuple[Column, Column]:
    """The lines of a record (as read when it is malformed, else rebuilt from its fields, when one holds a line
    break), and whether to read them one by one: one of them (of a rebuilt record, one of its inner lines) is a
    whole record by itself."""
    fields = [F.col(name) for name in names]
    as_read = F.col(MALFORMED_RECORD)
    has_line_break = reduce(operator.or_, [field.contains("\n") for field in fields])
    record = F.coalesce(as_read, F.when(has_line_break, rebuilt_record(fields)))
    lines = F.split(record, LINE_BREAK)
    inner_lines = F.slice(lines, F.lit(2), F.greatest(F.size(lines) - 2, F.lit(0)))
    candidates = F.when(as_read.isNull(), inner_lines).otherwise(lines)

    def whole(line: Column) -> Column:
        return ~line.rlike(BLANK_LINE) & parsed(line)[CORRUPT_COLUMN].isNull()

    return lines, record.contains("\n") & F.exists(candidates, whole)
