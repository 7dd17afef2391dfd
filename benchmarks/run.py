"""Every benchmark of the project on this machine, as one Markdown report.

    python -m benchmarks.run > benchmarks/RESULTS.md     # 100k, 1M and 3M rows (about an hour)
    python -m benchmarks.run --quick                      # 100k rows only (a few minutes)
    python -m benchmarks.run --rows 1000000 --repeat 5 --skip kubernetes,dagster
    python -m benchmarks.run --capture-store /tmp/store   # build the capture store once, reuse it

Each measurement runs in a fresh process (`benchmarks.measure` and the scripts beside it), so its
peak resident memory is its own. Times and memory are medians over `--repeat` runs at 100,000
rows or fewer and `--large-repeat` runs up to a million rows (3 each by default); larger sizes
run once. Every result is set against two yardsticks measured the same way: the per-row baseline
(`baseline_per_row`) and the writer alone (pyarrow writing the finished table, nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import report

LAYOUTS = ("infercost", "focus-1.2")
FORMATS = ("csv", "csv.gz", "parquet")
PARTS = ("transform", "captures", "kubernetes", "dagster")
_MONTH_STATES = re.compile(
    r"month_states\('[\d-]+'\): ([\d.]+) s, peak RSS (\d+) MiB \(after imports (\d+) MiB\); "
    r"(\d+) capture files read, (\d+) UsageReport states"
)
_MONTH_BUILT = re.compile(r"month built: ([\d.]+) s, peak RSS (\d+) MiB; (\d+) rows, (\d+) bytes")
_ONE_WRITE = re.compile(r"one capture of (\d+) reports: write ([\d.]+) s, ([\d.]+) MiB")


@dataclass
class Settings:
    sizes: list[int]
    repeat: int
    large_repeat: int
    baseline_max_rows: int
    dagster_max_rows: int
    skip: set[str]
    month: str
    scratch: Path
    warm_gib: int
    phases_rows: int = 1_000_000
    large_layouts: tuple[str, ...] = LAYOUTS
    capture_store: Path | None = None
    log: list[str] = field(default_factory=list)

    def repeats(self, rows: int) -> int:
        if rows <= 100_000:
            return self.repeat
        return self.large_repeat if rows <= 1_000_000 else 1

    def say(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        print(f"[{stamp}] {line}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", default="100000,1000000,3000000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--large-repeat", type=int, default=3, help="runs of 100k-1M rows")
    parser.add_argument("--quick", action="store_true", help="100k rows only, 3 runs each")
    parser.add_argument("--skip", default="", help=f"parts to leave out: {', '.join(PARTS)}")
    parser.add_argument("--baseline-max-rows", type=int, default=1_000_000)
    parser.add_argument("--dagster-max-rows", type=int, default=1_000_000)
    parser.add_argument("--phases-rows", type=int, default=1_000_000, help="size of the profile")
    parser.add_argument("--large-layouts", default="infercost", help="layouts above 1M rows")
    parser.add_argument(
        "--capture-store", type=Path, help="build the capture store here, or reuse it"
    )
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--warm-gib", type=int, default=12, help="memory to touch first (GiB)")
    parser.add_argument(
        "--json", type=Path, help="also write the raw results here (after each part)"
    )
    parser.add_argument(
        "--report", type=Path, help="print the Markdown report of a saved --json file, and stop"
    )
    args = parser.parse_args()
    if args.report is not None:
        print(report.markdown(json.loads(args.report.read_text())))
        return

    with tempfile.TemporaryDirectory(prefix="infercost-bench-") as scratch:
        settings = Settings(
            sizes=[100_000] if args.quick else [int(size) for size in args.rows.split(",")],
            repeat=args.repeat,
            large_repeat=args.large_repeat,
            baseline_max_rows=args.baseline_max_rows,
            dagster_max_rows=args.dagster_max_rows,
            skip={part.strip() for part in args.skip.split(",") if part.strip()},
            month=args.month,
            scratch=Path(scratch),
            warm_gib=args.warm_gib,
            large_layouts=tuple(layout.strip() for layout in args.large_layouts.split(",")),
            capture_store=args.capture_store,
            phases_rows=args.phases_rows,
        )
        results = run_all(settings, args.json)
    print(report.markdown(results))


def run_all(settings: Settings, keep: Path | None = None) -> dict[str, Any]:
    """Every part not skipped; with `keep`, the results so far are saved there after each."""
    began = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    results["machine"]["command"] = " ".join(["python -m benchmarks.run", *sys.argv[1:]])
    results["machine"]["runs"] = (
        f"median of {settings.repeat} at 100,000 rows or fewer, "
        f"{settings.large_repeat} up to 1,000,000, 1 above (each in a fresh process)"
    )

    def save() -> None:
        results["machine"]["load_after"] = os.getloadavg()
        results["machine"]["minutes"] = (time.monotonic() - began) / 60
        if keep is not None:
            keep.write_text(json.dumps(results, indent=1))

    if settings.warm_gib:
        warm_memory(settings)
    if "transform" not in settings.skip:
        for rows in settings.sizes:
            results["sizes"][str(rows)] = transform(settings, rows)
            save()
    if "captures" not in settings.skip:
        results["captures"] = capture_store_month(settings)
        save()
    if "kubernetes" not in settings.skip:
        results["kubernetes"] = kubernetes_capture(settings)
        save()
    if "dagster" not in settings.skip:
        sizes = [rows for rows in settings.sizes if rows <= settings.dagster_max_rows]
        results["dagster"] = {}
        for rows in sizes:
            results["dagster"][str(rows)] = dagster_month(settings, rows)
            save()
    save()
    return results


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    packages = ("numpy", "pandas", "pyarrow", "dagster", "kubernetes", "infercost-focus")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory / 2**30,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in packages},
        "load_before": os.getloadavg(),
    }


def warm_memory(settings: Settings) -> None:
    """Touch memory once: this virtual machine backs a page slowly the first time it is used."""
    settings.say(f"touching {settings.warm_gib} GiB of memory once")
    code = (
        "import numpy as np\n"
        f"blocks = [np.ones(1 << 30, np.uint8) for _ in range({settings.warm_gib})]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def transform(settings: Settings, rows: int) -> dict[str, Any]:
    """Export and writer, per layout and format; the baseline and the floor beside them."""
    runs = settings.repeats(rows)
    data = settings.scratch / f"objects-{rows}.pickle"
    settings.say(f"{rows} rows: generating the input once")
    child(settings, "prepare", "--rows", str(rows), "--month", settings.month, "--save", str(data))
    common = ("--input", str(data), "--month", settings.month)
    measured: dict[str, Any] = {}
    for layout in LAYOUTS if rows <= 1_000_000 else settings.large_layouts:
        table = settings.scratch / f"table-{layout}-{rows}.arrow"
        for file_format in FORMATS:
            extra = ("--save-table", str(table)) if file_format == "csv" else ()
            measured[f"export {layout} {file_format}"] = repeated(
                settings,
                f"{rows} rows: export {layout} {file_format}",
                runs,
                ("export", *common, "--layout", layout, "--format", file_format),
                extra,
            )
        for file_format in FORMATS:
            measured[f"floor {layout} {file_format}"] = repeated(
                settings,
                f"{rows} rows: pyarrow alone, {layout} {file_format}",
                runs,
                ("floor", "--table", str(table), "--format", file_format),
            )
        table.unlink()
    if rows <= settings.baseline_max_rows:
        measured["baseline"] = repeated(
            settings, f"{rows} rows: per-row baseline", runs, ("baseline", *common)
        )
    if rows == settings.phases_rows:
        settings.say(f"{rows} rows: where the time goes, phase by phase")
        measured["phases"] = child(settings, *common, module="benchmarks.phases")
    data.unlink()
    return measured


def repeated(
    settings: Settings,
    what: str,
    runs: int,
    arguments: tuple[str, ...],
    first_extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Median of `runs` fresh-process measurements; `first_extra` goes to the first only."""
    results = []
    for run in range(runs):
        settings.say(f"{what} ({run + 1}/{runs})")
        results.append(child(settings, *arguments, *(first_extra if run == 0 else ())))
    if len({result.get("sha256") for result in results}) > 1:
        raise RuntimeError(f"{what}: runs wrote different bytes; the output is not deterministic")
    summary = dict(results[0])
    for key in ("seconds", "peak_rss", "input_rss", "seconds_csv_gz", "seconds_parquet"):
        if key in summary:
            summary[key] = statistics.median(float(result[key]) for result in results)
    summary["runs"] = [result["seconds"] for result in results]
    return summary


