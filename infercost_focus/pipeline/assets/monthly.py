"""Each billing month: the reports captured for it, and its FOCUS rows behind a blocking check."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import dagster as dg
import pandas as pd

from infercost_focus.captures import MonthStates
from infercost_focus.core.export import export_focus, is_demo, source_tags
from infercost_focus.core.jsonio import decimal_text
from infercost_focus.core.layouts import FOCUS_12, INFERCOST, RenderOptions, get_layout
from infercost_focus.core.validation import check_frame
from infercost_focus.errors import InferCostError
from infercost_focus.pipeline import settings
from infercost_focus.pipeline.partitions import BILLING_MONTHS
from infercost_focus.pipeline.resources import CaptureStoreResource

SCHEMA_CHECK = "focus_schema"
REJECTS_CHECK = "no_rejected_objects"
# How many of a month's warnings (or rejects) its one log message shows, and its warnings the
# output metadata; the rest are counted (the rejects check lists every rejected object). Each
# Dagster log message is an event in the instance's storage: a month with thousands of partial
# breakdowns gets one message, not thousands of events.
SHOWN_AT_MOST = 50


@dataclass(frozen=True)
class MonthReports:
    """The objects of one billing month, as captured: the input of its FOCUS rows."""

    month: str
    states: MonthStates

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [*self.states.usage_reports, *self.states.cost_profiles]

    @property
    def is_demo(self) -> bool:
        return is_demo(self.states.usage_reports)


@dg.asset(
    partitions_def=BILLING_MONTHS,
    group_name="billing_month",
    kinds={"parquet"},
)
def usage_reports_monthly(
    context: dg.AssetExecutionContext, capture_store: CaptureStoreResource
) -> dg.Output[MonthReports]:
    """The UsageReport periods whose charge lies in this billing month, at their last captured
    state, and the CostProfiles they reference."""
    month = context.partition_key
    try:
        states = capture_store.open().month_states(month)
    except InferCostError as error:
        raise dg.Failure(description=str(error)) from error
    reports = MonthReports(month, states)
    periods = {(obj.get("status") or {}).get("period") for obj in states.usage_reports}
    namespaces = sorted({obj["metadata"]["namespace"] for obj in states.usage_reports})
    metadata: dict[str, Any] = {
        "report_periods": len(states.usage_reports),
        "reports": len({obj["metadata"].get("uid") for obj in states.usage_reports}),
        "periods": len(periods),
        "cost_profiles": len(states.cost_profiles),
        "captures_read": states.captures_read,
        "namespaces": ", ".join(namespaces),
        "demo_data": reports.is_demo,
    }
    if states.captures_read == 0:
        notice = (
            f"The capture store {capture_store.path} holds no captures for {month}: the month "
            "has no UsageReports. Captures must be taken while a month is current (schedule "
            "capture_usage_reports), or, for demo data, filled with the demo_capture_history job."
        )
        context.log.warning(notice)
        metadata["notice"] = notice
    else:
        context.log.info(
            f"{month}: {len(states.usage_reports)} report periods from "
            f"{states.captures_read} captures"
        )
    return dg.Output(reports, metadata=metadata)


class FocusConfig(dg.Config):
    """Choices that change cells of the month's FOCUS rows."""

    # Read when the definitions load, so that a deployment per cluster fills its Region column
    # without run config; run config still overrides it for one run.
    region: str = settings.env_text(settings.REGION, "")
    neutralise_formulas: bool = True
    # The conformant layout's on-prem identities.
    provider_name: str = RenderOptions.platform_name
    billing_account_id: str = RenderOptions.billing_account_id
    billing_account_name: str = RenderOptions.billing_account_name


def build_focus_asset(name: str, layout_name: str) -> dg.AssetsDefinition:
    """The monthly FOCUS asset of one layout, with its blocking schema check and rejects check."""
    layout = get_layout(layout_name)

    @dg.asset(
        name=name,
        partitions_def=BILLING_MONTHS,
        group_name="billing_month",
        io_manager_key="focus_io_manager",
        kinds={"pandas", "csv"},
        description=f"FOCUS cost and usage rows of one billing month: {layout.description}. "
        "The schema check runs on this frame before the IO manager writes it: a month that "
        "fails the check raises, and the month's previous file stays as it was.",
        metadata={"layout": layout.name},
        check_specs=[
            dg.AssetCheckSpec(
                SCHEMA_CHECK,
                asset=name,
                blocking=True,
                description="Columns, cell formats, billing periods, Tags and reconciliation "
                "with the report totals, checked before the file is written.",
            ),
            dg.AssetCheckSpec(
                REJECTS_CHECK,
                asset=name,
                description="Every captured object could be read (malformed ones are left out "
                "and listed here).",
            ),
        ],
    )
    def focus_asset(
        context: dg.AssetExecutionContext, config: FocusConfig, usage_reports_monthly: MonthReports
    ) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
        yield from _focus_month(context, config, usage_reports_monthly, layout.name)

    return focus_asset


