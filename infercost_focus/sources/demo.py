"""The built-in demo cluster: a simulated InferCost installation that can be read at any instant.

Five teams (namespaces) run open-weight models on three GPU pools. Each namespace declares the pool
it runs on as a CostProfile; `inference-pool` is the name of an L40S pool in `support-bot` and of
an H100 pool in `platform`, so consumers must resolve profiles by namespace and name together.

`demo_cluster_at(T)` answers what `kubectl get usagereports,costprofiles -A -o json` would have
shown at T. Like the real controller, a UsageReport's status only shows its current period: the
counters are cumulative from the period start (or the report's creation) up to T, and they start
again from zero when the period rolls over. Everything is computed from fixed tables and a hash of
(report, model, day), never from a random generator, so the same T always gives the same objects.

Traffic is simulated hour by hour: a base rate per model, shaped by the hour of the day (UTC), the
day of the week, slow growth since launch and a little hashed noise. Each report is charged a fixed
share of its pool's hourly cost (amortized purchase plus electricity), split between its models by
their share of that hour's tokens. The hour in progress at T counts pro rata by its seconds.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from functools import lru_cache
from itertools import accumulate
from typing import Any, Literal

from infercost_focus.core.resources import API_VERSION, DEMO_LABEL

DEMO_SOURCE_NAME = "demo"

# The demo knows nothing before this instant: the first reports are created at launch.
LAUNCH = datetime(2025, 10, 1, tzinfo=UTC)
_PROFILES_CREATED = datetime(2025, 9, 24, 9, 30, tzinfo=UTC)

_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "demo.infercost-focus")
_KILOWATTS_PER_GPU = Decimal("0.7")
_HOURS_PER_YEAR = 8760
_MICRO = Decimal("0.000001")
_CENT = Decimal("0.01")
_HOUR = 3600
_HOURS_PER_MONTH = 730
# Traffic multiplies four permille factors and a growth factor scaled by a month of hours.
_TRAFFIC_DIVISOR = 1000**4 * _HOURS_PER_MONTH
# Money is computed in this context whatever the caller's thread-local decimal context says.
_MONEY_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)

Schedule = Literal["daily", "weekly", "monthly"]

# Share of a day's traffic per UTC hour, in permille of the base rate: people in Europe and the
# Americas ask questions by day, while batch jobs are queued for the night.
_INTERACTIVE_HOURS = (
    420, 380, 350, 330, 330, 360, 430, 540, 680, 820, 930, 1010,
    1080, 1150, 1200, 1220, 1200, 1150, 1070, 960, 830, 700, 580, 480,
)  # fmt: skip
_BATCH_HOURS = (
    1250, 1300, 1320, 1300, 1250, 1150, 1000, 850, 700, 600, 560, 540,
    540, 550, 560, 580, 620, 680, 760, 860, 960, 1060, 1150, 1220,
)  # fmt: skip
# Monday to Sunday, permille.
_WEEKDAYS = (1000, 1040, 1050, 1030, 960, 560, 480)


@dataclass(frozen=True)
class _Pool:
    gpu_model: str
    gpu_count: int
    purchase_usd: Decimal
    amortization_years: int
    rate_per_kwh: Decimal
    pue: Decimal

    def hourly_cost(self) -> Decimal:
        """Amortized purchase plus electricity for one hour, in dollars to the micro-dollar."""
        with localcontext(_MONEY_CONTEXT):
            amortization = self.purchase_usd / (self.amortization_years * _HOURS_PER_YEAR)
            power = self.gpu_count * _KILOWATTS_PER_GPU * self.pue * self.rate_per_kwh
            return (amortization + power).quantize(_MICRO)


_H100 = _Pool("NVIDIA H100 80GB HBM3", 8, Decimal(320000), 4, Decimal("0.12"), Decimal("1.3"))
_A100 = _Pool("NVIDIA A100 80GB PCIe", 8, Decimal(190000), 5, Decimal("0.09"), Decimal("1.4"))
_L40S = _Pool("NVIDIA L40S", 4, Decimal(52000), 3, Decimal("0.18"), Decimal("1.5"))

# (namespace, name) -> pool: every namespace that runs reports declares the pool it uses.
_PROFILES: dict[tuple[str, str], _Pool] = {
    ("ml-research", "a100-pool"): _A100,
    ("platform", "inference-pool"): _H100,
    ("recsys", "h100-pool"): _H100,
    ("search", "h100-pool"): _H100,
    ("support-bot", "inference-pool"): _L40S,
}

# key -> (provider, model, dollars per million input tokens, per million output tokens)
_CLOUD_PRICES: dict[str, tuple[str, str, Decimal, Decimal]] = {
    "gpt-4o": ("openai", "gpt-4o", Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-mini": ("openai", "gpt-4o-mini", Decimal("0.15"), Decimal("0.60")),
    "sonnet": ("anthropic", "claude-3-5-sonnet", Decimal("3.00"), Decimal("15.00")),
    "haiku": ("anthropic", "claude-3-5-haiku", Decimal("0.80"), Decimal("4.00")),
    "gemini-pro": ("google", "gemini-1.5-pro", Decimal("1.25"), Decimal("5.00")),
    "gemini-flash": ("google", "gemini-1.5-flash", Decimal("0.075"), Decimal("0.30")),
}


@dataclass(frozen=True)
class _Model:
    model: str
    namespace: str
    input_per_hour: int  # input tokens per hour at launch, before the hour and weekday shapes
    output_permille: int  # output tokens per 1,000 input tokens


@dataclass(frozen=True)
class _Report:
    namespace: str
    name: str
    schedule: Schedule
    profile: str
    pool_share_permille: int  # the report's fixed share of its pool's hourly cost
    growth_permille: int  # traffic growth per month since launch, of the launch volume
    created: datetime  # on a whole hour
    cost_center: str
    models: tuple[_Model, ...]
    clouds: tuple[str, ...]
    batch: bool = False
    rollup_only: bool = False  # the status carries totals but no byModel
    reconciled: bool = True  # False: the controller never wrote a status


def _hour_utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# Shares of the pools: H100 920 permille over six reports, A100 850 over two, L40S 900 over three.
_REPORTS: tuple[_Report, ...] = (
    _Report(
        "search", "answer-synthesis", "monthly", "h100-pool", 320, 60, LAUNCH, "cc-1100",
        (
            _Model("llama-3.1-70b-instruct", "search", 1_200_000, 180),
            _Model("qwen2.5-72b-instruct", "search", 500_000, 200),
            _Model("llama-3.1-8b-instruct", "search", 900_000, 120),
        ),
        ("gpt-4o", "sonnet", "gemini-pro"),
    ),
    _Report(
        "search", "query-rewrite", "daily", "h100-pool", 100, 40, LAUNCH, "cc-1100",
        (
            _Model("mistral-7b-instruct", "search", 800_000, 60),
            _Model("qwen2.5-7b-instruct", "search", 400_000, 80),
        ),
        ("gpt-4o", "gpt-4o-mini"),
    ),
    _Report(
        "support-bot", "chat-assistant", "weekly", "inference-pool", 550, 80, LAUNCH, "cc-2300",
        (
            _Model("mistral-7b-instruct", "support-bot", 500_000, 350),
            _Model("llama-3.1-8b-instruct", "support-bot", 400_000, 300),
            _Model("phi-3-mini-4k-instruct", "support-bot", 150_000, 250),
            _Model("gemma-2-9b-it", "support-bot", 120_000, 300),
        ),
        ("gpt-4o", "haiku", "gpt-4o-mini"),
    ),
    _Report(
        "support-bot", "ticket-triage", "daily", "inference-pool", 200, 50,
        _hour_utc(2025, 11, 3, 14), "cc-2300",
        (
            _Model("qwen2.5-7b-instruct", "support-bot", 300_000, 40),
            _Model("phi-3.5-mini-instruct", "support-bot", 120_000, 40),
        ),
        ("gpt-4o", "haiku", "gpt-4o-mini"),
    ),
    _Report(
        "support-bot", "support-summaries", "monthly", "inference-pool", 150, 30, LAUNCH,
        "cc-2300",
        (
            _Model("llama-3.1-8b-instruct", "support-bot", 250_000, 150),
            _Model("mistral-7b-instruct", "support-bot", 100_000, 150),
        ),
        ("haiku", "gpt-4o-mini"),
        batch=True,
        rollup_only=True,
    ),
    _Report(
        "ml-research", "eval-harness", "weekly", "a100-pool", 450, 30, LAUNCH, "cc-4100",
        (
            _Model("llama-3.1-70b-instruct", "ml-research", 600_000, 250),
            _Model("qwen2.5-72b-instruct", "ml-research", 500_000, 250),
            _Model("mixtral-8x7b-instruct", "ml-research", 300_000, 250),
            _Model("deepseek-r1-distill-llama-70b", "ml-research", 250_000, 900),
            _Model("gemma-2-27b-it", "ml-research", 200_000, 250),
            _Model("mistral-7b-instruct", "ml-research", 400_000, 200),
        ),
        ("gpt-4o", "sonnet", "gemini-pro"),
    ),
    _Report(
        "ml-research", "synthetic-data", "monthly", "a100-pool", 400, 120, LAUNCH, "cc-4100",
        (
            _Model("llama-3.3-70b-instruct", "ml-research", 250_000, 1500),
            _Model("qwen2.5-72b-instruct", "ml-research", 150_000, 1200),
        ),
        ("gpt-4o", "sonnet"),
        batch=True,
    ),
    _Report(
        "ml-research", "agent-experiments", "monthly", "a100-pool", 0, 0,
        _hour_utc(2026, 2, 16, 10), "cc-4100", (), (), reconciled=False,
    ),
    _Report(
        "recsys", "item-descriptions", "daily", "h100-pool", 150, 70, LAUNCH, "cc-3200",
        (
            _Model("llama-3.1-8b-instruct", "recsys", 600_000, 400),
            _Model("qwen2.5-14b-instruct", "recsys", 400_000, 350),
            _Model("mistral-nemo-instruct-2407", "recsys", 200_000, 300),
        ),
        ("gpt-4o", "gpt-4o-mini", "haiku"),
        batch=True,
    ),
    _Report(
        "recsys", "catalog-tagging", "weekly", "h100-pool", 50, 150,
        _hour_utc(2026, 1, 12, 9), "cc-3200",
        (
            _Model("qwen2.5-7b-instruct", "recsys", 300_000, 50),
            _Model("llama-3.2-3b-instruct", "recsys", 250_000, 50),
        ),
        ("gpt-4o", "gpt-4o-mini"),
    ),
    # The shared gateway serves other teams: its byModel entries name the calling namespace.
    _Report(
        "platform", "shared-gateway", "monthly", "inference-pool", 280, 50, LAUNCH, "cc-9000",
        (
            _Model("llama-3.1-70b-instruct", "search", 700_000, 220),
            _Model("llama-3.1-70b-instruct", "recsys", 300_000, 200),
            _Model("qwen2.5-72b-instruct", "support-bot", 250_000, 300),
            _Model("mixtral-8x7b-instruct", "platform", 400_000, 250),
            _Model("llama-3.1-8b-instruct", "ml-research", 350_000, 200),
        ),
        ("gpt-4o", "sonnet", "gemini-pro"),
    ),
    _Report(
        "platform", "gateway-canary", "daily", "inference-pool", 20, 0, _hour_utc(2025, 12, 1),
        "cc-9000",
        (
            _Model("llama-3.2-3b-instruct", "platform", 60_000, 150),
            _Model("qwen2.5-1.5b-instruct", "platform", 40_000, 150),
        ),
        ("gpt-4o", "gpt-4o-mini", "gemini-flash"),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class _Ledger:
    """Running totals of one report over one period: `[model][hour]`, from 0 at the start."""

    input_tokens: tuple[tuple[int, ...], ...]
    output_tokens: tuple[tuple[int, ...], ...]
    cost_micro: tuple[tuple[int, ...], ...]


def demo_cluster_at(at: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(usage_reports, cost_profiles) as `kubectl get ... -o json` items would show them at `at`."""
    now = _utc(at, "at").replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    reports = [
        _usage_report(index, report, now, stamp)
        for index, report in enumerate(_REPORTS)
        if report.created <= now
    ]
    profiles = [
        _cost_profile(namespace, name, pool)
        for (namespace, name), pool in _PROFILES.items()
        if now >= _PROFILES_CREATED
    ]
    reports.sort(key=lambda item: (item["metadata"]["namespace"], item["metadata"]["name"]))
    profiles.sort(key=lambda item: (item["metadata"]["namespace"], item["metadata"]["name"]))
    return reports, profiles


