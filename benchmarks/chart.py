"""docs/benchmarks.png: run time against rows for the project, the COPY floor and the seed design.

The chart's points live in docs/benchmarks.json, committed next to the chart: the newest recorded result of each
size (`record`, called by benchmarks.bench when it appends to docs/benchmarks.md). A bench of one size on a fresh
clone therefore redraws its own point and keeps the others, instead of a chart of that size alone (.data/, where
the full result files go, is not in the repository). Altair draws; vl-convert renders the PNG (Altair's own PNG
path), so no second plotting library is needed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import altair as alt
import pandas as pd

from benchmarks.report import whole_elt
from elt.config import PROJECT_ROOT

CHART = PROJECT_ROOT / "docs" / "benchmarks.png"
POINTS = PROJECT_ROOT / "docs" / "benchmarks.json"
MIN_ROWS = 100_000  # the sizes the targets speak of: 100k, 1M, 10M (smoke runs are smaller)
SERIES = {
    "floor: COPY": lambda r: r["floor_copy_seconds"],
    "seed: Spark + JDBC load": lambda r: r.get("seed_jdbc_seconds"),
    "project: whole ELT": lambda r: whole_elt(r["project_stages"]),
    "project: end to end": lambda r: r["project_end_to_end_seconds"],
}


def chart_point(result: dict) -> dict:
    """The chart's point of one bench result: its size, when it was measured, and the seconds of each series."""
    seconds = {name: value(result) for name, value in SERIES.items()}
    return {"rows": result["rows"], "measured_at": result["measured_at"],
            "seconds": {name: round(value, 3) for name, value in seconds.items() if value is not None}}


def read(path: Path = POINTS) -> list[dict]:
    """The recorded points, smallest size first (none before the first recorded bench)."""
    if not path.exists():
        return []
    return sorted(json.loads(path.read_text()), key=lambda point: point["rows"])


def record(result: dict, path: Path = POINTS) -> None:
    """Make this result the point of its size (sizes under MIN_ROWS are smoke runs and are not charted)."""
    if result["rows"] < MIN_ROWS:
        return
    kept = [point for point in read(path) if point["rows"] != result["rows"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted([*kept, chart_point(result)], key=lambda p: p["rows"]), indent=2) + "\n")


def frame(recorded: list[dict]) -> pd.DataFrame:
    """One row per size and series."""
    rows = [
        {"rows": point["rows"], "series": name, "seconds": seconds}
        for point in recorded
        for name, seconds in point["seconds"].items()
    ]
    return pd.DataFrame(rows)


def subtitle(recorded: list[dict]) -> str:
    """When each size was measured: the points come from different benches, so different machine states."""
    return "measured " + " · ".join(f"{point['rows']:,} rows {point['measured_at'][:16].replace('T', ' ')} UTC"
                                    for point in recorded)


def main() -> int:
    """Draw the chart from the recorded points."""
    recorded = read()
    if not recorded:
        print("no benchmark results yet: run make bench first", file=sys.stderr)
        return 1
    title = alt.TitleParams("Run time against input size (log–log)", subtitle=subtitle(recorded))
    chart = (
        alt.Chart(frame(recorded), title=title)
        .mark_line(point=True)
        .encode(
            # Ticks at the measured sizes only: a log axis's own ticks crowd (2,000,000 ran into 3,000,000).
            x=alt.X("rows:Q", scale=alt.Scale(type="log"), title="rows",
                    axis=alt.Axis(values=[point["rows"] for point in recorded], format=",")),
            y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="seconds"),
            color=alt.Color("series:N", title=None),
            tooltip=["series", "rows", alt.Tooltip("seconds:Q", format=".2f")],
        )
        .properties(width=520, height=320)
    )
    CHART.parent.mkdir(parents=True, exist_ok=True)
    chart.save(str(CHART), scale_factor=2)
    sizes = ", ".join(f"{point['rows']:,}" for point in recorded)
    print(f"chart: {CHART} ({sizes} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