def _focus_month(
    context: dg.AssetExecutionContext,
    config: FocusConfig,
    usage_reports_monthly: MonthReports,
    layout_name: str,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    month = context.partition_key
    result = export_focus(
        usage_reports_monthly.objects,
        billing_month=month,
        layout_name=layout_name,
        options=RenderOptions(
            region=config.region,
            neutralise_formulas=config.neutralise_formulas,
            extra_tags=source_tags(usage_reports_monthly.states.usage_reports),
            platform_name=config.provider_name,
            billing_account_id=config.billing_account_id,
            billing_account_name=config.billing_account_name,
        ),
    )
    frame = result.frame
    frame.attrs["layout"] = layout_name
    _log_warnings(context, f"{month}: {len(result.warnings)} warnings", result.warnings)

    # The blocking schema check, on exactly the frame that would be written.
    check = check_frame(frame, layout_name, reports=result.usage_reports, billing_month=month)
    yield dg.AssetCheckResult(
        check_name=SCHEMA_CHECK,
        passed=check.passed,
        metadata={
            "rows": len(frame),
            "problems": len(check.problems),
            "details": dg.MetadataValue.md(_code_block(check.describe())),
        },
    )
    if not check.passed:
        raise dg.Failure(
            description=f"The FOCUS rows of {month} fail the schema check, so no file was "
            f"written and the previous one is unchanged.\n{check.describe()}"
        )

    # Rejected objects: reported, never silently dropped.
    rejects = [str(reject) for reject in result.rejects]
    _log_warnings(context, f"{month}: rejected {len(rejects)} objects", rejects)
    yield dg.AssetCheckResult(
        check_name=REJECTS_CHECK,
        passed=not rejects,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected": len(rejects),
            "objects": dg.MetadataValue.md(_code_block("\n".join(rejects) or "none")),
        },
    )
    quantity = get_layout(layout_name).roles["quantity"]
    yield dg.Output(
        frame,
        metadata=_frame_metadata(
            frame, quantity, result.reports, rejects, result.warnings, usage_reports_monthly.is_demo
        ),
    )


focus_monthly = build_focus_asset("focus_monthly", INFERCOST)
focus_1_2_monthly = build_focus_asset("focus_1_2_monthly", FOCUS_12)


def _frame_metadata(
    frame: pd.DataFrame,
    quantity: str,
    reports: int,
    rejects: list[str],
    warnings: list[str],
    is_demo: bool,
) -> dict[str, Any]:
    cost = [Decimal(text) for text in frame["BilledCost"].tolist()]
    tokens = [int(Decimal(text)) for text in frame[quantity].tolist()]
    spend = pd.DataFrame(
        {
            "namespace": frame["SubAccountId"],
            "model": frame["SkuId"].fillna(""),
            "cost": cost,
            "tokens": tokens,
        }
    )
    return {
        "rows": len(frame),
        "report_periods": reports,
        "total_cost_usd": str(sum(cost, Decimal(0))),
        "total_tokens": str(sum(tokens)),
        "spend_by_namespace": dg.MetadataValue.md(_spend_table(spend, "namespace")),
        "spend_by_model": dg.MetadataValue.md(_spend_table(spend, "model")),
        "rejected_objects": len(rejects),
        "warnings": len(warnings),
        "warning_details": dg.MetadataValue.md(_code_block(_shown(warnings) or "none")),
        "demo_data": is_demo,
    }


def _spend_table(spend: pd.DataFrame, by: str) -> str:
    if spend.empty:
        return "no rows"
    totals = spend.groupby(by, sort=True).agg(
        cost=("cost", lambda c: sum(c, Decimal(0))), tokens=("tokens", "sum")
    )
    lines = [f"| {by} | cost (USD) | tokens |", "|---|---:|---:|"]
    for key, row in totals.iterrows():
        label = str(key).replace("|", "\\|") or "(no model)"
        lines.append(f"| {label} | {decimal_text(row['cost'])} | {row['tokens']} |")
    return "\n".join(lines)


def _log_warnings(context: dg.AssetExecutionContext, heading: str, lines: list[str]) -> None:
    if lines:
        context.log.warning(f"{heading}:\n{_shown(lines)}")


def _shown(lines: list[str]) -> str:
    """The first `SHOWN_AT_MOST` lines, then how many more there are."""
    shown = lines[:SHOWN_AT_MOST]
    if len(lines) > SHOWN_AT_MOST:
        shown.append(f"... and {len(lines) - SHOWN_AT_MOST} more")
    return "\n".join(shown)


def _code_block(text: str) -> str:
    return f"```\n{text}\n```"
