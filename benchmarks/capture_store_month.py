"""How long building one month from the capture store takes, and how much memory it needs.

Builds a synthetic store in a temporary folder: N UsageReports (60% monthly, 20% ISO weekly,
20% daily periods, each with a breakdown over a number of models) and a few CostProfiles,
captured every 15 minutes over a month plus a margin on both sides. Then, in a fresh process,
builds the month as the monthly asset does (`CaptureStore.month_states`, `export_focus`, the CSV
bytes) and prints its wall time and peak resident memory.

    python -m benchmarks.capture_store_month                     # 2000 reports, 2026-04
    python -m benchmarks.capture_store_month --reports 200 --keep /tmp/store

Writing millions of objects through `CaptureStore.write` would take longer than the read being
measured, so the synthetic captures are written by `write_synthetic_capture`: the same encoder
and the same paths, fed with JSON text made from templates. One real `write` of N reports is
timed as well, since that is what the capture job pays every 15 minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.measure import peak_rss
from infercost_focus.captures import CaptureStore
from infercost_focus.captures._format import (
    COST_PROFILE,
    USAGE_REPORT,
    IndexEntry,
    encode_capture,
)
from infercost_focus.captures._layout import month_bounds, new_capture_path
from infercost_focus.captures._storage import Storage, open_storage
from infercost_focus.core import writers
from infercost_focus.core.export import export_focus
from infercost_focus.core.jsonio import loads_exact

PROFILES = 8
CONTROLLER_PERIOD = 300  # seconds between two status updates of one report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--interval-minutes", type=int, default=15)
    parser.add_argument("--margin-days", type=float, default=1.0)
    parser.add_argument("--models", type=int, default=15, help="model breakdowns per report")
    parser.add_argument("--processes", type=int, default=2, help="processes writing the store")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the store in this folder")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure is not None:
        measure(args.measure, args.month)
        return

    with tempfile.TemporaryDirectory(prefix="capture-bench-") as scratch:
        root = args.keep or Path(scratch) / "store"
        if not (root / "captures").exists():
            build_store(root, args)
        else:
            print(f"reusing the store at {root}")
        time_one_write(args)
        result = subprocess.run(
            [
                sys.executable,
                *("-m", "benchmarks.capture_store_month"),
                *("--measure", str(root), "--month", args.month),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        print(result.stdout.strip())


def build_store(root: Path, args: argparse.Namespace) -> None:
    start, end = month_bounds(args.month)
    first = start - timedelta(days=args.margin_days)
    last = end + timedelta(days=args.margin_days)
    step = timedelta(minutes=args.interval_minutes)
    times = [first + step * i for i in range(int((last - first) / step))]
    days = sorted({at.date() for at in times})

    began = time.monotonic()
    with ProcessPoolExecutor(args.processes) as pool:
        jobs = [
            pool.submit(write_day, str(root), [t for t in times if t.date() == day], args)
            for day in days
        ]
        written = sum(job.result() for job in jobs)
    size = sum(path.stat().st_size for path in root.rglob("*.parquet"))
    print(
        f"built {len(times)} captures x {args.reports} reports in {time.monotonic() - began:.0f} s"
        f" ({written} files, {size / 2**30:.2f} GiB) at {root}"
    )


def write_day(root: str, times: list[datetime], args: argparse.Namespace) -> int:
    storage = open_storage(root)
    reports = [SyntheticReport(number, args.models) for number in range(args.reports)]
    profiles = [profile_text(number) for number in range(PROFILES)]
    for at in times:
        write_synthetic_capture(storage, at, reports, profiles)
    return len(times)


def write_synthetic_capture(
    storage: Storage, at: datetime, reports: list[SyntheticReport], profiles: list[str]
) -> None:
    """One capture file in the store's format, from template text instead of dicts."""
    kinds, entries, texts = [], [], []
    for report in reports:
        entry, text = report.state(at)
        kinds.append(USAGE_REPORT)
        entries.append(entry)
        texts.append(text)
    for number, text in enumerate(profiles):
        kinds.append(COST_PROFILE)
        entries.append(IndexEntry(namespace=f"team-{number}", name="gpu-pool", uid=f"p-{number}"))
        texts.append(text)
    data = encode_capture(at, "synthetic", kinds, entries, texts)
    storage.put(new_capture_path(at), data)


