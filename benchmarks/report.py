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


def whole_elt(stages: dict[str, float]) -> float:
    """Seconds of the whole ELT as the targets define it: every stage after extract."""
    return sum(stages.get(name, 0.0) for name in ELT_STAGES)


def elt_over_seed(measured: dict) -> float | None:
    """Whole ELT ÷ the seed design's load, of one round or result (None when the seed was skipped)."""
    seed = measured.get("seed_jdbc_seconds")
    return whole_elt(measured["project_stages"]) / seed if seed else None


def load_over_floor(measured: dict) -> float:
    """The raw load stage ÷ the COPY floor, of one round or result."""
    return measured["project_stages"]["load"] / measured["floor_copy_seconds"]


def round_ratio(measured: dict) -> float:
    """The ratio that orders rounds: whole ELT ÷ seed load, or ÷ the floor when the seed was skipped."""
    by_seed = elt_over_seed(measured)
    return by_seed if by_seed is not None else whole_elt(measured["project_stages"]) / measured["floor_copy_seconds"]


def median_round(rounds: list[dict]) -> dict:
    """The round whose whole ELT ÷ seed ratio is the median (the lower middle one of an even number): every timing
    shown then comes from one real round, not a mix of medians."""
    ordered = sorted(rounds, key=round_ratio)
    return ordered[(len(ordered) - 1) // 2]


def ratios(results: dict) -> dict[str, float | None]:
    """The issue's target ratios, from measurements taken in the same run (unrounded: the verdict uses these)."""
    export = results["export"]
    return {
        "whole ELT ÷ seed load": elt_over_seed(results),
        "raw load ÷ COPY floor": load_over_floor(results),
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
    whole = whole_elt(stages)
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
    mapped = results.get("class_archive_mapped")  # recorded from 2026-11-28 15:00 on
    archive_note = "" if mapped is None else (" (with the JVM class archive)" if mapped else " (no JVM class archive yet)")
    out.append(f"| project: Spark start-up{archive_note} | {results['spark_start_seconds']:.2f} | |")
    for name, seconds in stages.items():
        out.append(f"| project: {name} | {seconds:.2f} | {rows / seconds:,.0f} |" if seconds else f"| project: {name} | {seconds:.2f} | |")
    out.append(f"| project: whole ELT (load + dwh + mrt + tests + publish) | {whole:.2f} | {rows / whole:,.0f} |")
    out.append(f"| project: `python -m elt run` end to end | {results['project_end_to_end_seconds']:.2f} | {rows / results['project_end_to_end_seconds']:,.0f} |")
    if results.get("maintenance_seconds") is not None:  # recorded from 2026-11-27 17:00 on
        out.append(f"| after the run: vacuum and analyze of its new tables (autovacuum's work, not in the whole ELT) | {results['maintenance_seconds']:.2f} | |")
    repeat = export.get("repeat", 1)  # results recorded before the export was repeated have one pair
    median_of = f"median of {repeat}" if repeat > 1 else ""
    out += [
        f"| export: February audience via the app ({export['customers']:,} customers, {export['csv_bytes'] / 2**20:.1f} MiB{'; ' + median_of if median_of else ''}) "
        f"| {export['project_seconds']:.2f} | peak Python heap {export['project_peak_bytes'] / 2**20:.1f} MiB |",
        f"| export: COPY (same query) TO STDOUT into a byte counter{f' ({median_of})' if median_of else ''} | {export['copy_to_seconds']:.2f} "
        f"| peak Python heap {export['copy_to_peak_bytes'] / 2**20:.1f} MiB |",
        "",
        "| ratio | measured | target |",
        "|---|---:|---:|",
    ]
    for name, value in ratios(results).items():
        target = TARGETS.get(name, 2.0 if name == "export peak ÷ CSV size" else None)
        shown = "n/a" if value is None else f"{value:.3f}"
        verdict = "" if value is None or target is None else (" ✅" if value <= target else " ❌")
        out.append(f"| {name} | {shown}{verdict} | ≤ {target} |")
    out += round_lines(results.get("rounds", []))
    out += ["", "| dashboard query | p50 ms | p95 ms |", "|---|---:|---:|"]
    for name, timing in results["dashboard_queries"].items():
        out.append(f"| {name} | {timing['p50_ms']} | {timing['p95_ms']} |")
    out.append("")
    return out


def round_lines(rounds: list[dict]) -> list[str]:
    """Every round's timings and ratios, when there was more than one (the tables above show the median round)."""
    if len(rounds) < 2:
        return []
    out = [
        "",
        f"{len(rounds)} rounds; the tables above show the median round by whole ELT ÷ seed load.",
        "",
        "| round | floor s | seed s | whole ELT s | end to end s | whole ELT ÷ seed | raw load ÷ floor |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number, measured in enumerate(rounds, start=1):
        seed, by_seed = measured.get("seed_jdbc_seconds"), elt_over_seed(measured)
        out.append(
            f"| {number} | {measured['floor_copy_seconds']:.2f} | {f'{seed:.2f}' if seed else 'skipped'} "
            f"| {whole_elt(measured['project_stages']):.2f} | {measured['project_end_to_end_seconds']:.2f} "
            f"| {'n/a' if by_seed is None else f'{by_seed:.3f}'} | {load_over_floor(measured):.3f} |"
        )
    return out
