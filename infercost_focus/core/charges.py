"""From reconciled UsageReports to charges: one row per report period, model and billing month.

This is the project's transform, shared by every column layout. It works on whole columns:

1. one row per `byModel` entry, plus one row for whatever part of the report's totals the entries
   do not cover (the whole report when it has no breakdown), so rows always sum to the totals;
2. the report's cloud-equivalent cost shared over its rows by tokens;
3. a charge that crosses a month boundary split at the boundary, tokens and money pro rata by time,
   so every charge lies inside its billing month;
4. savings and savings percent per row.

Money stays exact throughout (see `money`); the result carries the scale of its units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from infercost_focus.core import money
from infercost_focus.core.resources import CostProfile, UsageReport
from infercost_focus.errors import RejectedObject

logger = logging.getLogger(__name__)

# Percentages are ratios, not money: they are rounded (half to even) to this many places.
PERCENT_PLACES = 6


@dataclass
class Charges:
    """The charges of a batch of reports, ready for a column layout.

    `frame` columns: report_namespace, report_name, report_uid, period, schedule, cost_profile_ref,
    namespace (the row's), model (None for a report-level row), input_tokens, output_tokens
    (object ints), cost, cloud_cost (object ints in units of `10**-scale` USD; cloud_cost is None
    where the report has no cloud comparison), savings, savings_percent (units of
    `10**-PERCENT_PLACES`; None where undefined), cloud_provider, cloud_model, charge_start,
    charge_end, billing_start, billing_end (UTC timestamps), and the CostProfile's gpu_model,
    gpu_count, amortization_years, rate_per_kwh, pue_factor (None where the profile is missing),
    the report's Kubernetes labels, and report_index (the report's position in the batch).
    """

    frame: pd.DataFrame
    scale: int
    rejects: list[RejectedObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Rows:
    """Column lists filled report by report before the frame is built."""

    report_index: list[int] = field(default_factory=list)
    namespace: list[str] = field(default_factory=list)
    model: list[str | None] = field(default_factory=list)
    input_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    cost: list[Decimal] = field(default_factory=list)


def build_charges(
    reports: list[UsageReport], profiles: Mapping[tuple[str, str], CostProfile]
) -> Charges:
    """The charges of `reports`; `profiles` are keyed by (namespace, name)."""
    rejects: list[RejectedObject] = []
    warnings: list[str] = []

    # Rows per report, after the checks that can only be made on a whole report.
    accepted: list[UsageReport] = []
    rows = _Rows()
    for report in reports:
        try:
            _add_report_rows(rows, len(accepted), report, warnings)
        except RejectedObject as reject:
            logger.warning("rejected %s", reject)
            rejects.append(reject)
            continue
        accepted.append(report)

    report_frame = _report_frame(accepted, profiles, warnings)
    scale = max([money.MIN_DERIVED_SCALE, *report_frame["scale"].tolist()])
    frame = _row_frame(rows, report_frame, scale)
    frame = _share_cloud_cost(frame)
    frame = _split_at_month_boundaries(frame)
    frame = _add_savings(frame)
    frame = _order(frame)
    return Charges(frame=frame, scale=scale, rejects=rejects, warnings=warnings)


def _add_report_rows(
    rows: _Rows, report_index: int, report: UsageReport, warnings: list[str]
) -> None:
    """Append the rows of one report: its byModel entries and the part they leave uncovered."""
    covered_input = sum(entry.input_tokens for entry in report.by_model)
    covered_output = sum(entry.output_tokens for entry in report.by_model)
    covered_cost = sum((entry.cost for entry in report.by_model), Decimal(0))
    for field_name, covered, total in (
        ("inputTokens", covered_input, report.input_tokens),
        ("outputTokens", covered_output, report.output_tokens),
    ):
        if covered > total:
            raise RejectedObject(
                "UsageReport",
                report.ref,
                "status.byModel",
                f"its entries add up to {covered} {field_name}, more than status.{field_name} "
                f"{total}; the report contradicts itself",
            )

    for entry in report.by_model:
        rows.report_index.append(report_index)
        rows.namespace.append(entry.namespace)
        rows.model.append(entry.model)
        rows.input_tokens.append(entry.input_tokens)
        rows.output_tokens.append(entry.output_tokens)
        rows.cost.append(entry.cost)

    # What the breakdown leaves uncovered becomes a report-level row (the whole report when there
    # is no breakdown), so the rows of a report always add up to its totals.
    rest = (
        report.input_tokens - covered_input,
        report.output_tokens - covered_output,
        report.cost - covered_cost,
    )
    if report.by_model and not any(rest):
        return
    if report.by_model:
        message = (
            f"UsageReport {report.ref} period {report.period}: status.byModel covers "
            f"{covered_input + covered_output} of {report.input_tokens + report.output_tokens} "
            f"tokens and {covered_cost} of {report.cost} USD; the difference is exported as a "
            "row without model"
        )
        logger.warning(message)
        warnings.append(message)
    rows.report_index.append(report_index)
    rows.namespace.append(report.namespace)
    rows.model.append(None)
    rows.input_tokens.append(rest[0])
    rows.output_tokens.append(rest[1])
    rows.cost.append(rest[2])


def _report_frame(
    reports: list[UsageReport],
    profiles: Mapping[tuple[str, str], CostProfile],
    warnings: list[str],
) -> pd.DataFrame:
    """One row per report: identity, period, chosen cloud comparison, profile, money scale."""
    records = []
    for report in reports:
        comparison = max(report.cloud_comparison, key=lambda c: c.savings, default=None)
        profile = None
        if report.cost_profile_ref is not None:
            profile = profiles.get((report.namespace, report.cost_profile_ref))
            if profile is None:
                message = (
                    f"UsageReport {report.ref}: CostProfile "
                    f"{report.namespace}/{report.cost_profile_ref} was not found; its columns "
                    "are left empty"
                )
                logger.warning(message)
                warnings.append(message)
        amounts = [report.cost, *(entry.cost for entry in report.by_model)]
        if comparison is not None:
            amounts.append(comparison.cloud_cost)
        records.append(
            {
                "report_namespace": report.namespace,
                "report_name": report.name,
                "report_uid": report.uid,
                "period": report.period,
                "schedule": report.schedule,
                "cost_profile_ref": report.cost_profile_ref,
                "period_start": report.period_start.replace(microsecond=0),
                "period_end": report.period_end.replace(microsecond=0),
                "report_tokens": report.input_tokens + report.output_tokens,
                "cloud_provider": comparison.provider if comparison else None,
                "cloud_model": comparison.model if comparison else None,
                "report_cloud_cost": comparison.cloud_cost if comparison else None,
                "gpu_model": profile.gpu_model if profile else None,
                "gpu_count": profile.gpu_count if profile else None,
                "amortization_years": profile.amortization_years if profile else None,
                "rate_per_kwh": profile.rate_per_kwh if profile else None,
                "pue_factor": profile.pue_factor if profile else None,
                "labels": report.labels,
                "scale": max(money.decimal_places(amount) for amount in amounts),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=_REPORT_COLUMNS)
    frame["scale"] = np.maximum(frame["scale"].astype(np.int64), money.MIN_DERIVED_SCALE)
    return frame


_REPORT_COLUMNS = [
    "report_namespace",
    "report_name",
    "report_uid",
    "period",
    "schedule",
    "cost_profile_ref",
    "period_start",
    "period_end",
    "report_tokens",
    "cloud_provider",
    "cloud_model",
    "report_cloud_cost",
    "gpu_model",
    "gpu_count",
    "amortization_years",
    "rate_per_kwh",
    "pue_factor",
    "labels",
    "scale",
]


def _row_frame(rows: _Rows, reports: pd.DataFrame, scale: int) -> pd.DataFrame:
    """The rows joined with their report's columns, money in units of `10**-scale`."""
    index = np.asarray(rows.report_index, dtype=np.int64)
    frame = reports.iloc[index].reset_index(drop=True)
    frame["report_index"] = index
    frame["namespace"] = pd.Series(rows.namespace, dtype=object)
    frame["model"] = pd.Series(rows.model, dtype=object)
    frame["input_tokens"] = money.object_ints(rows.input_tokens)
    frame["output_tokens"] = money.object_ints(rows.output_tokens)
    frame["cost"] = money.to_units(rows.cost, scale)

    # Report-level figures in the same units, and the quantum of each report's derived shares.
    has_cloud = frame["report_cloud_cost"].notna().to_numpy()
    cloud = [value if value is not None else Decimal(0) for value in frame["report_cloud_cost"]]
    frame["report_cloud_cost"] = money.to_units(cloud, scale)
    frame["has_cloud"] = has_cloud
    frame["quantum"] = np.array(
        [10 ** (scale - int(report_scale)) for report_scale in frame["scale"]], dtype=object
    )
    frame["charge_start"] = pd.to_datetime(frame["period_start"], utc=True).astype(
        "datetime64[s, UTC]"
    )
    frame["charge_end"] = pd.to_datetime(frame["period_end"], utc=True).astype("datetime64[s, UTC]")
    return frame.drop(columns=["period_start", "period_end", "scale"])


