"""The Dagster code location `infercost_focus`: assembles the pieces, nothing more."""

import dagster as dg

from infercost_focus.pipeline import settings
from infercost_focus.pipeline.assets.captures import demo_capture_history, usage_report_capture
from infercost_focus.pipeline.assets.finance import spend_trailing_quarter
from infercost_focus.pipeline.assets.monthly import (
    focus_1_2_monthly,
    focus_monthly,
    usage_reports_monthly,
)
from infercost_focus.pipeline.io_managers import FocusCsvIOManager
from infercost_focus.pipeline.resources import CaptureStoreResource, InferCostSource
from infercost_focus.pipeline.schedules import (
    capture_job,
    capture_schedule,
    finance_job,
    monthly_focus_job,
    monthly_schedule,
)

defs = dg.Definitions(
    assets=[
        usage_report_capture,
        usage_reports_monthly,
        focus_monthly,
        focus_1_2_monthly,
        spend_trailing_quarter,
    ],
    jobs=[capture_job, monthly_focus_job, finance_job, demo_capture_history],
    schedules=[capture_schedule, monthly_schedule],
    resources={
        "source": InferCostSource(
            kind=settings.env_or(settings.SOURCE, "demo"),
            kubeconfig=settings.env_or(settings.KUBECONFIG, None),
            context=settings.env_or(settings.CONTEXT, None),
            namespace=settings.env_or(settings.NAMESPACE, None),
            paths=settings.env_or(settings.INPUT_PATHS, ""),
            request_timeout=settings.env_seconds(
                settings.REQUEST_TIMEOUT, settings.DEFAULT_REQUEST_TIMEOUT
            ),
        ),
        "capture_store": CaptureStoreResource(
            path=settings.env_or(settings.CAPTURES, settings.DEFAULT_CAPTURES)
        ),
        "focus_io_manager": FocusCsvIOManager(
            base_path=settings.env_or(settings.OUTPUT, settings.DEFAULT_OUTPUT),
            formats=settings.env_or(settings.FORMATS, "csv"),
        ),
    },
    executor=dg.in_process_executor,
)
