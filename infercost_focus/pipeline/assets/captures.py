"""Capturing UsageReports while they are current, since the cluster forgets closed periods."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from infercost_focus.captures.demo_history import fill_demo_history
from infercost_focus.errors import InferCostError
from infercost_focus.pipeline.partitions import month_start
from infercost_focus.pipeline.resources import CaptureStoreResource, InferCostSource


@dg.asset(
    group_name="captures",
    kinds={"kubernetes", "parquet"},
    description="One capture of every UsageReport and CostProfile the source shows now.",
)
def usage_report_capture(
    context: dg.AssetExecutionContext,
    source: InferCostSource,
    capture_store: CaptureStoreResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Lists all UsageReports and CostProfiles once and keeps them in the capture store.

    A UsageReport's status only ever shows its current period; once the period rolls over, its
    numbers are gone from the cluster. Monthly FOCUS files are therefore built from these
    captures, never from the cluster directly. Scheduled every 15 minutes by default.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    store = capture_store.open()
    try:
        capture = store.begin(now, source.kind)
        description = source.capture(capture, context.log)
        info = store.commit(capture)
    except InferCostError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(
        f"captured {info.usage_reports} UsageReports and {info.cost_profiles} CostProfiles "
        f"from {description}"
    )
    return dg.MaterializeResult(
        metadata={
            "source": source.kind,
            "source_description": description,
            "demo_data": source.kind == "demo",
            "captured_at": info.captured_at.isoformat(),
            "usage_reports": info.usage_reports,
            "cost_profiles": info.cost_profiles,
            "capture_file": dg.MetadataValue.path(info.path),
        }
    )


class DemoHistoryConfig(dg.Config):
    """The months of demo history to capture."""

    first_month: str = "2026-01"
    last_month: str = "2026-03"
    every_hours: int = 6


@dg.op(description="Fill the capture store with a history of the demo cluster.")
def capture_demo_history(
    context: dg.OpExecutionContext, config: DemoHistoryConfig, capture_store: CaptureStoreResource
) -> int:
    start = month_start(config.first_month)
    last = month_start(config.last_month)
    end = (last + timedelta(days=32)).replace(day=1)
    if end <= start:
        raise dg.Failure(
            description=f"last_month {config.last_month!r} is before first_month "
            f"{config.first_month!r}; give the months in order."
        )
    count = fill_demo_history(
        capture_store.open(), start, end, timedelta(hours=config.every_hours), log=context.log
    )
    context.add_output_metadata({"captures": count, "demo_data": True})
    return count


@dg.job(description="Capture past months of the demo cluster, so they can be backfilled.")
def demo_capture_history() -> None:
    capture_demo_history()
