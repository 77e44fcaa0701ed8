"""Command line: `python -m elt run|sample|db ...`. Expected failures end with one line and a non-zero exit."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from elt import build, db, embedded_pg
from elt.config import SAMPLE_PATH, load_settings
from elt.errors import EltError, first_line

logger = logging.getLogger("elt")

EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the command, turn expected failures into one line on stderr."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return args.command(args)
    except EltError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; the previous data is still published", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, details only on request
        if args.verbose:
            logger.exception("unexpected error")
        print(f"error: unexpected {type(exc).__name__}: {first_line(exc, empty='')} (rerun with --verbose for details)",
              file=sys.stderr)
        return 1


def _exit_on_sigterm(signum, frame) -> None:
    """Turn SIGTERM into KeyboardInterrupt so a stopped run is logged as failed and its lock released."""
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    """`run`: one full ELT."""
    from elt import pipeline  # imports pyspark: only for the commands that need it

    pipeline.run(load_settings(), args.input, triggered_by=args.triggered_by)
    return 0


def _sample(args: argparse.Namespace) -> int:
    """`sample`: write a deterministic orders file."""
    from elt.sample import write_sample

    rows = write_sample(args.out, args.rows, args.seed)
    print(f"wrote {rows:,} orders to {args.out} (seed {args.seed})")
    return 0


def _db(args: argparse.Namespace) -> int:
    """`db start|stop|url`: manage the embedded PostgreSQL, or show where the database is."""
    settings = load_settings()
    if args.action == "stop":
        if settings.database_url:
            print("DATABASE_URL is set: the embedded PostgreSQL is not in use; nothing to stop")
        elif embedded_pg.stop(settings.data_dir):
            print(f"stopped the embedded PostgreSQL (data kept in {embedded_pg.pgdata_dir(settings.data_dir)})")
        else:
            print("the embedded PostgreSQL was not running")
        return 0
    url = db.resolve_url(settings)
    if args.action == "published":
        return _published(url)
    if args.action == "url":
        print(url if args.show_password else db.masked(url))
        return 0
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("show server_version")
        version = cur.fetchone()[0]
    print(f"PostgreSQL {version} is up: {db.masked(url)}")
    if not settings.database_url:
        print(f"  data directory: {embedded_pg.pgdata_dir(settings.data_dir)}  (stop it with: make pg_stop)")
        print(f"  connect with:   {embedded_pg.psql_command(url)}")
    return 0


def _published(url: str) -> int:
    """`db published`: exit 0 and say which run when data is published, 1 when nothing is yet or when it was
    built by an older version (tables this version builds are missing: `make run` then runs the ELT again)."""
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('mrt.publication') is not null")
        if cur.fetchone()[0]:
            cur.execute("select run_id, input_path, published_at from mrt.publication")
            run_id, input_path, published_at = cur.fetchone()
            print(f"published: run {run_id} from {input_path} at {published_at:%Y-%m-%d %H:%M:%S %Z}")
            missing = build.missing_tables(cur)
            if missing:
                print(f"but built by an older version (no {', '.join(missing)}): the ELT must run again")
                return 1
            return 0
    print("nothing published yet")
    return 1


def _parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="python -m elt", description="Orders ELT for the marketing dashboard.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details and show tracebacks")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run extract -> load -> build -> test -> publish")
    run.add_argument("--input", default=str(SAMPLE_PATH), help="orders CSV: any path Spark can read (default: the sample)")
    run.add_argument("--triggered-by", default="cli", help=argparse.SUPPRESS)
    run.set_defaults(command=_run)

    sample = commands.add_parser("sample", help="generate a deterministic orders CSV")
    sample.add_argument("--rows", type=int, required=True, help="number of orders")
    sample.add_argument("--out", type=Path, required=True, help="where to write the CSV")
    sample.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sample.set_defaults(command=_sample)

    database = commands.add_parser("db", help="the database: start (default embedded), stop, url, published")
    database.add_argument("action", choices=("start", "stop", "url", "published"))
    database.add_argument("--show-password", action="store_true", help="print the URL with its password")
    database.set_defaults(command=_db)
    return parser


if __name__ == "__main__":
    sys.exit(main())
