"""One billing month through Dagster, against the same month built by the core alone.

Fills a temporary capture store with a synthetic month (`generator`) through `CaptureStore.write`:
one capture at the end of each day, holding every report state last updated that day, and every
CostProfile. Then, each in a fresh process:

- `dagster asset materialize -m infercost_focus.definitions --select
  usage_reports_monthly,focus_monthly --partition M` with INFERCOST_CAPTURES, INFERCOST_OUTPUT
  and DAGSTER_HOME in the temporary folder: wall time, peak resident memory, the step times
  Dagster logs, and the SHA-256 of the file written;
- the core alone: `CaptureStore.month_states`, `export_focus` and `writers.encode` of the month.

    python -m benchmarks.dagster_month --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import generator
from benchmarks.measure import peak_rss, resident

# Dagster logs a step's duration as "950ms", "21.7s", "4m12s" or "1h2m".
_STEP_DONE = re.compile(r'Finished execution of step "(\w+)" in ((?:[\d.]+(?:ms|s|m|h))+)')
_DURATION_PART = re.compile(r"([\d.]+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def fill_store(root: Path, rows: int, month: str) -> dict[str, Any]:
    """A capture per day of the month's report states; returns what was written."""
    from infercost_focus.captures import CaptureStore

    data = generator.generate(rows, month)
    by_day: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for state in data.usage_reports:
        updated = datetime.strptime(state["status"]["lastUpdated"], "%Y-%m-%dT%H:%M:%SZ")
        day_end = datetime(updated.year, updated.month, updated.day, tzinfo=UTC)
        by_day[day_end + timedelta(days=1, seconds=-1)].append(state)

    store = CaptureStore(root)
    began = time.perf_counter()
    for captured_at in sorted(by_day):
        store.write(captured_at, by_day[captured_at], data.cost_profiles, "synthetic")
    return {
        "rows": data.rows,
        "captures": len(by_day),
        "fill_seconds": time.perf_counter() - began,
        "store_bytes": sum(path.stat().st_size for path in root.rglob("*.parquet")),
    }


def run_dagster(folder: Path, month: str) -> dict[str, Any]:
    """The month through `dagster asset materialize`, in a fresh process."""
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INFERCOST_CAPTURES": str(folder / "store"),
        "INFERCOST_OUTPUT": str(folder / "output"),
    }
    command = [
        str(Path(sys.executable).with_name("dagster")),
        *("asset", "materialize", "-m", "infercost_focus.definitions"),
        *("--select", "usage_reports_monthly,focus_monthly", "--partition", month),
    ]
    log = folder / "dagster.log"
    began = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    output = log.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"dagster asset materialize failed; its output:\n{output[-3000:]}")
    steps = {name: _seconds(duration) for name, duration in _STEP_DONE.findall(output)}
    written = folder / "output" / "focus_monthly" / f"{month}.csv"
    return {
        "seconds": seconds,
        "peak_rss": usage.ru_maxrss * 1024,
        "steps": steps,
        "sha256": hashlib.sha256(written.read_bytes()).hexdigest(),
        "bytes": written.stat().st_size,
    }


def _seconds(duration: str) -> float:
    return sum(
        float(value) * _UNIT_SECONDS[unit] for value, unit in _DURATION_PART.findall(duration)
    )


def core_from_captures(store: Path, month: str) -> dict[str, Any]:
    """The same month without Dagster: read the captures, export, encode (run in a child)."""
    from infercost_focus.captures import CaptureStore
    from infercost_focus.core import writers
    from infercost_focus.core.export import export_focus

    after_imports = resident()
    began = time.perf_counter()
    states = CaptureStore(store).month_states(month)
    read = time.perf_counter()
    result = export_focus([*states.usage_reports, *states.cost_profiles], billing_month=month)
    content = writers.encode(result.frame, "infercost", "csv")
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "read_seconds": read - began,
        "rows": len(result.frame),
        "peak_rss": peak_rss(),
        "rss_after_imports": after_imports,
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--core", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fill", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.core is not None:
        print(json.dumps(core_from_captures(args.core, args.month)))
        return
    if args.fill is not None:
        print(json.dumps(fill_store(args.fill, args.rows, args.month)))
        return

    # NB: every step runs in a process of its own, started by this small one: a child's peak
    # memory as the kernel reports it at exit includes what it was forked from.
    with tempfile.TemporaryDirectory(prefix="dagster-month-bench-") as scratch:
        folder = Path(scratch)
        command = [sys.executable, "-m", "benchmarks.dagster_month", "--month", args.month]
        result = _last_json([*command, "--rows", str(args.rows), "--fill", str(folder / "store")])
        result["dagster"] = run_dagster(folder, args.month)
        result["core"] = _last_json([*command, "--core", str(folder / "store")])
    print(json.dumps(result))


def _last_json(command: list[str]) -> dict[str, Any]:
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
