"""Synthetic UsageReports and CostProfiles of one billing month, at organisation scale.

`generate(rows)` returns the last state of every report period overlapping a billing month, as the
capture store would hand them to the export: plain dicts shaped as the Kubernetes API returns
them, money as `Decimal` (six places, as InferCost writes micro-dollars), tokens as `int`. Reports
are added until the month's FOCUS file holds `rows` rows, so a benchmark can ask for 100,000,
1,000,000 or 3,000,000 rows and get that many.

The shapes follow what a large organisation runs:

- many namespaces (one per 40 reports, at least 20), each declaring one or two CostProfiles;
- 60% monthly, 25% weekly (ISO weeks; the first and last of a month cross its boundary) and 15%
  daily reports;
- 10 to 20 `byModel` entries per report; a third of the reports are shared gateways whose
  entries are billed to two to five namespaces;
- a breakdown that covers less than the totals in one report of ten (a row without model), no
  breakdown at all in one of fifty, and a missing CostProfile in one of a hundred;
- two or three `cloudComparison` entries per report.

Everything comes from `random.Random(seed)`, so the same arguments always give the same objects.

    python -m benchmarks.generator --rows 100000       # prints what would be generated
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

GROUP = "finops.infercost.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MICRO = 6  # decimal places of InferCost's dollar amounts
CONTROLLER_PERIOD = 300  # seconds between two status updates of a report

MODELS = (
    "llama-3.1-8b-instruct", "llama-3.1-70b-instruct", "llama-3.3-70b-instruct",
    "qwen2.5-7b-instruct", "qwen2.5-14b-instruct", "qwen2.5-32b-instruct", "qwen2.5-72b-instruct",
    "qwen2.5-coder-32b-instruct", "mistral-7b-instruct", "mistral-nemo-12b-instruct",
    "mistral-small-24b-instruct", "mixtral-8x7b-instruct", "mixtral-8x22b-instruct",
    "gemma-2-9b-it", "gemma-2-27b-it", "phi-3-mini-4k-instruct", "phi-3.5-mini-instruct",
    "phi-4", "deepseek-r1-distill-llama-70b", "deepseek-r1-distill-qwen-32b",
    "deepseek-coder-v2-lite", "codellama-34b-instruct", "granite-3.1-8b-instruct",
    "command-r-35b", "yi-1.5-34b-chat", "falcon-40b-instruct", "starcoder2-15b",
    "bge-m3", "e5-mistral-7b-instruct", "nomic-embed-text-v1.5",
)  # fmt: skip
APPS = (
    "chat", "rag", "search", "summarize", "translate", "code-assist", "triage", "extract",
    "classify", "moderation", "agents", "embeddings", "eval", "synthetic-data", "copilot",
)  # fmt: skip
# (gpuModel, gpuCount, purchase price, amortization years, rate per kWh, PUE)
POOLS = (
    ("NVIDIA H100 80GB HBM3", 8, "320000", "4", "0.12", "1.3"),
    ("NVIDIA A100 80GB PCIe", 8, "190000", "5", "0.09", "1.4"),
    ("NVIDIA L40S", 4, "52000", "3", "0.18", "1.5"),
    ("NVIDIA H200 141GB", 8, "410000", "4", "0.11", "1.25"),
)
# provider, model, dollars per million input tokens, per million output tokens
CLOUDS = (
    ("openai", "gpt-4o", Decimal("2.50"), Decimal("10.00")),
    ("openai", "gpt-4o-mini", Decimal("0.15"), Decimal("0.60")),
    ("anthropic", "claude-3-5-sonnet", Decimal("3.00"), Decimal("15.00")),
    ("anthropic", "claude-3-5-haiku", Decimal("0.80"), Decimal("4.00")),
    ("google", "gemini-1.5-pro", Decimal("1.25"), Decimal("5.00")),
    ("google", "gemini-1.5-flash", Decimal("0.075"), Decimal("0.30")),
)
SCHEDULES = ("monthly",) * 12 + ("weekly",) * 5 + ("daily",) * 3


@dataclass(frozen=True)
class SyntheticMonth:
    """The objects of one billing month, and how many FOCUS rows they make in it."""

    month: str
    usage_reports: list[dict[str, Any]]
    cost_profiles: list[dict[str, Any]]
    rows: int  # rows of the month's FOCUS file
    reports: int  # distinct UsageReports (each has one state per period)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [*self.usage_reports, *self.cost_profiles]


@dataclass(frozen=True)
class _Period:
    name: str
    start: datetime
    end: datetime  # the last status update of the period (its final captured state)
    hours: float  # hours of the period that the counters cover


def generate(rows: int, month: str = "2026-04", seed: int = 20260401) -> SyntheticMonth:
    """Report states of `month` adding up to `rows` FOCUS rows (the last report is cut short)."""
    made = 0
    reports: list[dict[str, Any]] = []
    cluster = _Cluster(rows // 3000, month, seed)
    with _collector_paused():
        while made < rows:
            for state, state_rows in cluster.next_report():
                reports.append(state)
                made += state_rows
                if made >= rows:
                    break
    return SyntheticMonth(month, reports, cluster.profiles, made, cluster.reports)


def current_reports(
    count: int, month: str = "2026-04", seed: int = 20260401
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` UsageReports as a cluster shows them (one period each), and their CostProfiles."""
    cluster = _Cluster(count // 40, month, seed)
    with _collector_paused():
        reports = [next(iter(cluster.next_report()))[0] for _ in range(count)]
    return reports, cluster.profiles


class _Cluster:
    """Namespaces with their CostProfiles, and the reports made so far."""

    def __init__(self, namespaces: int, month: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.first, self.after = _month_bounds(month)
        self.namespaces = [f"team-{number:04d}" for number in range(max(20, namespaces))]
        self.profiles = _cost_profiles(self.namespaces, self.rng)
        self.profile_names: dict[str, list[str]] = {}
        for profile in self.profiles:
            meta = profile["metadata"]
            self.profile_names.setdefault(meta["namespace"], []).append(meta["name"])
        self.reports = 0

    def next_report(self) -> Iterator[tuple[dict[str, Any], int]]:
        number, self.reports = self.reports, self.reports + 1
        return _report_states(
            number, self.first, self.after, self.namespaces, self.profile_names, self.rng
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """NB: millions of new dicts would make the cyclic garbage collector run over and over."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    first = datetime(year, number, 1, tzinfo=UTC)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return first, after


def _cost_profiles(namespaces: list[str], rng: random.Random) -> list[dict[str, Any]]:
    profiles = []
    for namespace in namespaces:
        for name in ("gpu-pool", "batch-pool")[: rng.choice((1, 1, 2))]:
            gpu, count, price, years, rate, pue = rng.choice(POOLS)
            profiles.append(
                {
                    "apiVersion": API_VERSION,
                    "kind": "CostProfile",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "uid": str(uuid.UUID(int=rng.getrandbits(128))),
                        "creationTimestamp": "2025-09-24T09:30:00Z",
                    },
                    "spec": {
                        "hardware": {
                            "gpuModel": gpu,
                            "gpuCount": count,
                            "purchasePriceUSD": Decimal(price),
                            "amortizationYears": Decimal(years),
                        },
                        "electricity": {"ratePerKWh": Decimal(rate), "pueFactor": Decimal(pue)},
                    },
                }
            )
    return profiles


def _report_states(
    number: int,
    first: datetime,
    after: datetime,
    namespaces: list[str],
    profile_names: dict[str, list[str]],
    rng: random.Random,
) -> Iterator[tuple[dict[str, Any], int]]:
    """Each period state of one report overlapping the month, with the rows it adds to it."""
    # What the report is: where it runs, what it serves, how its status is shaped.
    namespace = namespaces[number % len(namespaces)]
    schedule = rng.choice(SCHEDULES)
    name = f"{rng.choice(APPS)}-{schedule}-{number:06d}"
    models = rng.sample(MODELS, rng.randint(10, 20))
    callers = [namespace]
    if rng.random() < 1 / 3:  # a shared gateway billing its callers' namespaces
        callers += rng.sample(namespaces, rng.randint(2, 5))
    entry_namespaces = [callers[position % len(callers)] for position in range(len(models))]
    shape = rng.random()
    rollup_only = shape < 0.02
    partial = 0.02 <= shape < 0.12
    # One report in a hundred names a CostProfile that no longer exists.
    retired = rng.random() < 0.01
    profile = "retired-pool" if retired else rng.choice(profile_names[namespace])
    clouds = rng.sample(CLOUDS, rng.randint(2, 3))
    rates = [rng.randint(20_000, 2_000_000) for _ in models]  # input tokens per hour
    output_permille = [rng.randint(50, 900) for _ in models]
    micro_per_million = [rng.randint(20_000, 900_000) for _ in models]  # cost per 1M tokens
    offset = timedelta(seconds=rng.randrange(CONTROLLER_PERIOD))
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.UUID(int=rng.getrandbits(128))),
        "resourceVersion": str(rng.randrange(10**9)),
        "creationTimestamp": "2025-10-01T00:00:00Z",
        "labels": {
            "team": namespace,
            "app": name.split("-")[0],
            "cost-center": f"cc-{1000 + number % 97 * 10}",
        },
    }
    spec = {"costProfileRef": profile, "schedule": schedule}

    # One state per period: the last one the controller wrote before the period rolled over.
    for period in _periods(schedule, first, after, offset):
        noise = rng.uniform(0.85, 1.15)
        entries: list[dict[str, Any]] = []
        input_total = output_total = 0
        cost_total = Decimal(0)
        for position, model in enumerate(models):
            input_tokens = int(rates[position] * period.hours * noise)
            output_tokens = input_tokens * output_permille[position] // 1000
            micro = (input_tokens + output_tokens) * micro_per_million[position] // 1_000_000
            cost = Decimal(micro).scaleb(-MICRO)
            entries.append(
                {
                    "model": model,
                    "namespace": entry_namespaces[position],
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "estimatedCostUSD": cost,
                }
            )
            input_total += input_tokens
            output_total += output_tokens
            cost_total += cost
        if partial:  # traffic the controller could not attribute to a model
            input_total += input_total // 20
            cost_total += Decimal(rng.randrange(1, 10**7)).scaleb(-MICRO)
        status: dict[str, Any] = {
            "period": period.name,
            "periodStart": _stamp(period.start),
            "periodEnd": _stamp(period.end),
            "inputTokens": input_total,
            "outputTokens": output_total,
            "estimatedCostUSD": cost_total,
            "cloudComparison": [
                _cloud_entry(cloud, input_total, output_total, cost_total) for cloud in clouds
            ],
            "lastUpdated": _stamp(period.end),
        }
        if not rollup_only:
            status["byModel"] = entries
        state = {
            "apiVersion": API_VERSION,
            "kind": "UsageReport",
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }
        yield state, 1 if rollup_only else len(entries) + partial


def _periods(
    schedule: str, first: datetime, after: datetime, offset: timedelta
) -> Iterator[_Period]:
    """The periods of a schedule that overlap [first, after), each at its final state."""
    if schedule == "monthly":
        starts = [first]
        length = after - first
    elif schedule == "daily":
        starts = [first + timedelta(days=day) for day in range((after - first).days)]
        length = timedelta(days=1)
    else:
        monday = first - timedelta(days=first.weekday())
        starts = []
        while monday < after:
            starts.append(monday)
            monday += timedelta(days=7)
        length = timedelta(days=7)
    for start in starts:
        # The controller's last update of the period, a few minutes before it rolls over.
        end = start + length - timedelta(seconds=CONTROLLER_PERIOD) + offset
        if schedule == "weekly":
            year, week, _ = start.isocalendar()
            name = f"{year}-W{week:02d}"
        elif schedule == "daily":
            name = f"{start:%Y-%m-%d}"
        else:
            name = f"{start:%Y-%m}"
        yield _Period(name, start, end, (end - start).total_seconds() / 3600)


def _cloud_entry(
    cloud: tuple[str, str, Decimal, Decimal], input_tokens: int, output_tokens: int, cost: Decimal
) -> dict[str, Any]:
    provider, model, input_price, output_price = cloud
    micro = (input_tokens * input_price + output_tokens * output_price).to_integral_value()
    estimated = Decimal(int(micro)).scaleb(-MICRO)
    savings = estimated - cost
    percent = (savings * 100 / estimated).quantize(Decimal("0.01")) if estimated else Decimal(0)
    return {
        "provider": provider,
        "model": model,
        "estimatedCloudCostUSD": estimated,
        "savingsUSD": savings,
        "savingsPercent": percent,
    }


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--month", default="2026-04")
    args = parser.parse_args()
    began = time.perf_counter()
    data = generate(args.rows, args.month)
    seconds = time.perf_counter() - began
    periods: dict[str, int] = {}
    for report in data.usage_reports:
        schedule = report["spec"]["schedule"]
        periods[schedule] = periods.get(schedule, 0) + 1
    print(
        f"{data.rows} rows of {data.month} from {data.reports} UsageReports "
        f"({len(data.usage_reports)} report periods: {periods}), "
        f"{len(data.cost_profiles)} CostProfiles, generated in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
