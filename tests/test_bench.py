"""Smoke test of the benchmark script on a tiny file: it runs end to end and prints its tables. No timing checks."""
from __future__ import annotations

import subprocess
import sys

from elt.config import PROJECT_ROOT


def test_bench_runs_end_to_end_on_a_tiny_file():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--rows", "300", "--no-record"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ("| floor: COPY of the CSV into an untyped table |", "| project: whole ELT", "| raw load ÷ COPY floor |",
                 "| audience: size, 2024 + NL |"):
        assert line in result.stdout