def demo_capture_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """Capture instants in [start, end): every `every`, plus the last instant of every demo period
    that ends in the range (so a capture history holds each period's final state)."""
    first, stop = _utc(start, "start"), _utc(end, "end")
    if every <= timedelta(0):
        raise ValueError(f"cannot space demo captures by {every!r}; use a positive interval")

    # The regular grid.
    times: set[datetime] = set()
    moment = first
    while moment < stop:
        times.add(moment)
        moment += every

    # The last second of every period of every schedule in use; the demo has no earlier periods.
    for schedule in sorted({report.schedule for report in _REPORTS}):
        period_end = _period_of(schedule, max(first, LAUNCH).date())[2]
        while (last := period_end - timedelta(seconds=1)) < stop:
            if last >= first:
                times.add(last)
            period_end = _period_of(schedule, period_end.date())[2]
    return sorted(times)


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"cannot place the naive datetime {what}={moment.isoformat()!r} on the demo timeline;"
            " pass a timezone-aware datetime such as datetime(..., tzinfo=timezone.utc)"
        )
    return moment.astimezone(UTC)


@lru_cache(maxsize=256)
def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=256)
def _uid(kind: str, namespace: str, name: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, f"{kind}/{namespace}/{name}"))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _period_of(schedule: Schedule, day: date) -> tuple[str, datetime, datetime]:
    """The name, start and (exclusive) end of the period of `schedule` that contains `day`."""
    if schedule == "daily":
        return day.isoformat(), _midnight(day), _midnight(day + timedelta(days=1))
    if schedule == "weekly":
        monday = day - timedelta(days=day.weekday())
        iso_year, iso_week, _ = monday.isocalendar()
        sunday_night = _midnight(monday + timedelta(days=7))
        return f"{iso_year}-W{iso_week:02d}", _midnight(monday), sunday_night
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return f"{first.year}-{first.month:02d}", _midnight(first), _midnight(following)


