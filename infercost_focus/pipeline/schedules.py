"""Jobs and schedules: captures every 15 minutes, each closed month once it has closed."""

import dagster as dg

from infercost_focus.pipeline import settings
from infercost_focus.pipeline.assets.captures import usage_report_capture
from infercost_focus.pipeline.assets.finance import spend_trailing_quarter
from infercost_focus.pipeline.assets.monthly import (
    focus_1_2_monthly,
    focus_monthly,
    usage_reports_monthly,
)
from infercost_focus.pipeline.partitions import BILLING_MONTHS, previous_month

capture_job = dg.define_asset_job(
    "capture_usage_reports",
    selection=dg.AssetSelection.assets(usage_report_capture),
    description="Capture every UsageReport and CostProfile the source shows now.",
)

# NB: the K8sRunLauncher reads this tag: each run of the month job gets a pod sized for a month
# of a large cluster, while captures keep the smaller default of the code location. It goes in
# `tags`, not `run_tags`: job backfills copy a job's `tags` onto their runs, schedules use them
# as run tags when `run_tags` is not set.
MONTHLY_RUN_K8S_CONFIG = {
    "container_config": {
        "resources": {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"memory": "8Gi"},
        }
    }
}

monthly_focus_job = dg.define_asset_job(
    "monthly_focus",
    selection=dg.AssetSelection.assets(usage_reports_monthly, focus_monthly, focus_1_2_monthly),
    description="Build, check and write one billing month's FOCUS files (both layouts).",
    tags={"dagster-k8s/config": MONTHLY_RUN_K8S_CONFIG},
)

finance_job = dg.define_asset_job(
    "finance_spend",
    selection=dg.AssetSelection.assets(spend_trailing_quarter),
    description="Spend over the trailing quarter, from FOCUS files already written.",
)

capture_schedule = dg.ScheduleDefinition(
    name="capture_every_15_minutes",
    job=capture_job,
    cron_schedule=settings.env_text(settings.CAPTURE_CRON, settings.DEFAULT_CAPTURE_CRON),
    execution_timezone="UTC",
    description="Captures UsageReports while their periods are current (default every 15 "
    f"minutes; ${settings.CAPTURE_CRON} changes it).",
)


@dg.schedule(
    name="monthly_focus_after_close",
    job=monthly_focus_job,
    cron_schedule=settings.env_text(settings.MONTHLY_CRON, settings.DEFAULT_MONTHLY_CRON),
    execution_timezone="UTC",
    description="Materializes the previous month once it has closed (default the 2nd, 06:00 "
    f"UTC; ${settings.MONTHLY_CRON} changes it).",
)
def monthly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    scheduled = context.scheduled_execution_time
    if scheduled is None:
        return dg.SkipReason("no scheduled time to take the month from")
    month = previous_month(scheduled)
    if month not in BILLING_MONTHS.get_partition_keys(current_time=scheduled):
        return dg.SkipReason(f"{month} is before the first billing month")
    return dg.RunRequest(run_key=month, partition_key=month)