class SyntheticReport:
    """A UsageReport whose numbers grow through each period, updated every five minutes."""

    def __init__(self, number: int, models: int) -> None:
        self.number = number
        self.uid = str(uuid.UUID(int=number + 1))
        self.kind = ("monthly", "monthly", "monthly", "weekly", "daily")[number % 5]
        self.offset = timedelta(seconds=zlib.crc32(self.uid.encode()) % CONTROLLER_PERIOD)
        self.models = [f"model-{(number + m) % 40:02d}" for m in range(models)]
        self.rate = 0.5 + (number % 17) / 10

    def state(self, at: datetime) -> tuple[IndexEntry, str]:
        updated = self._last_update(at)
        period, start = self._period(updated)
        hours = (updated - start).total_seconds() / 3600
        stamp = {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") for k, v in (("s", start), ("u", updated))}
        # Per model: the hours so far times a model weight; the totals are the sums, as the
        # controller reports them (a breakdown never claims more than its report).
        weights = range(1, len(self.models) + 1)
        inputs = [int(hours * 9_100 * weight) for weight in weights]
        outputs = [int(hours * 2_300 * weight) for weight in weights]
        micros = [int(hours * self.rate * weight * 1_000_000) for weight in weights]
        breakdown = ",".join(
            f'{{"model":"{model}","inputTokens":{tokens_in},"outputTokens":{tokens_out},'
            f'"gpuHours":{hours * weight / 7:.6f},"estimatedCostUSD":{_dollars(cost)},'
            f'"requests":{int(hours * 41 * weight)}}}'
            for model, weight, tokens_in, tokens_out, cost in zip(
                self.models, weights, inputs, outputs, micros, strict=True
            )
        )
        total = sum(micros)
        text = (
            '{"apiVersion":"finops.infercost.ai/v1alpha1","kind":"UsageReport",'
            f'"metadata":{{"namespace":"team-{self.number % PROFILES}",'
            f'"name":"report-{self.number:05d}","uid":"{self.uid}",'
            f'"resourceVersion":"{int(updated.timestamp())}",'
            '"creationTimestamp":"2025-11-02T09:00:00Z"},'
            f'"spec":{{"costProfileRef":"gpu-pool","schedule":"{self.kind}"}},'
            f'"status":{{"period":"{period}","periodStart":"{stamp["s"]}",'
            f'"periodEnd":"{stamp["u"]}","lastUpdated":"{stamp["u"]}",'
            f'"estimatedCostUSD":{_dollars(total)},'
            f'"inputTokens":{sum(inputs)},"outputTokens":{sum(outputs)},'
            f'"byModel":[{breakdown}]}}}}'
        )
        entry = IndexEntry(
            namespace=f"team-{self.number % PROFILES}",
            name=f"report-{self.number:05d}",
            uid=self.uid,
            period=period,
            period_start=start,
            period_end=updated,
            last_updated=updated,
        )
        return entry, text

    def _last_update(self, at: datetime) -> datetime:
        seconds = int((at - self.offset).timestamp()) // CONTROLLER_PERIOD * CONTROLLER_PERIOD
        return datetime.fromtimestamp(seconds, UTC) + self.offset

    def _period(self, at: datetime) -> tuple[str, datetime]:
        day = datetime(at.year, at.month, at.day, tzinfo=UTC)
        if self.kind == "daily":
            return f"{day:%Y-%m-%d}", day
        if self.kind == "weekly":
            year, week, weekday = at.isocalendar()
            return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)
        return f"{day:%Y-%m}", day.replace(day=1)


def _dollars(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def profile_text(number: int) -> str:
    return json.dumps(
        {
            "apiVersion": "finops.infercost.ai/v1alpha1",
            "kind": "CostProfile",
            "metadata": {"namespace": f"team-{number}", "name": "gpu-pool", "uid": f"p-{number}"},
            "spec": {
                "hardware": {
                    "gpuModel": "NVIDIA H100 80GB HBM3",
                    "gpuCount": 8,
                    "purchasePriceUSD": 320000,
                    "amortizationYears": 4,
                },
                "electricity": {"ratePerKWh": "0.12", "pueFactor": "1.3"},
            },
        },
        separators=(",", ":"),
    )


def time_one_write(args: argparse.Namespace) -> None:
    at = month_bounds(args.month)[0] + timedelta(days=10)
    reports = [SyntheticReport(number, args.models) for number in range(args.reports)]
    objects = [loads_exact(report.state(at)[1]) for report in reports]
    with tempfile.TemporaryDirectory(prefix="capture-bench-write-") as folder:
        began = time.monotonic()
        info = CaptureStore(folder).write(at, objects, [], "synthetic")
        seconds = time.monotonic() - began
        size = Path(info.path).stat().st_size
    print(f"one capture of {args.reports} reports: write {seconds:.2f} s, {size / 2**20:.1f} MiB")


def measure(root: Path, month: str) -> None:
    """The month as the monthly asset builds it: latest states, the export, the CSV bytes."""
    store = CaptureStore(root)
    before = peak_rss() // 1024
    began = time.monotonic()
    states = store.month_states(month)
    read = time.monotonic()
    read_peak = peak_rss() // 1024
    result = export_focus([*states.usage_reports, *states.cost_profiles], billing_month=month)
    content = writers.encode(result.frame, "infercost", "csv")
    seconds = time.monotonic() - began
    peak = peak_rss() // 1024
    if result.rejects:
        raise SystemExit(f"the synthetic store has rejected objects: {result.rejects[:3]}")
    print(
        f"month_states({month!r}): {read - began:.1f} s, peak RSS {read_peak / 1024:.0f} MiB "
        f"(after imports {before / 1024:.0f} MiB); {states.captures_read} capture files read, "
        f"{len(states.usage_reports)} UsageReport states, {len(states.cost_profiles)} CostProfiles"
    )
    print(
        f"month built: {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB; "
        f"{len(result.frame)} rows, {len(content)} bytes of CSV"
    )


if __name__ == "__main__":
    main()