def _cost_profile(namespace: str, name: str, pool: _Pool) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CostProfile",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": _uid("CostProfile", namespace, name),
            "labels": {DEMO_LABEL: "true"},
            "creationTimestamp": _timestamp(_PROFILES_CREATED),
        },
        "spec": {
            "hardware": {
                "gpuModel": pool.gpu_model,
                "gpuCount": pool.gpu_count,
                "purchasePriceUSD": pool.purchase_usd,
                "amortizationYears": pool.amortization_years,
            },
            "electricity": {"ratePerKWh": pool.rate_per_kwh, "pueFactor": pool.pue},
        },
    }


def _usage_report(index: int, report: _Report, now: datetime, stamp: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "UsageReport",
        "metadata": {
            "name": report.name,
            "namespace": report.namespace,
            "uid": _uid("UsageReport", report.namespace, report.name),
            "labels": {
                DEMO_LABEL: "true",
                "team": report.namespace,
                "cost-center": report.cost_center,
            },
            "creationTimestamp": _timestamp(report.created),
        },
        "spec": {"costProfileRef": report.profile, "schedule": report.schedule},
    }
    if report.reconciled:
        item["status"] = _status(index, report, now, stamp)
    return item


def _status(index: int, report: _Report, now: datetime, stamp: str) -> dict[str, Any]:
    period, start, end = _period_of(report.schedule, now.date())
    ledger = _ledger(index, start, end)
    hour, seconds = divmod(int((now - start).total_seconds()), _HOUR)

    # Each counter at `now`: the finished hours, plus the hour in progress pro rata.
    def running(row: tuple[int, ...]) -> int:
        return row[hour] + (row[hour + 1] - row[hour]) * seconds // _HOUR

    by_model: list[dict[str, Any]] = []
    for position, model in enumerate(report.models):
        by_model.append(
            {
                "model": model.model,
                "namespace": model.namespace,
                "inputTokens": running(ledger.input_tokens[position]),
                "outputTokens": running(ledger.output_tokens[position]),
                "estimatedCostUSD": _dollars(running(ledger.cost_micro[position])),
            }
        )

    # Totals are exact sums of the breakdown, whether or not the breakdown is shown.
    input_tokens = sum(entry["inputTokens"] for entry in by_model)
    output_tokens = sum(entry["outputTokens"] for entry in by_model)
    with localcontext(_MONEY_CONTEXT):
        cost = sum((entry["estimatedCostUSD"] for entry in by_model), _dollars(0))
        comparison = [
            _cloud_comparison(key, input_tokens, output_tokens, cost) for key in report.clouds
        ]

    status: dict[str, Any] = {
        "period": period,
        "periodStart": _timestamp(start),
        "periodEnd": stamp,
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "estimatedCostUSD": cost,
    }
    if not report.rollup_only:
        status["byModel"] = by_model
    status["cloudComparison"] = comparison
    status["lastUpdated"] = stamp
    return status


