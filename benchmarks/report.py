"""Turn one benchmark's measurements into ratios, a console table and a dated docs/benchmarks.md entry."""
from __future__ import annotations

import os
from datetime import datetime

ELT_STAGES = ("load", "dwh", "mrt", "tests", "publish")
TARGETS = {
    "whole ELT ÷ seed load": 0.7,
    "raw load ÷ COPY floor": 2.5,
    "export ÷ COPY TO": 1.5,
}


def ratios(results: dict) -> dict[str, float | None]:
    """The issue's target ratios, from measurements taken in the same run (unrounded: the verdict uses these)."""
    stages = results["project_stages"]
    whole = sum(stages.get(name, 0.0) for name in ELT_STAGES)
    seed = results.get("seed_jdbc_seconds")
    export = results["export"]
    return {
        "whole ELT ÷ seed load": whole / seed if seed else None,
        "raw load ÷ COPY floor": stages["load"] / results["floor_copy_seconds"],
        "export ÷ COPY TO": export["project_seconds"] / export["copy_to_seconds"],
        "export peak ÷ CSV size": export["project_peak_bytes"] / export["csv_bytes"],
    }


def machine() -> str:
    """Cores and memory of this machine, for the record."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB"


def lines(results: dict) -> list[str]:
    """The result as Markdown lines (printed and appended to docs/benchmarks.md)."""
    rows, stages, export = results["rows"], results["project_stages"], results["export"]
    whole = sum(stages.get(name, 0.0) for name in ELT_STAGES)
    out = [
        f"## {datetime.now():%Y-%m-%d %H:%M} · {rows:,} rows · {machine()}",
        "",
        "| what | seconds | rows/s |",
        "|---|---:|---:|",
        f"| floor: COPY of the CSV into an untyped table | {results['floor_copy_seconds']:.2f} | {rows / results['floor_copy_seconds']:,.0f} |",
    ]
    if results.get("seed_jdbc_seconds"):
        out.append(f"| seed: Spark typed read + JDBC writer | {results['seed_jdbc_seconds']:.2f} | {rows / results['seed_jdbc_seconds']:,.0f} |")
    else:
        out.append("| seed: Spark typed read + JDBC writer | skipped (no JDBC jar) | |")
    out.append(f"| project: Spark start-up | {results['spark_start_seconds']:.2f} | |")
    for name, seconds in stages.items():
        out.append(f"| project: {name} | {seconds:.2f} | {rows / seconds:,.0f} |" if seconds else f"| project: {name} | {seconds:.2f} | |")
    out.append(f"| project: whole ELT (load + dwh + mrt + tests + publish) | {whole:.2f} | {rows / whole:,.0f} |")
    out.append(f"| project: `python -m elt run` end to end | {results['project_end_to_end_seconds']:.2f} | {rows / results['project_end_to_end_seconds']:,.0f} |")
    out += [
        f"| export: February audience via the app ({export['customers']:,} customers, {export['csv_bytes'] / 2**20:.1f} MiB) "
        f"| {export['project_seconds']:.2f} | peak Python heap {export['project_peak_bytes'] / 2**20:.1f} MiB |",
        f"| export: COPY (same query) TO STDOUT into a byte counter | {export['copy_to_seconds']:.2f} | peak Python heap {export['copy_to_peak_bytes'] / 2**20:.1f} MiB |",
        "",
        "| ratio | measured | target |",
        "|---|---:|---:|",
    ]
    for name, value in ratios(results).items():
        target = TARGETS.get(name, 2.0 if name == "export peak ÷ CSV size" else None)
        shown = "n/a" if value is None else f"{value:.3f}"
        verdict = "" if value is None or target is None else (" ✅" if value <= target else " ❌")
        out.append(f"| {name} | {shown}{verdict} | ≤ {target} |")
    out += ["", "| dashboard query | p50 ms | p95 ms |", "|---|---:|---:|"]
    for name, timing in results["dashboard_queries"].items():
        out.append(f"| {name} | {timing['p50_ms']} | {timing['p95_ms']} |")
    out.append("")
    return out