def child(settings: Settings, *arguments: str, module: str = "benchmarks.measure") -> Any:
    """The JSON that one measurement in a fresh process prints last."""
    command = [sys.executable, "-m", module, *arguments]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    lines = completed.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def capture_store_month(settings: Settings) -> dict[str, Any]:
    """The existing capture store benchmark: 2,000 reports every 15 minutes for a month."""
    store = settings.capture_store or settings.scratch / "capture-store"
    runs: list[dict[str, Any]] = []
    for run in range(settings.repeat):
        settings.say(f"capture store month ({run + 1}/{settings.repeat}; the first builds it)")
        command = [sys.executable, "-m", "benchmarks.capture_store_month"]
        command += ["--month", settings.month, "--keep", str(store)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        states = _MONTH_STATES.search(output)
        built = _MONTH_BUILT.search(output)
        write = _ONE_WRITE.search(output)
        if states is None or built is None or write is None:
            raise RuntimeError(f"capture_store_month.py printed what this cannot read:\n{output}")
        runs.append(
            {
                "seconds": float(built[1]),
                "peak_rss": int(built[2]) * 2**20,
                "rows": int(built[3]),
                "csv_bytes": int(built[4]),
                "read_seconds": float(states[1]),
                "read_peak_rss": int(states[2]) * 2**20,
                "rss_after_imports": int(states[3]) * 2**20,
                "captures_read": int(states[4]),
                "states": int(states[5]),
                "write_reports": int(write[1]),
                "write_seconds": float(write[2]),
                "write_mib": float(write[3]),
                "output": output.strip(),
            }
        )
    summary: dict[str, Any] = dict(runs[-1])
    for key in ("seconds", "peak_rss", "read_seconds", "read_peak_rss", "write_seconds"):
        summary[key] = statistics.median(float(run[key]) for run in runs)
    summary["runs"] = [run["seconds"] for run in runs]
    return summary


def kubernetes_capture(settings: Settings) -> list[dict[str, Any]]:
    """One capture of 2,000 reports from the emulator at two page sizes, and of 8,000."""
    results = []
    for reports, pages in ((2000, "500,100"), (8000, "500")):
        settings.say(f"capture of {reports} reports from the Kubernetes API emulator")
        command = [sys.executable, "-m", "benchmarks.kubernetes_capture"]
        command += ["--reports", str(reports), "--page-sizes", pages]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results += [json.loads(line) for line in output.strip().splitlines()]
    return results


def dagster_month(settings: Settings, rows: int) -> dict[str, Any]:
    settings.say(f"{rows} rows: the month through Dagster, and through the core alone")
    command = [sys.executable, "-m", "benchmarks.dagster_month", "--rows", str(rows)]
    command += ["--month", settings.month]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
