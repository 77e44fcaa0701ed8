"""The embedded PostgreSQL: a fresh server comes up with the settings the product chose for it."""
from __future__ import annotations

import shutil
import uuid

from elt import embedded_pg
from tests.conftest import TEST_DATA_DIR, query


def test_a_fresh_embedded_server_runs_with_its_settings():
    data_dir = TEST_DATA_DIR / f"fresh-{uuid.uuid4().hex[:8]}"
    try:
        url = embedded_pg.start(data_dir)  # first start: initdb, ALTER SYSTEM, restart
        settings = query(url, "select name, setting from pg_settings"
                              " where name in ('wal_level', 'max_wal_senders', 'io_method') order by name")
        assert settings == [("io_method", "sync"), ("max_wal_senders", "0"), ("wal_level", "minimal")]
        assert query(url, "select current_database()") == [("marketing",)]
    finally:
        embedded_pg.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