def _dollars(micro: int) -> Decimal:
    """Micro-dollars as dollars with exactly six decimal places."""
    return Decimal(micro).scaleb(-6, _MONEY_CONTEXT)


def _cloud_comparison(
    key: str, input_tokens: int, output_tokens: int, on_prem: Decimal
) -> dict[str, Any]:
    provider, model, input_price, output_price = _CLOUD_PRICES[key]
    cloud = (input_tokens * input_price + output_tokens * output_price).scaleb(-6).quantize(_MICRO)
    savings = cloud - on_prem
    percent = (savings * 100 / cloud).quantize(_CENT) if cloud else Decimal("0.00")
    return {
        "provider": provider,
        "model": model,
        "estimatedCloudCostUSD": cloud,
        "savingsUSD": savings,
        "savingsPercent": percent,
    }


@lru_cache(maxsize=128)
def _ledger(index: int, start: datetime, end: datetime) -> _Ledger:
    """Hour-by-hour running totals of report `_REPORTS[index]` over the period [start, end).

    Cached: a capture history asks for the same period thousands of times.
    """
    report = _REPORTS[index]
    days = (end - start).days
    # NB: hours before the report existed count nothing, not even pool cost.
    unborn = max(0, int((report.created - start).total_seconds()) // _HOUR)

    # Tokens of every model, hour by hour.
    inputs: list[list[int]] = []
    outputs: list[list[int]] = []
    for model in report.models:
        model_in: list[int] = []
        model_out: list[int] = []
        for day in range(days):
            day_in, day_out = _day_traffic(report, model, start + timedelta(days=day))
            model_in += day_in
            model_out += day_out
        model_in[:unborn] = [0] * min(unborn, len(model_in))
        model_out[:unborn] = [0] * min(unborn, len(model_out))
        inputs.append(model_in)
        outputs.append(model_out)

    # The pool cost of each hour, split between the models by their tokens in that hour; the
    # rounding remainder goes to the first model, the report's main one.
    hour_cost = _pool_hour_cost_micro(report)
    tokens = [
        [i + o for i, o in zip(ins, outs, strict=True)]
        for ins, outs in zip(inputs, outputs, strict=True)
    ]
    totals = [sum(hour) for hour in zip(*tokens, strict=True)]
    costs = [
        [
            hour_cost * count // total if total else 0
            for count, total in zip(row, totals, strict=True)
        ]
        for row in tokens
    ]
    if costs:
        costs[0] = [
            hour_cost - sum(others) if total else 0
            for total, *others in zip(totals, *costs[1:], strict=True)
        ]

    def running(rows: list[list[int]]) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(accumulate(row, initial=0)) for row in rows)

    return _Ledger(running(inputs), running(outputs), running(costs))


