"""Load a DataFrame into a PostgreSQL table with COPY, from every Spark partition in parallel.

Each partition opens its own connection where it runs (an executor on another machine talks to PostgreSQL
itself), turns its Arrow batches into CSV bytes with pyarrow's C++ writer and streams them into COPY. No row
passes through the driver and none through Python one by one. A partition commits once, at its end.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Iterator

from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

ROWS_COLUMN = "rows"
APPLICATION_NAME = "elt-load"


def copy_statement(table: str, columns: Iterable[str]) -> str:
    """The COPY statement for a fixed, trusted table and column list."""
    return f"copy {table} ({', '.join(columns)}) from stdin with (format csv)"


def partition_writer(dsn: str, statement: str) -> Callable[[Iterator], Iterator]:
    """A function for `mapInArrow` that COPYs one partition's batches and yields its row count."""

    def write_partition(batches: Iterator) -> Iterator:
        import io

        import psycopg2
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        options = pa_csv.WriteOptions(include_header=False)
        rows = 0
        conn = psycopg2.connect(dsn, application_name=APPLICATION_NAME)
        try:
            with conn.cursor() as cur:
                for batch in batches:
                    if batch.num_rows == 0:
                        continue
                    buffer = io.BytesIO()
                    pa_csv.write_csv(batch, buffer, write_options=options)
                    buffer.seek(0)
                    cur.copy_expert(statement, buffer)
                    rows += batch.num_rows
            conn.commit()
        finally:
            conn.close()
        yield pa.RecordBatch.from_pydict({ROWS_COLUMN: [rows]}, schema=pa.schema([(ROWS_COLUMN, pa.int64())]))

    return write_partition


def copy_into(df: DataFrame, table: str, dsn: str) -> int:
    """COPY every row of `df` into `table` (columns matched by name); return the number of rows written."""
    writer = partition_writer(dsn, copy_statement(table, df.columns))
    counts = df.mapInArrow(writer, f"{ROWS_COLUMN} long").collect()
    total = sum(row[ROWS_COLUMN] for row in counts)
    logger.info("copied %d rows into %s from %d partitions", total, table, len(counts))
    return total
