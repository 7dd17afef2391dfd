"""The Markdown report of `benchmarks.run`: machine, tables, each result against its yardsticks."""

from __future__ import annotations

from typing import Any

LAYOUTS = ("infercost", "focus-1.2")
MIB = 2**20
GIB = 2**30
TARGET_SPEEDUP = 10  # times the per-row baseline, at a million rows
TARGET_FLOOR_FACTOR = 2  # at most this many times the writer alone, at a million rows
TARGET_PEAK = 2 * GIB  # peak memory at 3 million rows, and for a month from captures
TARGET_PARQUET_RATE = 1_000_000  # rows per second, end to end
TARGET_MONTH_SECONDS = 60


def markdown(results: dict[str, Any]) -> str:
    parts = [_machine(results["machine"])]
    if results["sizes"]:
        parts.append(_transform(results["sizes"]))
        parts += [
            _phases(size, m["phases"]) for size, m in results["sizes"].items() if "phases" in m
        ]
    if "captures" in results:
        parts.append(_captures(results["captures"]))
    if "kubernetes" in results:
        parts.append(_kubernetes(results["kubernetes"]))
    if results.get("dagster"):
        parts.append(_dagster(results["dagster"], results["sizes"]))
    parts.append(_targets(results))
    return "\n\n".join(parts) + "\n"


