"""Load staged CSV files into PostgreSQL tables with COPY, a few connections in parallel.

The files come from `elt.stage` (Spark wrote them, COPY-ready). Each connection streams its share of the files
in 1 MiB chunks (nothing is held in memory) and commits once; the tables are a staging layer no reader sees,
so a failure mid-way only leaves rows the next run's staging drops.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

from elt import db

logger = logging.getLogger(__name__)

APPLICATION_NAME = "elt-load"
CHUNK_BYTES = 1 << 20
MAX_CONNECTIONS = 4


def copy_statement(table: str, columns: Iterable[str]) -> str:
    """The COPY statement for a fixed, trusted table and column list."""
    return f"copy {table} ({', '.join(columns)}) from stdin with (format csv)"


def _shares(files: list[Path], count: int) -> list[list[Path]]:
    """Split files into `count` groups of similar total size (largest first, each to the lightest group)."""
    groups: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        lightest = sizes.index(min(sizes))
        groups[lightest].append(path)
        sizes[lightest] += path.stat().st_size
    return [group for group in groups if group]


def _copy_share(url: str, statement: str, files: list[Path]) -> int:
    rows = 0
    with db.connection(url, application_name=APPLICATION_NAME) as conn, conn.cursor() as cur:
        for path in files:
            with path.open("rb") as handle:
                cur.copy_expert(statement, handle, size=CHUNK_BYTES)
            rows += cur.rowcount
        conn.commit()
    return rows


def copy_files(url: str, table: str, columns: Iterable[str], files: list[Path]) -> int:
    """COPY every file into `table` (CSV, no header, these columns); return the number of rows loaded."""
    if not files:
        return 0
    statement = copy_statement(table, columns)
    shares = _shares(files, min(len(files), MAX_CONNECTIONS, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        total = sum(pool.map(lambda share: _copy_share(url, statement, share), shares))
    logger.info("copied %d rows into %s from %d files over %d connections", total, table, len(files), len(shares))
    return total
