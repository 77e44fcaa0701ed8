"""A live line on a terminal while a stage runs: its name, the seconds so far and what Spark is doing, redrawn
every second and wiped before the stage prints its own line. Nothing is drawn when the output is not a terminal
(the app's log of a run, a file, a pipe), so those get only the stage lines; nor when log records go to the
terminal too (`--verbose`), which would land in the middle of the line."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

INTERVAL_SECONDS = 1.0
WIPE = "\r\033[K"  # back to the start of the line, erase to its end


@contextmanager
def live_line(stream: TextIO, name: str, detail: Callable[[], str] = lambda: "",
              interval: float = INTERVAL_SECONDS) -> Iterator[None]:
    """While the block runs, keep `  <name>  running · <seconds> s · <detail>` on the stream's last line (a
    terminal only). `detail` is asked on every redraw; when it fails, the line goes without it."""
    if not _is_terminal(stream) or logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    stop = threading.Event()
    started = time.monotonic()

    def draw() -> None:
        while not stop.wait(interval):
            parts = [f"running · {time.monotonic() - started:.0f} s", _safe(detail)]
            stream.write(f"{WIPE}  {name:<8} {' · '.join(part for part in parts if part)}")
            stream.flush()

    drawer = threading.Thread(target=draw, name=f"live-line-{name}", daemon=True)
    drawer.start()
    try:
        yield
    finally:
        stop.set()
        drawer.join(timeout=2 * interval)  # a detail stuck on a dying JVM must not hold up the run's end
        stream.write(WIPE)
        stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _safe(detail: Callable[[], str]) -> str:
    try:
        return detail()
    except Exception:  # noqa: BLE001 - the live line is a courtesy: it must never break the run
        return ""


def spark_stages(spark) -> str:
    """What Spark runs now, e.g. `Spark stage 3: 7 of 32 tasks done` (several stages joined by ` · `)."""
    tracker = spark.sparkContext.statusTracker()
    stages = [info for info in map(tracker.getStageInfo, sorted(tracker.getActiveStageIds())) if info]
    return " · ".join(
        f"Spark stage {info.stageId}: {info.numCompletedTasks} of {info.numTasks} tasks done" for info in stages
    )
