"""The JVM class archive: a successful run leaves one behind in the background, the next JVM maps it, and a
recording no fresh JVM can map is never installed (a JVM given a truncated archive crashes)."""
from __future__ import annotations

import fcntl
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from elt import class_archive
from elt.config import PROJECT_ROOT
from tests.harness import elt_env, wait_for

FIXTURES = Path(__file__).parent / "fixtures"
# What `-Xlog:class+load` prints for a class mapped from a dynamic archive (the base archive is "(top)"'s parent).
FROM_THE_ARCHIVE = "org.apache.spark.sql.SparkSession source: shared objects file (top)"
START_A_SESSION = "from elt.config import load_settings; from elt.spark import build_spark_session; build_spark_session(load_settings())"


def test_map_option_names_the_archive_only_when_it_exists(tmp_path):
    archive = class_archive.ClassArchive(tmp_path / "spark-x.jsa")
    assert archive.map_option() == ""
    archive.path.write_bytes(b"not empty")
    assert f"-XX:SharedArchiveFile={tmp_path / 'spark-x.jsa'}" in archive.map_option().split()
    spaced = class_archive.ClassArchive(tmp_path / "a b" / "spark-x.jsa")
    spaced.path.parent.mkdir()
    spaced.path.write_bytes(b"not empty")
    assert spaced.map_option() == ""  # Spark would split the option at the space


def test_a_successful_run_leaves_an_archive_that_the_next_jvm_maps(database_url, tmp_path, spark):
    jvm_dir = tmp_path / "jvm"
    env = elt_env(database_url, tmp_path / "data", ELT_JVM_ARCHIVE_DIR=str(jvm_dir))
    done = subprocess.run([sys.executable, "-m", "elt", "run", "--input", str(FIXTURES / "orders_app.csv")],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    archives = wait_for(lambda: list(jvm_dir.glob("spark-*.jsa")), timeout=300, what="the class archive")
    assert len(archives) == 1
    wait_for(lambda: not list(jvm_dir.glob("*.recording")), timeout=60, what="the recording to be renamed")

    class_log = tmp_path / "classes.txt"
    session_env = {**env, "JAVA_TOOL_OPTIONS": f"-Xlog:class+load=info:file={class_log}"}
    started = subprocess.run([sys.executable, "-c", START_A_SESSION], cwd=PROJECT_ROOT, env=session_env,
                             capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    assert FROM_THE_ARCHIVE in class_log.read_text()

    # A recording cut short is refused, the good one (same JVM, options and classpath) accepted.
    jvm = spark._jvm.java.lang.System
    java = str(Path(jvm.getProperty("java.home")) / "bin" / "java")
    classpath = jvm.getProperty("java.class.path")
    options = spark.conf.get("spark.driver.extraJavaOptions").split()
    options = [option for option in options if not option.startswith("-XX:SharedArchiveFile")] + ["-Xmx1g"]
    whole, cut = class_archive.ClassArchive(tmp_path / "whole.jsa"), class_archive.ClassArchive(tmp_path / "cut.jsa")
    data = archives[0].read_bytes()
    whole.recording.write_bytes(data)
    cut.recording.write_bytes(data[: 1 << 20])
    assert not cut.keep(java, options, classpath)
    assert not cut.path.exists() and not cut.recording.exists()
    assert not list(Path.cwd().glob("hs_err_pid*.log"))  # the check's crash report stays out of the working directory
    assert whole.keep(java, options, classpath)
    assert whole.path.read_bytes() == data and not whole.recording.exists()


def test_a_place_where_no_archive_can_go_costs_only_the_speed_up(tmp_path, base_settings):
    blocker = tmp_path / "a-file-not-a-directory"
    blocker.write_text("")
    archive = class_archive.ClassArchive(blocker / "jvm" / "spark-x.jsa")
    assert class_archive.record_in_background(base_settings, archive) is False
    assert archive.map_option() == ""


def test_the_recorder_holds_its_lock_from_the_moment_it_is_started(tmp_path, base_settings):
    # Whoever waits for recorders (the bench, right after a run) must not slip in before the recorder gets going.
    # This one's JVM refuses its heap size, so it ends within seconds and lets the lock go.
    archive = class_archive.ClassArchive(tmp_path / "spark-x.jsa")
    assert class_archive.record_in_background(replace(base_settings, spark_driver_memory="no-such-size"), archive)
    with open(tmp_path / "recorder.lock", "a") as lock:
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        wait_for(lambda: _can_lock(lock), timeout=120, what="the recorder to end")
    assert not archive.path.exists()


def _can_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(handle, fcntl.LOCK_UN)
    return True
