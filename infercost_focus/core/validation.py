"""The schema check of a FOCUS frame in the InferCost layout, run before any file is written.

Each rule looks at whole columns and reports the column, the rule and the first offending rows.
The frame is checked as text, exactly as it will be written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from infercost_focus.core.layouts import (
    INFERCOST_COLUMNS,
    INFERCOST_CONSTANTS,
    INFERCOST_DECIMAL,
    INFERCOST_INTEGER,
    INFERCOST_TIME,
)
from infercost_focus.core.resources import UsageReport

EXAMPLES = 5

_DECIMAL = r"^-?(0|[1-9]\d*)(\.\d*[1-9])?$"
_INTEGER = r"^(0|[1-9]\d*)$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"

INFERCOST_MANDATORY: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    *INFERCOST_TIME,
    "ResourceId",
    "ResourceName",
    "UsageQuantity",
    "ChargeDescription",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x-InferTokensInput",
    "x-InferTokensOutput",
)


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, what, and the first offending rows (0-based) with their values."""

    column: str
    rule: str
    count: int
    examples: tuple[tuple[int, str], ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(f"row {row}: {value!r}" for row, value in self.examples)
        return f"{self.column}: {self.rule} ({self.count} rows; {shown})"


@dataclass
class CheckResult:
    rows: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.passed:
            return f"all {self.rows} rows pass the schema check"
        lines = [f"{len(self.problems)} rules failed on {self.rows} rows:"]
        lines.extend(f"- {problem}" for problem in self.problems)
        return "\n".join(lines)


def check_infercost_frame(
    frame: pd.DataFrame,
    *,
    reports: Iterable[UsageReport] | None = None,
    billing_month: str | None = None,
) -> CheckResult:
    """Check `frame` against the InferCost layout.

    With `reports`, the rows of each report period must add up to its totals. With
    `billing_month` (`2026-04`), every row must belong to that billing month, and a period that
    crosses into another month must add up to no more than its totals.
    """
    result = CheckResult(rows=len(frame))
    columns = [str(name) for name in frame.columns]
    if columns != list(INFERCOST_COLUMNS):
        result.problems.append(_column_problem(columns))
        return result
    cells = frame.astype(str)

    # Cell formats.
    for column in INFERCOST_MANDATORY:
        _add(result, column, "must not be empty", cells[column] == "", cells[column])
    for column, pattern, rule in (
        *((c, _DECIMAL, "must be a plain decimal number") for c in INFERCOST_DECIMAL),
        *((c, _INTEGER, "must be a whole number") for c in INFERCOST_INTEGER),
        *((c, _TIME, "must be a UTC time YYYY-MM-DDTHH:MM:SSZ") for c in INFERCOST_TIME),
    ):
        values = cells[column]
        bad = (values != "") & ~values.str.match(pattern)
        _add(result, column, rule, bad, values)
    for column, allowed in INFERCOST_CONSTANTS.items():
        _add(result, column, f"must be {allowed!r}", cells[column] != allowed, cells[column])
    if not result.passed:
        return result

    # Relations between columns.
    _check_times(result, cells, billing_month)
    _check_amounts(result, cells)
    tags = _check_tags(result, cells["Tags"])
    if reports is not None and tags is not None:
        _check_reconciliation(result, cells, tags, list(reports), whole=billing_month is None)
    return result


def _column_problem(columns: list[str]) -> Problem:
    expected = list(INFERCOST_COLUMNS)
    missing = [name for name in expected if name not in columns]
    unexpected = [name for name in columns if name not in expected]
    if missing or unexpected:
        rule = f"columns differ from the layout: missing {missing}, unexpected {unexpected}"
    else:
        first = next(i for i, (a, b) in enumerate(zip(columns, expected, strict=True)) if a != b)
        rule = f"column {first + 1} is {columns[first]!r}, the layout has {expected[first]!r} there"
    return Problem("(columns)", rule, len(missing) + len(unexpected) or 1)


def _add(result: CheckResult, column: str, rule: str, bad: pd.Series, values: pd.Series) -> None:
    bad = bad.fillna(True).astype(bool)
    count = int(bad.sum())
    if count:
        rows = values[bad].head(EXAMPLES)
        examples = tuple((int(str(row)), str(value)) for row, value in rows.items())
        result.problems.append(Problem(column, rule, count, examples))


def _check_times(result: CheckResult, cells: pd.DataFrame, billing_month: str | None) -> None:
    moments = {
        column: pd.to_datetime(
            cells[column], format="%Y-%m-%dT%H:%M:%SZ", utc=True, errors="coerce"
        )
        for column in INFERCOST_TIME
    }
    for column, values in moments.items():
        _add(result, column, "must be a real date and time", values.isna(), cells[column])
    if not result.passed:
        return
    start, end = moments["ChargePeriodStart"], moments["ChargePeriodEnd"]
    billing_start, billing_end = moments["BillingPeriodStart"], moments["BillingPeriodEnd"]
    _add(
        result,
        "ChargePeriodEnd",
        "must not be before ChargePeriodStart",
        end < start,
        cells["ChargePeriodEnd"],
    )
    first_of_month = (billing_start.dt.day == 1) & (billing_start.dt.normalize() == billing_start)
    _add(
        result,
        "BillingPeriodStart",
        "must be the first instant of a month",
        ~first_of_month,
        cells["BillingPeriodStart"],
    )
    next_month = billing_start + pd.DateOffset(months=1)
    _add(
        result,
        "BillingPeriodEnd",
        "must be the first instant of the next month",
        billing_end != next_month,
        cells["BillingPeriodEnd"],
    )
    _add(
        result,
        "ChargePeriodStart",
        "must not be before BillingPeriodStart (a charge lies inside its billing period)",
        start < billing_start,
        cells["ChargePeriodStart"],
    )
    _add(
        result,
        "ChargePeriodEnd",
        "must not be after BillingPeriodEnd (a charge lies inside its billing period)",
        end > billing_end,
        cells["ChargePeriodEnd"],
    )
    if billing_month is not None:
        month_start = pd.Timestamp(f"{billing_month}-01T00:00:00Z")
        _add(
            result,
            "BillingPeriodStart",
            f"must be the billing month {billing_month}",
            billing_start != month_start,
            cells["BillingPeriodStart"],
        )


def _check_amounts(result: CheckResult, cells: pd.DataFrame) -> None:
    for column in ("EffectiveCost", "ListCost", "ContractedCost"):
        _add(
            result,
            column,
            "must equal BilledCost",
            cells[column] != cells["BilledCost"],
            cells[column],
        )
    tokens = _ints(cells["x-InferTokensInput"]) + _ints(cells["x-InferTokensOutput"])
    usage = _ints(cells["UsageQuantity"])
    _add(
        result,
        "UsageQuantity",
        "must equal x-InferTokensInput + x-InferTokensOutput",
        pd.Series(usage != tokens, index=cells.index),
        cells["UsageQuantity"],
    )
    negative = cells["BilledCost"].str.startswith("-")
    _add(result, "BilledCost", "must not be negative", negative, cells["BilledCost"])


def _check_tags(result: CheckResult, tags: pd.Series) -> pd.DataFrame | None:
    """Tags must be JSON objects of scalar values; returns the report keys of each row."""
    parsed: dict[str, object] = {}
    for value in tags.unique():
        try:
            parsed[value] = json.loads(value)
        except ValueError:
            parsed[value] = None
    objects = tags.map(parsed)
    valid = objects.map(
        lambda o: (
            isinstance(o, dict)
            and all(isinstance(v, str | int | float | bool) or v is None for v in o.values())
        )
    )
    _add(result, "Tags", "must be a JSON object of scalar values", ~valid, tags)
    if not valid.all():
        return None
    keys = pd.DataFrame(
        {
            key: objects.map(lambda o, key=key: o.get(key))
            for key in ("reportNamespace", "report", "period")
        }
    )
    missing = keys.isna().any(axis=1)
    _add(result, "Tags", "must name reportNamespace, report and period", missing, tags)
    return None if missing.any() else keys


def _check_reconciliation(
    result: CheckResult,
    cells: pd.DataFrame,
    tags: pd.DataFrame,
    reports: list[UsageReport],
    *,
    whole: bool,
) -> None:
    """Per report period: rows add up to the report's tokens and cost.

    A frame of one billing month holds only that month's part of a period that crosses a month
    boundary: such a part must not exceed the totals. Everything else must match exactly.
    """
    sums = (
        pd.DataFrame(
            {
                "namespace": tags["reportNamespace"],
                "name": tags["report"],
                "period": tags["period"],
                "cost": cells["BilledCost"].map(Decimal),
                "tokens": _ints(cells["UsageQuantity"]),
                "row": cells.index,
            }
        )
        .groupby(["namespace", "name", "period"], sort=True)
        .agg(cost=("cost", "sum"), tokens=("tokens", "sum"), row=("row", "first"))
    )
    totals = {(r.namespace, r.name, r.period): r for r in reports}
    bad_rows: list[int] = []
    bad_values: list[str] = []
    for row in sums.reset_index().to_dict("records"):
        namespace, name, period = row["namespace"], row["name"], row["period"]
        report = totals.get((namespace, name, period))
        if report is None:
            bad_rows.append(int(row["row"]))
            bad_values.append(f"{namespace}/{name} {period}: no such UsageReport period")
            continue
        report_tokens = report.input_tokens + report.output_tokens
        inside = whole or _inside_one_month(report)
        cost_ok = row["cost"] == report.cost if inside else row["cost"] <= report.cost
        tokens_ok = row["tokens"] == report_tokens if inside else row["tokens"] <= report_tokens
        if not (cost_ok and tokens_ok):
            bad_rows.append(int(row["row"]))
            bad_values.append(
                f"{namespace}/{name} {period}: rows {row['cost']} USD {row['tokens']} tokens, "
                f"report {report.cost} USD {report_tokens} tokens"
            )
    if bad_rows:
        examples = tuple(zip(bad_rows[:EXAMPLES], bad_values[:EXAMPLES], strict=True))
        result.problems.append(
            Problem(
                "BilledCost",
                "rows must add up to their UsageReport's totals",
                len(bad_rows),
                examples,
            )
        )


def _inside_one_month(report: UsageReport) -> bool:
    start, end = report.period_start, report.period_end
    if end <= start:
        return True
    last = end - pd.Timedelta(seconds=1)
    return (start.year, start.month) == (last.year, last.month)


def _ints(values: pd.Series) -> pd.Series:
    return values.map(lambda text: int(text) if text else 0)
