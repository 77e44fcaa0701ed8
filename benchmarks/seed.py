"""The seed design's load in a process (and JVM) of its own: Spark's typed CSV read, then its JDBC writer.

`benchmarks.bench` runs it once per round, so every round's seed starts on a cold JVM as the seed job would, and
no idle JVM stays behind while the project's run is measured (in one shared JVM the later rounds' seed ran
30 % faster on a warmed-up JIT). Prints one JSON line: Spark's start-up and the load's seconds.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.measure import timed
from elt import db
from elt.config import load_settings

JDBC_JAR = Path("/usr/share/java/postgresql.jar")
SCHEMA_DDL = (
    "order_id string, ordered_at timestamp, customer_id string, email string, first_name string, last_name string, "
    "country string, product_category string, quantity int, unit_price decimal(12,2), status string, "
    "marketing_opt_in boolean"
)


def load(spark, url: str, path: Path) -> float:
    """Seconds for the seed design: Spark's typed CSV read and JDBC writer (default options)."""
    jdbc_url = "jdbc:" + url.replace("postgresql://postgres@", "postgresql://")
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("drop schema if exists bench_seed cascade; create schema bench_seed")
        conn.commit()
    with timed() as timing:
        frame = spark.read.csv(str(path), header=True, schema=SCHEMA_DDL)
        frame.write.jdbc(jdbc_url, "bench_seed.orders", mode="overwrite", properties={"user": "postgres", "driver": "org.postgresql.Driver"})
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("drop schema bench_seed cascade")
        conn.commit()
    return timing.seconds


def main(argv: list[str]) -> int:
    """python -m benchmarks.seed DATABASE_URL ORDERS_CSV DATA_DIR"""
    from elt.spark import build_spark_session  # here, so importing JDBC_JAR does not import Spark

    url, path, data_dir = argv
    settings = replace(load_settings(), data_dir=Path(data_dir))
    with timed() as start:
        spark = build_spark_session(settings, jars=[str(JDBC_JAR)])
    seconds = load(spark, url, Path(path))
    spark.stop()
    print(json.dumps({"seed_spark_start_seconds": round(start.seconds, 3), "seed_jdbc_seconds": round(seconds, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