def _share_cloud_cost(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row's share of its report's cloud-equivalent cost, by tokens."""
    tokens = frame["input_tokens"].to_numpy(dtype=object) + frame["output_tokens"].to_numpy(
        dtype=object
    )
    frame["cloud_cost"] = money.allocate(
        frame["report_cloud_cost"].to_numpy(dtype=object),
        tokens,
        frame["report_index"].to_numpy(dtype=np.int64),
        frame["quantum"].to_numpy(dtype=object),
    )
    return frame.drop(columns=["report_cloud_cost"])


def _month_index(moments: pd.Series) -> npt.NDArray[np.int64]:
    months: npt.NDArray[np.int64] = (moments.dt.year * 12 + moments.dt.month - 1).to_numpy(
        dtype=np.int64
    )
    return months


def _month_start(month_index: npt.NDArray[np.int64]) -> pd.Series:
    return pd.to_datetime(
        pd.DataFrame({"year": month_index // 12, "month": month_index % 12 + 1, "day": 1}),
        utc=True,
    ).astype("datetime64[s, UTC]")


def _split_at_month_boundaries(frame: pd.DataFrame) -> pd.DataFrame:
    """One piece per calendar month (UTC) a charge touches, tokens and money pro rata by time."""
    if frame.empty:
        for column in ("billing_start", "billing_end"):
            frame[column] = pd.Series(dtype="datetime64[s, UTC]")
        return frame

    # How many months each charge touches (its end is exclusive).
    first = _month_index(frame["charge_start"])
    last_moment = frame["charge_end"].where(
        frame["charge_end"] <= frame["charge_start"], frame["charge_end"] - pd.Timedelta(seconds=1)
    )
    last = np.maximum(_month_index(last_moment), first)
    pieces = last - first + 1

    # One row per piece, clipped to its month.
    row = np.repeat(np.arange(len(frame)), pieces)
    split = frame.iloc[row].reset_index(drop=True)
    month = first[row] + split.groupby(row).cumcount().to_numpy()
    split["billing_start"] = _month_start(month)
    split["billing_end"] = _month_start(month + 1)
    split["charge_start"] = split[["charge_start", "billing_start"]].max(axis=1)
    split["charge_end"] = split[["charge_end", "billing_end"]].min(axis=1)
    if (pieces == 1).all():
        return split

    # Tokens and money of split charges, by seconds in each month.
    seconds = (split["charge_end"] - split["charge_start"]).dt.total_seconds().astype(np.int64)
    weights = seconds.to_numpy().astype(object)
    ones = np.ones(len(split), dtype=object)
    for column, quanta in (
        ("input_tokens", ones),
        ("output_tokens", ones),
        ("cost", split["quantum"].to_numpy(dtype=object)),
        ("cloud_cost", split["quantum"].to_numpy(dtype=object)),
    ):
        split[column] = money.allocate(
            split[column].to_numpy(dtype=object), weights, row.astype(np.int64), quanta
        )
    return split


def _add_savings(frame: pd.DataFrame) -> pd.DataFrame:
    """Savings against the cloud equivalent, and savings as a percentage of the cloud cost."""
    cloud = frame["cloud_cost"].to_numpy(dtype=object)
    savings = cloud - frame["cost"].to_numpy(dtype=object)
    frame["savings"] = savings
    defined = frame["has_cloud"].to_numpy(dtype=bool) & (cloud > 0)
    percent = np.zeros(len(frame), dtype=object)
    if defined.any():
        percent[defined] = money.round_half_even_div(
            savings[defined] * 100 * 10**PERCENT_PLACES, cloud[defined]
        )
    frame["savings_percent"] = percent
    frame["has_savings_percent"] = defined
    return frame


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order, so the same input always gives the same bytes."""
    keys = frame.assign(_model=frame["model"].fillna(""), _report_row=frame["model"].isna())
    ordered = keys.sort_values(
        [
            "report_namespace",
            "report_name",
            "period",
            "report_uid",
            "namespace",
            "_report_row",
            "_model",
            "charge_start",
        ],
        kind="stable",
    )
    return ordered.drop(columns=["_model", "_report_row"]).reset_index(drop=True)
