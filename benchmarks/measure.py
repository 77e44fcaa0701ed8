"""Small measuring helpers: wall time, percentiles, peak Python memory."""
from __future__ import annotations

import statistics
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass
class Timing:
    """Seconds and (when traced) the peak of Python allocations of one measured block."""

    seconds: float = 0.0
    peak_bytes: int | None = None


@contextmanager
def timed(trace_memory: bool = False) -> Iterator[Timing]:
    """Measure the wall time (and optionally the peak Python heap) of a block."""
    timing = Timing()
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - started
        if trace_memory:
            timing.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def latencies(call: Callable[[], object], repeat: int) -> dict[str, float]:
    """p50 and p95 wall time in milliseconds of `repeat` calls (after one warm-up call)."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))], 1),
    }