@lru_cache(maxsize=64)
def _pool_hour_cost_micro(report: _Report) -> int:
    pool = _PROFILES[(report.namespace, report.profile)]
    return int(pool.hourly_cost().scaleb(6)) * report.pool_share_permille // 1000


def _day_traffic(report: _Report, model: _Model, day: datetime) -> tuple[list[int], list[int]]:
    """Input and output tokens of `model` in each UTC hour of `day`."""
    # Integer arithmetic only, so every platform computes the same tokens.
    key = f"{report.namespace}/{report.name}|{model.namespace}/{model.model}|{day.date()}"
    noise = struct.unpack(">48H", hashlib.shake_128(key.encode()).digest(96))
    first_hour = int((day - LAUNCH).total_seconds()) // _HOUR
    growth = _HOURS_PER_MONTH * 1000 + report.growth_permille * first_hour

    # Base rate x hour of day x day of week x noise x growth since launch, each in permille.
    tokens_in = [
        weight
        * (850 + noise[hour] % 301)
        * (growth + report.growth_permille * hour)
        // _TRAFFIC_DIVISOR
        for hour, weight in enumerate(_hour_weights(model, report.batch, day.weekday()))
    ]
    tokens_out = [
        count * (800 + noise[24 + hour] % 401) * model.output_permille // 1_000_000
        for hour, count in enumerate(tokens_in)
    ]
    return tokens_in, tokens_out


@lru_cache(maxsize=1024)
def _hour_weights(model: _Model, batch: bool, weekday: int) -> tuple[int, ...]:
    curve = _BATCH_HOURS if batch else _INTERACTIVE_HOURS
    return tuple(model.input_per_hour * _WEEKDAYS[weekday] * share for share in curve)
