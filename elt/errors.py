"""Expected failures: each carries one line for the user and an exit code for scripts."""
from __future__ import annotations


def first_line(exc: BaseException, empty: str | None = None) -> str:
    """The first line of an error's message; when it says nothing, `empty` (by default the error's type name)."""
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return type(exc).__name__ if empty is None else empty


class EltError(Exception):
    """A failure the user can act on; its message is one line, shown without a traceback."""

    exit_code = 1


class InputError(EltError):
    """The input file is missing, unreadable or breaks the contract as a whole."""

    exit_code = 2


class TooManyRejects(EltError):
    """More rows were rejected than the configured share: a broken export, not dirty data."""

    exit_code = 3


class DatabaseUnreachable(EltError):
    """PostgreSQL could not be reached or refused the connection."""

    exit_code = 4


class RunInProgress(EltError):
    """Another ELT run holds the run lock."""

    exit_code = 5


class DataTestFailed(EltError):
    """A data test found rows that break a rule; nothing was published."""

    exit_code = 6


class ConfigError(EltError):
    """A setting has a value the pipeline cannot use."""

    exit_code = 7


class DatabaseFailed(EltError):
    """PostgreSQL stopped the run: the connection was lost (a restart) or it refused a statement (disk full, a timeout)."""

    exit_code = 8
