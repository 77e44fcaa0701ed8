"""docs/benchmarks.png: run time against rows for the project, the COPY floor and the seed design.

Reads the newest result per size from .data/bench/results/ (written by benchmarks.bench) and draws them with
Altair; vl-convert renders the PNG (Altair's own PNG path), so no second plotting library is needed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import altair as alt
import pandas as pd

from benchmarks.bench import RESULTS_DIR
from benchmarks.report import whole_elt
from elt.config import PROJECT_ROOT

CHART = PROJECT_ROOT / "docs" / "benchmarks.png"
MIN_ROWS = 100_000  # the sizes the targets speak of: 100k, 1M, 10M (smoke runs are smaller)
SERIES = {
    "floor: COPY": lambda r: r["floor_copy_seconds"],
    "seed: Spark + JDBC load": lambda r: r.get("seed_jdbc_seconds"),
    "project: whole ELT": lambda r: whole_elt(r["project_stages"]),
    "project: end to end": lambda r: r["project_end_to_end_seconds"],
}


def newest_per_size(results_dir: Path = RESULTS_DIR) -> list[dict]:
    """The most recent result file of each size."""
    newest: dict[int, dict] = {}
    for path in sorted(results_dir.glob("bench_*.json")):
        result = json.loads(path.read_text())
        if result["rows"] >= MIN_ROWS:
            newest[result["rows"]] = result
    return [newest[rows] for rows in sorted(newest)]


def frame(results: list[dict]) -> pd.DataFrame:
    """One row per size and series."""
    rows = [
        {"rows": result["rows"], "series": name, "seconds": value(result)}
        for result in results
        for name, value in SERIES.items()
        if value(result) is not None
    ]
    return pd.DataFrame(rows)


def main() -> int:
    """Draw the chart from the recorded results."""
    results = newest_per_size()
    if not results:
        print("no benchmark results yet: run make bench first", file=sys.stderr)
        return 1
    chart = (
        alt.Chart(frame(results), title="Run time against input size (log–log)")
        .mark_line(point=True)
        .encode(
            x=alt.X("rows:Q", scale=alt.Scale(type="log"), title="rows"),
            y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="seconds"),
            color=alt.Color("series:N", title=None),
            tooltip=["series", "rows", alt.Tooltip("seconds:Q", format=".2f")],
        )
        .properties(width=520, height=320)
    )
    CHART.parent.mkdir(parents=True, exist_ok=True)
    chart.save(str(CHART), scale_factor=2)
    sizes = ", ".join(f"{result['rows']:,}" for result in results)
    print(f"chart: {CHART} ({sizes} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
