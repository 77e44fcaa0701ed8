"""Who may rerun the ELT from the app, and running it out of the web process.

The run itself is `python -m elt run` in a subprocess: the database's advisory lock makes it refuse to start
while any other run (from this app, another app server or the command line) holds the lock.
"""
from __future__ import annotations

import hmac
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from dashboard import formats
from elt.config import PROJECT_ROOT, SAMPLE_PATH, load_settings
from elt.errors import InputError
from elt.input_file import absolute_input, check_input, input_fingerprint

logger = logging.getLogger(__name__)

SECRET_NAME = "ELT_ADMIN_PASSWORD"
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 300
LOCKOUT_SECONDS = 60
RUN_LINE = re.compile(r"^ELT run (\d+): ")  # what `elt.pipeline.run` prints first


def admin_secret() -> str | None:
    """The data team's secret from the environment or .streamlit/secrets.toml; None when not configured."""
    value = os.environ.get(SECRET_NAME)
    if not value:
        try:
            value = st.secrets.get(SECRET_NAME)
        except Exception:  # noqa: BLE001 - no secrets file is a normal state
            value = None
    return value or None


def served_on_localhost() -> bool:
    """Whether the server only listens on this machine (then, without a secret, whoever uses it is local)."""
    return (st.get_option("server.address") or "") in LOCAL_ADDRESSES


@dataclass
class _Attempts:
    """Failed password attempts of the whole server: a tampered or new session cannot reset them."""

    failures: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_seconds(self) -> int:
        """Seconds until another attempt is allowed (0 when allowed)."""
        with self.lock:
            now = time.monotonic()
            while self.failures and now - self.failures[0] > FAILURE_WINDOW_SECONDS:
                self.failures.popleft()
            if len(self.failures) < MAX_FAILURES:
                return 0
            return max(0, int(self.failures[-1] + LOCKOUT_SECONDS - now) + 1)

    def record_failure(self) -> None:
        """Remember one failed attempt."""
        with self.lock:
            self.failures.append(time.monotonic())


@st.cache_resource(show_spinner=False)
def _attempts() -> _Attempts:
    """The server-wide record of failed attempts."""
    return _Attempts()


def check_password(given: str) -> tuple[bool, str]:
    """Compare a password with the secret in constant time; rate-limited. Returns (ok, message for the user)."""
    secret = admin_secret()
    attempts = _attempts()
    wait = attempts.wait_seconds()
    if wait:
        return False, f"Too many wrong passwords. Try again in {wait} s."
    if secret and hmac.compare_digest(given.encode(), secret.encode()):
        return True, "Unlocked for this session."
    attempts.record_failure()
    logger.warning("wrong data-team password entered")
    return False, "That is not the data-team password."


@dataclass(frozen=True)
class NextInput:
    """The input a rerun from the app would read, as it is on disk now."""

    path: str  # absolute, as the run log will name it
    is_sample: bool  # no ELT_INPUT: the bundled sample
    problem: str | None  # the run's own one-line error about the file's start; None when the run would start
    size: int | None  # bytes in its files; None for remote storage or a missing file
    modified: datetime | None  # when its newest file was last written

    @property
    def name(self) -> str:
        """The file's (or folder's) name, without its directory."""
        return formats.file_name(self.path)


def next_input(configured: str | None) -> NextInput:
    """What a rerun would read (`configured`, else the bundled sample), checked as the run first checks it: only
    the start of each file is read, so this is cheap enough for every page view."""
    path = absolute_input(configured or str(SAMPLE_PATH))
    try:
        check_input(path)
        problem = None
    except InputError as exc:
        problem = str(exc)
    except OSError as exc:  # e.g. not readable by the app's user
        problem = f"cannot read input ({exc.strerror or type(exc).__name__}): {path}"
    files = input_fingerprint(path)
    if not files:  # remote storage, or gone
        return NextInput(path, not configured, problem, None, None)
    newest = max(modified_ns for _, _, modified_ns in files)
    return NextInput(
        path, not configured, problem, sum(size for _, size, _ in files),
        datetime.fromtimestamp(newest / 1e9, timezone.utc),
    )


@dataclass
class Job:
    """An ELT subprocess started by this server."""

    process: subprocess.Popen
    log_path: Path
    started: float


@dataclass
class _Jobs:
    """The one ELT subprocess this server may have running."""

    current: Job | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def _jobs() -> _Jobs:
    """Shared by every session of this server."""
    return _Jobs()


def current_job() -> Job | None:
    """The ELT subprocess this server started and nobody has reported on yet (running or just ended)."""
    jobs = _jobs()
    with jobs.lock:
        return jobs.current


def start(input_path: str | None, database_url: str) -> Job:
    """Start `python -m elt run` on the app's database unless this server already runs one; return the running job.

    The run gets the app's environment without the data team's secret (it does not need it, and a process's
    environment is readable by its owner): only DATABASE_URL is set to the database the app shows.
    """
    jobs = _jobs()
    with jobs.lock:
        if jobs.current and jobs.current.process.poll() is None:
            return jobs.current
        log_dir = load_settings().data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"app-run-{time.strftime('%Y%m%d-%H%M%S')}.log"
        command = [sys.executable, "-m", "elt", "run", "--triggered-by", "app"]
        if input_path:
            command += ["--input", input_path]
        env = {name: value for name, value in os.environ.items() if name != SECRET_NAME}
        env["DATABASE_URL"] = database_url
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        jobs.current = Job(process, log_path, time.monotonic())
        logger.info("started ELT run (pid %d), output in %s", process.pid, log_path)
        return jobs.current


def forget(job: Job) -> None:
    """Drop a finished job, so the next page view offers the button again."""
    jobs = _jobs()
    with jobs.lock:
        if jobs.current is job:
            jobs.current = None


def output(job: Job) -> list[str]:
    """The lines the run has printed so far."""
    try:
        return job.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def run_id(lines: list[str]) -> int | None:
    """The id the run took in the run log (its first line says "ELT run <id>: ..."), None before it has one."""
    for line in lines:
        if match := RUN_LINE.match(line):
            return int(match.group(1))
    return None


def error_line(lines: list[str]) -> str:
    """The run's one-line error (without the 'error: ' prefix)."""
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else "the run ended without saying why"
