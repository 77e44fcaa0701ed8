"""The live line a run keeps on a terminal while a stage runs (elt.progress)."""
from __future__ import annotations

import io
import logging
import re
import threading
import time

from elt.progress import live_line, spark_stages

WIPE = "\r\x1b[K"  # carriage return, then ANSI "erase to the end of the line"


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_counts_seconds_and_is_wiped_at_the_end():
    out = Terminal()
    with live_line(out, "extract", lambda: "Spark stage 2: 1 of 4 tasks done", interval=0.1):
        time.sleep(0.35)
    text = out.getvalue()
    assert text.startswith(WIPE + "  extract  running · 0 s · Spark stage 2: 1 of 4 tasks done")
    assert text.count(WIPE) >= 3  # at least two redraws, and the wipe at the end
    assert text.endswith(WIPE)
    assert "\n" not in text  # it never leaves a line behind


def test_the_seconds_are_those_since_the_stage_began():
    out = Terminal()
    with live_line(out, "dwh", interval=1.0):
        time.sleep(2.5)  # half a redraw of slack on either side of each one
    drawn = [part for part in out.getvalue().split(WIPE) if part]
    assert drawn == ["  dwh      running · 1 s", "  dwh      running · 2 s"]


def test_a_failing_detail_leaves_the_line_without_it():
    def broken() -> str:
        raise RuntimeError("the JVM is gone")

    out = Terminal()
    with live_line(out, "extract", broken, interval=0.05):
        time.sleep(0.12)
    assert WIPE + "  extract  running · 0 s" + WIPE in out.getvalue()


def test_nothing_is_drawn_off_a_terminal_or_when_log_records_go_there_too():
    not_a_terminal = io.StringIO()
    with live_line(not_a_terminal, "extract", interval=0.05):
        time.sleep(0.12)
    assert not_a_terminal.getvalue() == ""

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # what --verbose sets
    try:
        verbose = Terminal()
        with live_line(verbose, "extract", interval=0.05):
            time.sleep(0.12)
    finally:
        root.setLevel(level)
    assert verbose.getvalue() == ""


def test_the_line_is_wiped_when_the_stage_fails():
    out = Terminal()
    try:
        with live_line(out, "load", interval=0.05):
            time.sleep(0.08)
            raise ValueError("COPY failed")
    except ValueError:
        pass
    assert out.getvalue().endswith(WIPE)


def test_spark_stages_names_the_running_stage_and_its_tasks(spark):
    job = threading.Thread(target=lambda: spark.range(0, 4, 1, 4).foreach(lambda _: time.sleep(3)))
    job.start()
    try:
        seen = ""
        for _ in range(200):
            seen = spark_stages(spark)
            if seen:
                break
            time.sleep(0.05)
    finally:
        job.join()
    # Four partitions, one task each, every one sleeping three seconds: none is done yet.
    assert re.fullmatch(r"Spark stage \d+: 0 of 4 tasks done", seen), seen
    assert spark_stages(spark) == ""  # nothing runs any more
