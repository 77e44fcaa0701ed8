"""A class-data-sharing archive of the classes Spark's JVM loads, so that runs start sooner; recorded in the background.

At each start the JVM reads, parses and verifies thousands of classes from Spark's jars. Java's class-data sharing
(a dynamic archive, JDK 13 and newer) maps them from one file instead (`-XX:SharedArchiveFile`). Measured with
`elt run` on 1M orders, JDK 17, 2 cores, three alternating pairs: Spark start-up 3.0-3.3 s with the archive against
4.9-5.9 s without, extract 17.5-18.3 s against 19.5-22.4 s, the whole command 28.6-28.9 s against 31.9-36.3 s.

Recording one costs time (that JVM starts ~5 s slower and writes ~170 MB as it exits), so no run records: after a
successful run that found no archive, `record_in_background` starts `python -m elt.class_archive`, which validates
the bundled sample with Spark under `-XX:ArchiveClassesAtExit` at the lowest CPU priority and installs the result
(~35 s). A file lock lets one recorder work at a time. A JVM given a truncated archive crashes (seen with JDK 17),
so the recording is written under a name of its own, must be mapped by a fresh JVM with `-Xshare:on` (which fails
instead of falling back), and only then is renamed into place.

The archive belongs to the JVM and the jars, not to a database, so it lives in the project's `.data/jvm/` whatever
ELT_DATA_DIR says (ELT_JVM_ARCHIVE_DIR moves it). Its name carries a key of Spark's version, the Java binary, the
JVM options and the heap size: a change makes runs look for (and record) another. Anything that goes wrong here
costs the speed-up, never a run.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from elt.config import DEFAULT_DATA_DIR, PROJECT_ROOT, SAMPLE_PATH, Settings, load_settings

logger = logging.getLogger(__name__)

DEFAULT_ARCHIVE_DIR = DEFAULT_DATA_DIR / "jvm"
SUFFIX = ".jsa"
RECORDING = ".recording"
LOCK_NAME = "recorder.lock"
# A recording of Spark's classes takes ~170 MB; with less room than this free, none is made.
MIN_FREE_BYTES = 1 << 30
JVM_EXIT_SECONDS = 300
CHECK_TIMEOUT_SECONDS = 60
LOWEST_PRIORITY = 19
# Archives of other set-ups (another heap size, say) are kept side by side; one no run has mapped this long goes.
UNUSED_DAYS = 14
RECORD_OPTION = "-XX:ArchiveClassesAtExit"
HANDED_LOCK = "--lock-handed-over"  # the recorder's argument when it inherits the held lock from the run
# The JVM prints class-sharing warnings on its standard output (the console of `elt run`): hundreds of classes it
# cannot archive while recording (signed jars, generated classes), or an archive another JVM made.
QUIET = "-Xlog:cds*=off"


@dataclass(frozen=True)
class ClassArchive:
    """The archive for one JVM set-up."""

    path: Path

    @property
    def recording(self) -> Path:
        return self.path.with_suffix(RECORDING)

    def map_option(self) -> str:
        """The JVM options that map the archive; empty when there is none (or its path has a space: Spark splits
        the options at spaces)."""
        if " " in str(self.path) or not self.path.is_file():
            return ""
        try:
            os.utime(self.path)  # in use: not pruned (see `keep`)
        except OSError:
            pass
        return f"-XX:SharedArchiveFile={self.path} {QUIET}"

    def record_option(self) -> str:
        """The JVM options that record the archive as the JVM exits."""
        return f"{RECORD_OPTION}={self.recording} {QUIET}"

    def keep(self, java: str, java_options: list[str], classpath: str) -> bool:
        """Install the finished recording if a fresh JVM maps it; remove it either way."""
        recording = self.recording
        try:
            if recording.is_file() and recording.stat().st_size > 0 and _maps(java, java_options, classpath, recording):
                os.replace(recording, self.path)
                _prune(self.path.parent)
                return True
            return False
        finally:
            recording.unlink(missing_ok=True)


def archive_dir() -> Path:
    """Where archives live: ELT_JVM_ARCHIVE_DIR, else the project's `.data/jvm/`."""
    return Path(os.environ.get("ELT_JVM_ARCHIVE_DIR") or DEFAULT_ARCHIVE_DIR)


def for_session(spark_version: str, java_options: str, driver_memory: str) -> ClassArchive:
    """The archive for this Spark version, Java binary, JVM options and heap size."""
    java = java_binary()
    try:
        real = Path(java).resolve()
        identity = f"{real}:{real.stat().st_mtime_ns}"
    except OSError:
        identity = java
    parts = [spark_version, identity, java_options, driver_memory]
    return ClassArchive(archive_dir() / f"spark-{hashlib.sha256(chr(10).join(parts).encode()).hexdigest()[:16]}{SUFFIX}")


