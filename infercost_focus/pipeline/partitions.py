"""Billing months as Dagster partitions: keys like `2026-04`, in UTC."""

import re
from datetime import UTC, datetime

import dagster as dg

from infercost_focus.pipeline import settings

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def billing_months(start_month: str | None = None) -> dg.MonthlyPartitionsDefinition:
    """Monthly partitions from `start_month` (default: $INFERCOST_START_MONTH, else 2025-10)."""
    start = start_month or settings.env_text(settings.START_MONTH, settings.DEFAULT_START_MONTH)
    if not _MONTH.match(start):
        raise ValueError(
            f"Cannot use {start!r} as the first billing month; set {settings.START_MONTH} to a "
            "month such as 2026-01."
        )
    return dg.MonthlyPartitionsDefinition(
        start_date=start, timezone="UTC", fmt="%Y-%m", end_offset=0
    )


def month_start(month: str) -> datetime:
    return datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)


def previous_month(moment: datetime) -> str:
    """The month before the one that contains `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"


BILLING_MONTHS = billing_months()
