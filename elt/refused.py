"""Keep the rejected rows of a run refused for too many rejects in `meta.refused_rejects`, so the data team can see
what broke in the export: the run publishes nothing, and its staged files go with it."""
from __future__ import annotations

from pathlib import Path

from elt import db
from elt.config import PROJECT_ROOT
from elt.load import copy_paths, copy_statement

TABLE = "meta.refused_rejects"
SCHEMA_SQL = PROJECT_ROOT / "sql" / "meta" / "refused_rejects.sql"


def keep(url: str, run_id: int, files: list[Path], columns: tuple[str, ...]) -> int:
    """Replace the kept rows with this run's (the staged rejects: COPY-ready CSV of `columns`) in one transaction,
    so a reader sees the previous refused run's rows or this one's, never a mix; return how many were kept."""
    with db.connection(url, application_name="elt-refused") as conn, conn.cursor() as cur:
        cur.execute(f"drop table if exists {TABLE}")
        cur.execute(SCHEMA_SQL.read_text())
        cur.execute(f"alter table {TABLE} alter column run_id set default %s", (run_id,))
        rows = copy_paths(cur, copy_statement(TABLE, columns), files)
        cur.execute(f"alter table {TABLE} alter column run_id drop default")
        conn.commit()
    return rows