def java_binary() -> str:
    """The `java` Spark's launcher runs: JAVA_HOME's, else the one on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return str(Path(home) / "bin" / "java")
    return shutil.which("java") or "java"


def record_in_background(settings: Settings, archive: ClassArchive) -> bool:
    """Start a recorder for `archive` unless it exists or one is at work; return whether one was started."""
    if archive.map_option() or " " in str(archive.path) or not _room_for_recording(archive.path.parent):
        return False
    env = {**os.environ, "ELT_DATA_DIR": str(settings.data_dir), "SPARK_DRIVER_MEMORY": settings.spark_driver_memory}
    log = settings.data_dir / "logs" / "class-archive.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with _lock(archive.path.parent, wait=False) as lock, open(log, "ab") as output:
            if lock is None:
                return False
            # The recorder inherits the held lock (flock belongs to the open file, which it shares), so whoever
            # waits for recorders (the bench) waits for this one from now on, not from when it gets going.
            subprocess.Popen([sys.executable, "-m", "elt.class_archive", HANDED_LOCK], cwd=PROJECT_ROOT, env=env,
                             start_new_session=True, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                             pass_fds=(lock.fileno(),))
    except OSError as exc:  # the run has succeeded: this only costs later runs their speed-up
        logger.warning("could not start recording the JVM class archive: %s", exc)
        return False
    return True


def wait_for_recorder() -> None:
    """Block until no recorder is at work (the benchmark waits, so a recorder does not run beside what it times)."""
    with _lock(archive_dir(), wait=True):
        pass


def record(settings: Settings, lock_handed_over: bool = False) -> bool:
    """Record the archive under the recorder lock (taken here, or held already when `lock_handed_over`)."""
    from elt.spark import session_archive

    archive = session_archive(settings)
    if lock_handed_over:
        return _record(settings, archive)
    with _lock(archive.path.parent, wait=False) as lock:
        return lock is not None and _record(settings, archive)


def _record(settings: Settings, archive: ClassArchive) -> bool:
    """Run Spark's part of a run on the bundled sample under a recording JVM, stop it, check and install the file."""
    from elt.input_file import scan_input
    from elt.pipeline import stage_orders
    from elt.spark import build_spark_session

    if archive.map_option():
        return False
    archive.recording.unlink(missing_ok=True)  # a recorder that was killed
    try:
        spark = build_spark_session(settings, record_classes=True)
        system = spark.sparkContext._jvm.java.lang.System
        java = str(Path(system.getProperty("java.home")) / "bin" / "java")
        classpath = system.getProperty("java.class.path")
        recorded_with = spark.conf.get("spark.driver.extraJavaOptions").split()
        sample = str(SAMPLE_PATH)
        with tempfile.TemporaryDirectory(prefix="class-archive-") as directory:
            stage_orders(spark, sample, scan_input(sample), Path(directory) / "staged")
        if not _stop_jvm(spark):
            return False
        options = [option for option in recorded_with if not option.startswith(RECORD_OPTION)]
        return archive.keep(java, [*options, f"-Xmx{settings.spark_driver_memory}"], classpath)
    finally:
        archive.recording.unlink(missing_ok=True)


def _stop_jvm(spark) -> bool:
    """Stop the session and its JVM; return whether the JVM exited cleanly (having written its recording)."""
    from pyspark import SparkContext

    process = getattr(SparkContext._gateway, "proc", None)
    spark.stop()
    if process is None:
        return False
    process.stdin.close()  # the JVM exits at the end of its input (PythonGatewayServer)
    return process.wait(timeout=JVM_EXIT_SECONDS) == 0


def _maps(java: str, java_options: list[str], classpath: str, archive: Path) -> bool:
    """Whether a fresh JVM with these options and classpath maps the archive (with -Xshare:on it must)."""
    command = [java, *java_options, "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-XX:-CreateCoredumpOnCrash",
               "-cp", classpath, "-version"]
    try:
        with tempfile.TemporaryDirectory(prefix="class-archive-check-") as scratch:  # where a crash writes hs_err_pid*.log
            done = subprocess.run(command, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=CHECK_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def _lock(directory: Path, wait: bool) -> Iterator[IO[str] | None]:
    """Hold the recorder lock of `directory` (blocking when `wait`); yield the locked file, or None when another
    holds it. Closing the file releases the lock unless a recorder inherited it."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield handle


def _prune(directory: Path) -> None:
    """Remove archives no run has mapped for a while (those of an earlier Spark or Java version)."""
    unused_since = time.time() - UNUSED_DAYS * 86400
    for archive in directory.glob(f"*{SUFFIX}"):
        try:
            if archive.stat().st_mtime < unused_since:
                archive.unlink()
        except OSError:
            pass


def _room_for_recording(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(directory).free >= MIN_FREE_BYTES
    except OSError:
        return False


def main() -> int:
    """`python -m elt.class_archive`: record the archive for the environment's settings (run by `record_in_background`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.nice(LOWEST_PRIORITY)  # the JVM it starts inherits it: a recorder gives way to whatever else runs
    started = time.perf_counter()
    try:
        kept = record(load_settings(), lock_handed_over=HANDED_LOCK in sys.argv[1:])
    except Exception:  # noqa: BLE001 - a background helper: its log is the only place to tell
        logger.exception("recording the JVM class archive failed")
        return 1
    logger.info("class archive %s in %.1f s", "recorded" if kept else "not recorded", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
