"""The yardstick from below: the InferCost layout written row by row, as a first attempt would be.

Each UsageReport state is read field by field, each row is computed with `Decimal` arithmetic
(cost per row, the row's share of the cloud cost by tokens, a month split pro rata by time,
savings and savings percent), its Tags are written with `json.dumps`, free-text cells are
neutralised against formulas, and the rows are sorted and written with the standard `csv` module.

It does the same work per row as the project's export, but not exactly the same arithmetic: shares
are rounded to ten places instead of allocated by largest remainder, so the parts of a report need
not add up to its totals to the last unit. Its output is a benchmark's, never a product's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from infercost_focus.core.layouts import INFERCOST_COLUMNS

Rows = list[list[str]]

SHARE_QUANTUM = Decimal(1).scaleb(-10)
PERCENT_QUANTUM = Decimal(1).scaleb(-6)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def month_rows(objects: Iterable[dict[str, Any]], billing_month: str, region: str = "") -> Rows:
    """The billing month's rows, each a list of 44 cells, in the export's order."""
    objects = list(objects)
    profiles = {
        (obj["metadata"]["namespace"], obj["metadata"]["name"]): obj.get("spec") or {}
        for obj in objects
        if obj.get("kind") == "CostProfile"
    }
    month_start = datetime.fromisoformat(f"{billing_month}-01T00:00:00+00:00")
    month_end = _next_month(month_start)

    keyed: list[tuple[tuple[Any, ...], list[str]]] = []
    for obj in objects:
        if obj.get("kind") == "UsageReport" and (obj.get("status") or {}).get("period"):
            keyed.extend(_report_rows(obj, profiles, month_start, month_end, region))
    keyed.sort(key=lambda row: row[0])
    return [row for _, row in keyed]


def csv_bytes(rows: Rows) -> bytes:
    """The rows as CSV (minimal quoting, `\\n` line ends) through the standard `csv` module."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INFERCOST_COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def parquet_bytes(rows: Rows) -> bytes:
    """The rows as a Parquet file of text columns, built from the Python lists."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in INFERCOST_COLUMNS]
    table = pa.table(
        {
            name: pa.array(cells, pa.string())
            for name, cells in zip(INFERCOST_COLUMNS, columns, strict=True)
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _report_rows(
    obj: dict[str, Any],
    profiles: dict[tuple[str, str], dict[str, Any]],
    month_start: datetime,
    month_end: datetime,
    region: str,
) -> list[tuple[tuple[Any, ...], list[str]]]:
    metadata, spec, status = obj["metadata"], obj.get("spec") or {}, obj["status"]
    namespace, name, period = metadata["namespace"], metadata["name"], status["period"]
    start = _parse_time(status["periodStart"])
    end = _parse_time(status["periodEnd"])

    # The part of the period inside the billing month, as a fraction of the period.
    piece_start, piece_end = max(start, month_start), min(end, month_end)
    if start >= month_end or (end <= month_start and start < month_start):
        return []
    seconds = (end - start).total_seconds()
    fraction = (
        Decimal(int((piece_end - piece_start).total_seconds())) / Decimal(int(seconds))
        if seconds
        else Decimal(1)
    )

    # The rows of the report: its breakdown, plus what the breakdown leaves uncovered.
    items: list[tuple[str, str | None, int, int, Decimal]] = [
        (
            entry.get("namespace") or namespace,
            entry["model"],
            int(entry.get("inputTokens") or 0),
            int(entry.get("outputTokens") or 0),
            Decimal(entry.get("estimatedCostUSD") or 0),
        )
        for entry in status.get("byModel") or []
    ]
    rest = (
        int(status.get("inputTokens") or 0) - sum(item[2] for item in items),
        int(status.get("outputTokens") or 0) - sum(item[3] for item in items),
        Decimal(status.get("estimatedCostUSD") or 0) - sum((item[4] for item in items), Decimal(0)),
    )
    if not items or any(rest):
        items.append((namespace, None, rest[0], rest[1], rest[2]))

    report_tokens = sum(item[2] + item[3] for item in items)
    comparisons = status.get("cloudComparison") or []
    comparison = max(comparisons, key=lambda c: Decimal(c["savingsUSD"]), default=None)
    profile_ref = spec.get("costProfileRef")
    profile = profiles.get((namespace, profile_ref)) if profile_ref else None
    hardware = (profile or {}).get("hardware") or {}
    electricity = (profile or {}).get("electricity") or {}

    rows = []
    for row_namespace, model, input_tokens, output_tokens, cost in items:
        tokens = input_tokens + output_tokens
        cost = cost * fraction
        cells_cloud = ["", "", "", "", ""]
        if comparison is not None:
            share = Decimal(comparison["estimatedCloudCostUSD"]) * tokens
            cloud = (share / report_tokens if report_tokens else share) * fraction
            cloud = cloud.quantize(SHARE_QUANTUM)
            savings = cloud - cost
            percent = (
                (savings * 100 / cloud).quantize(PERCENT_QUANTUM, ROUND_HALF_EVEN)
                if cloud
                else None
            )
            cells_cloud = [
                _neutral(comparison["provider"]),
                _neutral(comparison["model"]),
                _decimal(cloud),
                _decimal(savings),
                "" if percent is None else _decimal(percent),
            ]
        tags = {
            "report": name,
            "reportNamespace": namespace,
            "period": period,
            "schedule": spec.get("schedule"),
            "model": model,
            "gpuModel": hardware.get("gpuModel"),
            "costProfile": profile_ref,
        }
        cost_text = _decimal(cost.quantize(SHARE_QUANTUM))
        resource = f"{row_namespace}/{name}/{model}" if model else f"{row_namespace}/{name}"
        subject = f"by {model}" if model else "without model breakdown"
        row = [
            cost_text,
            cost_text,
            cost_text,
            cost_text,
            piece_start.strftime(TIME_FORMAT),
            piece_end.strftime(TIME_FORMAT),
            month_start.strftime(TIME_FORMAT),
            month_end.strftime(TIME_FORMAT),
            "USD",
            "On-Prem AI Inference",
            "AI and Machine Learning",
            "InferCost",
            "Self-Hosted",
            "Self-Hosted",
            _neutral(resource),
            _neutral(model or name),
            "AI Inference Endpoint",
            _neutral(region),
            str(tokens),
            "Tokens",
            "1M Tokens",
            "Usage-Based",
            "Usage",
            "",
            _neutral(
                f"Inference of {tokens} tokens {subject} for UsageReport {namespace}/{name} "
                f"in period {period}"
            ),
            "Usage-Based",
            _neutral(model or ""),
            _neutral(model or ""),
            _neutral(row_namespace),
            _neutral(row_namespace),
            json.dumps(
                {key: value for key, value in tags.items() if value is not None},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            _neutral(profile_ref or ""),
            _neutral(hardware.get("gpuModel") or ""),
            "" if hardware.get("gpuCount") is None else str(hardware["gpuCount"]),
            str(input_tokens),
            str(output_tokens),
            _optional_decimal(hardware.get("amortizationYears")),
            _optional_decimal(electricity.get("ratePerKWh")),
            _optional_decimal(electricity.get("pueFactor")),
            *cells_cloud,
        ]
        key = (namespace, name, period, metadata.get("uid"), row_namespace, model is None, model)
        rows.append((key, row))
    return rows


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _optional_decimal(value: Any) -> str:
    return "" if value is None else _decimal(Decimal(value))


def _neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text
