"""Schedules: which month a tick asks for, and the capture cadence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

# NB: the function the Dagster daemon itself uses to turn a cron string into ticks.
from dagster._utils.schedules import cron_string_iterator

from infercost_focus.pipeline.partitions import billing_months, previous_month
from infercost_focus.pipeline.schedules import capture_schedule, monthly_schedule


def _ticks(schedule: dg.ScheduleDefinition, after: datetime) -> Iterator[datetime]:
    assert isinstance(schedule.cron_schedule, str)
    assert schedule.execution_timezone == "UTC"
    return cron_string_iterator(after.timestamp(), schedule.cron_schedule, "UTC")


@pytest.mark.parametrize(
    ("tick", "month"),
    [
        (datetime(2026, 5, 2, 6, 0, tzinfo=UTC), "2026-04"),
        (datetime(2027, 1, 2, 6, 0, tzinfo=UTC), "2026-12"),
        (datetime(2026, 3, 2, 6, 0, tzinfo=UTC), "2026-02"),
    ],
)
def test_the_monthly_tick_asks_for_the_month_that_has_just_closed(
    tick: datetime, month: str
) -> None:
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    request = monthly_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == month
    assert request.run_key == month


def test_a_tick_before_the_first_billing_month_is_skipped() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 10, 2, 6, 0, tzinfo=UTC)
    )
    assert isinstance(monthly_schedule(context), dg.SkipReason)


def test_the_monthly_schedule_fires_on_the_second_at_six_utc() -> None:
    ticks = _ticks(monthly_schedule, datetime(2026, 4, 15, tzinfo=UTC))
    assert [next(ticks).isoformat() for _ in range(2)] == [
        "2026-05-02T06:00:00+00:00",
        "2026-06-02T06:00:00+00:00",
    ]


def test_captures_are_scheduled_every_fifteen_minutes() -> None:
    ticks = _ticks(capture_schedule, datetime(2026, 4, 30, 23, 50, tzinfo=UTC))
    assert [next(ticks).strftime("%H:%M") for _ in range(3)] == ["00:00", "00:15", "00:30"]


def test_previous_month_wraps_around_the_year() -> None:
    assert previous_month(datetime(2026, 1, 1, tzinfo=UTC)) == "2025-12"
    assert previous_month(datetime(2026, 7, 31, 23, 59, tzinfo=UTC)) == "2026-06"


def test_a_malformed_start_month_is_refused_with_the_setting_name() -> None:
    with pytest.raises(ValueError, match="INFERCOST_START_MONTH"):
        billing_months("April")