def _machine(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    before = machine["load_before"]
    after = machine.get("load_after", before)
    return "\n".join(
        [
            "#### Machine",
            "",
            "| | |",
            "|---|---|",
            f"| date | {machine['date']} |",
            f"| CPU | {machine['cpu']}, {machine['cores']} cores, "
            f"{machine['memory_gib']:.0f} GiB memory |",
            f"| system | {machine['system']}, Python {machine['python']} |",
            f"| packages | {versions} |",
            f"| load average (1, 5, 15 min) | before {_load(before)}; after {_load(after)} |",
            f"| command | `{machine.get('command', '')}` |",
            f"| runs per measurement | {machine.get('runs', '')} |",
            f"| duration | {machine.get('minutes', 0):.0f} minutes |",
        ]
    )


def _load(values: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in values)


def _transform(sizes: dict[str, dict[str, Any]]) -> str:
    lines = [
        "#### One month: transform and write (`export_focus` + `writers.encode`)",
        "",
        "Speed-up is the per-row baseline's time divided by this one (higher is better); "
        "*x writer* is this time divided by pyarrow writing the finished table alone (lower is "
        "better). Peak RSS is the whole process's, input objects included (*input*).",
        "",
        "| rows | what | format | seconds | rows/s | peak RSS | input | speed-up | x writer |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, measured in sizes.items():
        rows = int(size)
        baseline = measured.get("baseline")
        layouts = [layout for layout in LAYOUTS if f"export {layout} csv" in measured]
        for layout in layouts:
            for file_format in ("csv", "csv.gz", "parquet"):
                result = measured[f"export {layout} {file_format}"]
                floor = measured[f"floor {layout} {file_format}"]["seconds"]
                lines.append(_row(rows, f"export, {layout}", file_format, result, baseline, floor))
        if baseline is not None:
            for file_format in ("csv", "csv.gz", "parquet"):
                seconds = _baseline_seconds(baseline, file_format)
                floor = measured[f"floor infercost {file_format}"]["seconds"]
                result = {**baseline, "seconds": seconds}
                lines.append(_row(rows, "per-row baseline", file_format, result, baseline, floor))
        for layout in layouts:
            for file_format in ("csv", "csv.gz", "parquet"):
                result = measured[f"floor {layout} {file_format}"]
                lines.append(
                    _row(
                        rows,
                        f"pyarrow alone, {layout}",
                        file_format,
                        result,
                        baseline,
                        result["seconds"],
                        memory=False,
                    )
                )
    return "\n".join(lines)


def _row(
    rows: int,
    what: str,
    file_format: str,
    result: dict[str, Any],
    baseline: dict[str, Any] | None,
    floor: float,
    *,
    memory: bool = True,
) -> str:
    seconds = result["seconds"]
    speedup = (
        f"{_baseline_seconds(baseline, file_format) / seconds:.1f}x"
        if baseline is not None
        else "—"
    )
    peak = _mib(result["peak_rss"]) if memory else "—"
    held = _mib(result["input_rss"]) if memory else "—"
    return (
        f"| {rows:,} | {what} | {file_format} | {seconds:.2f} | {rows / seconds:,.0f} | "
        f"{peak} | {held} | {speedup} | {seconds / floor:.1f}x |"
    )


def _baseline_seconds(baseline: dict[str, Any], file_format: str) -> float:
    key = {"csv": "seconds", "csv.gz": "seconds_csv_gz", "parquet": "seconds_parquet"}
    return float(baseline[key[file_format]])


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def _phases(size: str, phases: list[dict[str, Any]]) -> str:
    lines = [
        f"#### Where the time goes ({int(size):,} rows, InferCost layout, CSV)",
        "",
        "One process, phase by phase (`benchmarks/phases.py`): the export, then what the Dagster "
        "asset `focus_monthly` adds around it. System time and minor page faults measure the "
        "fresh memory each phase touches (and, for the file, the disk); resident memory is "
        "what the process holds after the phase, the input objects included.",
        "",
        "| phase | seconds | user | system | page faults | resident after | peak so far |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in phases:
        lines.append(
            f"| {phase['phase']} | {phase['seconds']:.1f} | {phase['user']:.1f} | "
            f"{phase['system']:.1f} | {phase['page_faults']:,} | "
            f"{_mib(phase['resident_after'])} | {_mib(phase['peak_so_far'])} |"
        )
    return "\n".join(lines)


def _captures(captures: dict[str, Any]) -> str:
    return "\n".join(
        [
            "#### A month from the capture store (`benchmarks/capture_store_month.py`)",
            "",
            "2,000 UsageReports (15 models each) captured every 15 minutes over the month and a "
            "day either side, read cold in a fresh process: `CaptureStore.month_states` picks "
            "each report period's latest state, then `export_focus` and `writers.encode` make "
            "the month's CSV, as the monthly asset does.",
            "",
            "| what | seconds | peak RSS | after imports |",
            "|---|---:|---:|---:|",
            f"| month_states: {captures['captures_read']:,} captures read, "
            f"{captures['states']:,} UsageReport states | {captures['read_seconds']:.1f} | "
            f"{_mib(captures['read_peak_rss'])} | {_mib(captures['rss_after_imports'])} |",
            f"| the whole month: states, export, CSV ({captures['rows']:,} rows) | "
            f"{captures['seconds']:.1f} | {_mib(captures['peak_rss'])} | "
            f"{_mib(captures['rss_after_imports'])} |",
            f"| one capture of {captures['write_reports']:,} reports "
            f"({captures['write_mib']:.1f} MiB file) | {captures['write_seconds']:.2f} | — | — |",
        ]
    )


def _kubernetes(runs: list[dict[str, Any]]) -> str:
    lines = [
        "#### One capture from the Kubernetes API (loopback emulator, paginated)",
        "",
        "`connect()`, `fetch()` (UsageReports and CostProfiles, `limit`/`continue`) and "
        "`CaptureStore.write`, in a fresh process.",
        "",
        "| UsageReports | page size | seconds | listing | peak RSS | after imports | growth |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        growth = run["peak_rss"] - run["rss_after_imports"]
        lines.append(
            f"| {run['usage_reports']:,} | {run['page_size']} | {run['seconds']:.2f} | "
            f"{run['list_seconds']:.2f} | {_mib(run['peak_rss'])} | "
            f"{_mib(run['rss_after_imports'])} | {_mib(growth)} |"
        )
    return "\n".join(lines)


def _dagster(dagster: dict[str, Any], sizes: dict[str, Any]) -> str:
    lines = [
        "#### The month through Dagster",
        "",
        "`dagster asset materialize --select usage_reports_monthly,focus_monthly` on a capture "
        "store filled with the same synthetic month (one capture per day), against the core "
        "alone from the same store (`month_states` + `export_focus` + `writers.encode`).",
        "",
        "| rows | what | seconds | peak RSS | steps | same bytes as the export |",
        "|---:|---|---:|---:|---|---|",
    ]
    for size, result in dagster.items():
        run, core = result["dagster"], result["core"]
        export = sizes.get(size, {}).get("export infercost csv", {})
        same = run["sha256"] == core["sha256"] == export.get("sha256", core["sha256"])
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run["steps"].items())
        lines += [
            f"| {int(size):,} | dagster asset materialize | {run['seconds']:.1f} | "
            f"{_mib(run['peak_rss'])} | {steps} | {'yes' if same else 'NO'} |",
            f"| {int(size):,} | core alone | {core['seconds']:.1f} | {_mib(core['peak_rss'])} | "
            f"month_states {core['read_seconds']:.1f} s | {'yes' if same else 'NO'} |",
        ]
    return "\n".join(lines)


def _targets(results: dict[str, Any]) -> str:
    lines = ["#### Targets", "", "| target | result | met |", "|---|---|---|"]
    million = results["sizes"].get("1000000")
    if million is not None:
        export = million["export infercost csv"]
        floor = million["floor infercost csv"]["seconds"]
        if "baseline" in million:
            speedup = million["baseline"]["seconds"] / export["seconds"]
            lines.append(
                _target(
                    "transform + CSV ≥ 10x per-row baseline (1M)",
                    f"{speedup:.1f}x",
                    speedup >= TARGET_SPEEDUP,
                )
            )
        factor = export["seconds"] / floor
        lines.append(
            _target(
                "transform + CSV ≤ 2x writer alone (1M)",
                f"{factor:.1f}x",
                factor <= TARGET_FLOOR_FACTOR,
            )
        )
        parquet = million["export infercost parquet"]
        rate = int(parquet["rows"]) / parquet["seconds"]
        lines.append(
            _target(
                "Parquet ≥ 1M rows/s end to end (1M)",
                f"{rate:,.0f} rows/s",
                rate >= TARGET_PARQUET_RATE,
            )
        )
    large = results["sizes"].get("3000000")
    if large is not None:
        peak = max(large[f"export infercost {fmt}"]["peak_rss"] for fmt in ("csv", "parquet"))
        lines.append(
            _target("peak memory < 2 GB (3M, InferCost layout)", _mib(peak), peak < TARGET_PEAK)
        )
    captures = results.get("captures")
    if captures is not None:
        ok = captures["seconds"] < TARGET_MONTH_SECONDS and captures["peak_rss"] < TARGET_PEAK
        lines.append(
            _target(
                "month from captures < 60 s and < 2 GB (capture store)",
                f"{captures['seconds']:.1f} s, {_mib(captures['peak_rss'])}",
                ok,
            )
        )
    for size, result in (results.get("dagster") or {}).items():
        run = result["dagster"]
        ok = run["seconds"] < TARGET_MONTH_SECONDS and run["peak_rss"] < TARGET_PEAK
        lines.append(
            _target(
                f"month from captures < 60 s and < 2 GB (Dagster, {int(size):,} rows)",
                f"{run['seconds']:.1f} s, {_mib(run['peak_rss'])}",
                ok,
            )
        )
    kubernetes = results.get("kubernetes")
    if kubernetes:
        growth = {
            (run["usage_reports"], run["page_size"]): run["peak_rss"] - run["rss_after_imports"]
            for run in kubernetes
        }
        text = "; ".join(
            f"{reports:,} reports, page {page}: +{_mib(value)}"
            for (reports, page), value in growth.items()
        )
        small, large_run = growth.get((2000, 500)), growth.get((8000, 500))
        bounded = small is not None and large_run is not None and large_run < 2 * small
        lines.append(
            _target("capture memory bounded by a page (not by the reports)", text, bounded)
        )
    return "\n".join(lines)


def _target(name: str, result: str, met: bool) -> str:
    return f"| {name} | {result} | {'yes' if met else '**no**'} |"
