"""The built-in demo cluster: deterministic, shaped like the Kubernetes API, believable numbers."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost_focus.core.jsonio import dumps_exact
from infercost_focus.sources.demo import (
    API_VERSION,
    DEMO_LABEL,
    DEMO_SOURCE_NAME,
    LAUNCH,
    demo_capture_times,
    demo_cluster_at,
)

APRIL_30 = datetime(2026, 4, 30, 15, 27, 41, tzinfo=UTC)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PERIOD_NAMES = {
    "daily": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "weekly": re.compile(r"^\d{4}-W\d{2}$"),
    "monthly": re.compile(r"^\d{4}-\d{2}$"),
}


def reports_at(at: datetime) -> dict[str, dict[str, Any]]:
    reports, _ = demo_cluster_at(at)
    return {f"{r['metadata']['namespace']}/{r['metadata']['name']}": r for r in reports}


def reconciled(at: datetime) -> dict[str, dict[str, Any]]:
    return {ref: r for ref, r in reports_at(at).items() if "status" in r}


def report_with_schedule(schedule: str) -> str:
    return next(
        ref
        for ref, r in reconciled(APRIL_30).items()
        if r["spec"]["schedule"] == schedule and "byModel" in r["status"]
    )


def counters(status: dict[str, Any]) -> Iterator[tuple[str, int | Decimal]]:
    """Every cumulative counter of a status, named so two instants can be compared."""
    yield "inputTokens", status["inputTokens"]
    yield "outputTokens", status["outputTokens"]
    yield "estimatedCostUSD", status["estimatedCostUSD"]
    for entry in status.get("byModel", []):
        key = f"{entry['namespace']}/{entry['model']}"
        for field in ("inputTokens", "outputTokens", "estimatedCostUSD"):
            yield f"{key}.{field}", entry[field]
    for entry in status["cloudComparison"]:
        yield f"{entry['provider']}/{entry['model']}", entry["estimatedCloudCostUSD"]


def hourly_pool_cost(profile: dict[str, Any]) -> Decimal:
    hardware, electricity = profile["spec"]["hardware"], profile["spec"]["electricity"]
    amortization: Decimal = hardware["purchasePriceUSD"] / (hardware["amortizationYears"] * 8760)
    power: Decimal = hardware["gpuCount"] * Decimal("0.7") * electricity["pueFactor"]
    rate: Decimal = electricity["ratePerKWh"]
    return amortization + power * rate


# Determinism


def test_the_source_is_named_demo() -> None:
    assert DEMO_SOURCE_NAME == "demo"


def test_the_same_instant_gives_the_same_objects() -> None:
    first = demo_cluster_at(APRIL_30)
    demo_cluster_at(APRIL_30 + timedelta(days=40))  # other periods in between
    second = demo_cluster_at(APRIL_30)

    assert first == second
    assert dumps_exact(first) == dumps_exact(second)


def test_returned_objects_can_be_changed_without_changing_the_next_answer() -> None:
    status = reports_at(APRIL_30)["search/answer-synthesis"]["status"]
    status["inputTokens"] = -1
    status["byModel"][0]["inputTokens"] = -1

    again = reports_at(APRIL_30)["search/answer-synthesis"]["status"]
    assert again["inputTokens"] > 0
    assert again["byModel"][0]["inputTokens"] > 0


def test_an_instant_in_another_timezone_is_the_same_utc_instant() -> None:
    paris = timezone(timedelta(hours=2))
    assert demo_cluster_at(APRIL_30.astimezone(paris)) == demo_cluster_at(APRIL_30)


def test_fractions_of_a_second_are_dropped() -> None:
    assert demo_cluster_at(APRIL_30.replace(microsecond=999_999)) == demo_cluster_at(APRIL_30)


# Counters within a period and across rollovers


@pytest.mark.parametrize("schedule", ["daily", "weekly", "monthly"])
def test_counters_never_decrease_within_a_period(schedule: str) -> None:
    ref = report_with_schedule(schedule)
    step = {"daily": timedelta(minutes=17), "weekly": timedelta(hours=2, minutes=13)}.get(
        schedule, timedelta(hours=9, minutes=7)
    )
    start = datetime.fromisoformat(reports_at(APRIL_30)[ref]["status"]["periodStart"])

    previous: dict[str, int | Decimal] = {}
    moment = start
    grew = False
    while (status := reports_at(moment)[ref]["status"])["periodStart"] == start.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    ):
        current = dict(counters(status))
        for name, value in previous.items():
            assert current[name] >= value, f"{ref} {name} fell at {moment}"
            grew = grew or current[name] > value
        previous = current
        moment += step
    assert grew


@settings(max_examples=40, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(2025, 10, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    later=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=30)),
)
def test_any_later_instant_in_the_same_period_shows_counters_at_least_as_high(
    at: datetime, later: timedelta
) -> None:
    before, after = reconciled(at), reconciled(at + later)
    for ref, report in before.items():
        if after[ref]["status"]["period"] != report["status"]["period"]:
            continue
        then, now = dict(counters(report["status"])), dict(counters(after[ref]["status"]))
        assert all(now[name] >= value for name, value in then.items()), ref


@pytest.mark.parametrize(
    ("schedule", "boundary", "old_period", "new_period"),
    [
        ("daily", datetime(2026, 4, 21, tzinfo=UTC), "2026-04-20", "2026-04-21"),
        ("weekly", datetime(2026, 4, 27, tzinfo=UTC), "2026-W17", "2026-W18"),
        ("monthly", datetime(2026, 5, 1, tzinfo=UTC), "2026-04", "2026-05"),
    ],
)
def test_the_status_starts_again_from_zero_when_the_period_rolls_over(
    schedule: str, boundary: datetime, old_period: str, new_period: str
) -> None:
    ref = report_with_schedule(schedule)
    last = reports_at(boundary - timedelta(seconds=1))[ref]["status"]
    first = reports_at(boundary)[ref]["status"]
    hour_in = reports_at(boundary + timedelta(hours=1))[ref]["status"]

    last_second = (boundary - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (last["period"], last["periodEnd"]) == (old_period, last_second)
    assert first["period"] == new_period
    assert first["periodStart"] == first["periodEnd"] == boundary.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(value == 0 for _, value in counters(first))
    assert 0 < hour_in["inputTokens"] < last["inputTokens"]
    assert 0 < hour_in["estimatedCostUSD"] < last["estimatedCostUSD"]


# Money and totals


def test_totals_are_the_exact_sums_of_the_model_breakdown() -> None:
    for moment in (APRIL_30, datetime(2025, 12, 24, 3, 0, 1, tzinfo=UTC)):
        for ref, report in reconciled(moment).items():
            status = report["status"]
            if "byModel" not in status:
                continue
            by_model = status["byModel"]
            assert status["inputTokens"] == sum(e["inputTokens"] for e in by_model), ref
            assert status["outputTokens"] == sum(e["outputTokens"] for e in by_model), ref
            assert status["estimatedCostUSD"] == sum(e["estimatedCostUSD"] for e in by_model), ref


def test_savings_are_the_cloud_cost_minus_the_on_premises_cost() -> None:
    for ref, report in reconciled(APRIL_30).items():
        status = report["status"]
        assert 2 <= len(status["cloudComparison"]) <= 3, ref
        for entry in status["cloudComparison"]:
            cloud = entry["estimatedCloudCostUSD"]
            assert entry["savingsUSD"] == cloud - status["estimatedCostUSD"], ref
            assert entry["savingsPercent"].as_tuple().exponent == -2, ref
            assert abs(entry["savingsPercent"] - entry["savingsUSD"] * 100 / cloud) <= Decimal(
                "0.005"
            ), ref


def test_savings_percent_is_zero_when_nothing_was_used_yet() -> None:
    status = reports_at(datetime(2026, 5, 1, tzinfo=UTC))["search/answer-synthesis"]["status"]
    assert {e["savingsPercent"] for e in status["cloudComparison"]} == {Decimal("0.00")}


def test_each_report_is_charged_at_most_its_pools_hourly_cost() -> None:
    reports, profiles = demo_cluster_at(APRIL_30)
    an_hour_later = reconciled(APRIL_30 + timedelta(hours=1))
    pools = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in profiles}

    for report in reports:
        if "status" not in report:
            continue
        ref = f"{report['metadata']['namespace']}/{report['metadata']['name']}"
        charged = an_hour_later[ref]["status"]["estimatedCostUSD"]
        charged -= report["status"]["estimatedCostUSD"]
        pool = pools[(report["metadata"]["namespace"], report["spec"]["costProfileRef"])]
        assert Decimal("0.1") < charged <= hourly_pool_cost(pool), ref


# Shapes


def test_objects_look_like_kubectl_json_items() -> None:
    reports, profiles = demo_cluster_at(APRIL_30)

    for item in reports + profiles:
        assert item["apiVersion"] == API_VERSION
        metadata = item["metadata"]
        assert metadata["labels"][DEMO_LABEL] == "true"
        assert uuid.UUID(metadata["uid"]).version == 5
        assert TIMESTAMP.match(metadata["creationTimestamp"])
    assert {r["kind"] for r in reports} == {"UsageReport"}
    assert {p["kind"] for p in profiles} == {"CostProfile"}
    assert len({item["metadata"]["uid"] for item in reports + profiles}) == len(reports + profiles)
    assert reports == sorted(
        reports, key=lambda r: (r["metadata"]["namespace"], r["metadata"]["name"])
    )


def test_statuses_use_ints_for_tokens_decimals_for_money_and_utc_timestamps() -> None:
    for ref, report in reconciled(APRIL_30).items():
        status = report["status"]
        assert report["spec"]["schedule"] in PERIOD_NAMES, ref
        assert PERIOD_NAMES[report["spec"]["schedule"]].match(status["period"]), ref
        for field in ("periodStart", "periodEnd", "lastUpdated"):
            assert TIMESTAMP.match(status[field]), (ref, field)
        assert status["periodEnd"] == status["lastUpdated"] == "2026-04-30T15:27:41Z"
        for entry in [status, *status.get("byModel", [])]:
            for field in ("inputTokens", "outputTokens"):
                assert type(entry[field]) is int, (ref, field)
            assert isinstance(entry["estimatedCostUSD"], Decimal)
            assert entry["estimatedCostUSD"].as_tuple().exponent == -6
        for entry in status["cloudComparison"]:
            for field in ("estimatedCloudCostUSD", "savingsUSD", "savingsPercent"):
                assert isinstance(entry[field], Decimal), (ref, field)
            assert entry["estimatedCloudCostUSD"].as_tuple().exponent >= -6


def test_cost_profiles_declare_hardware_and_electricity_exactly() -> None:
    _, profiles = demo_cluster_at(APRIL_30)

    for profile in profiles:
        hardware, electricity = profile["spec"]["hardware"], profile["spec"]["electricity"]
        assert type(hardware["gpuCount"]) is int
        assert type(hardware["amortizationYears"]) is int
        assert 3 <= hardware["amortizationYears"] <= 5
        assert isinstance(hardware["purchasePriceUSD"], Decimal)
        assert Decimal("0.08") <= electricity["ratePerKWh"] <= Decimal("0.20")
        assert Decimal("1.2") <= electricity["pueFactor"] <= Decimal("1.6")
    assert {p["spec"]["hardware"]["gpuModel"] for p in profiles} == {
        "NVIDIA H100 80GB HBM3",
        "NVIDIA A100 80GB PCIe",
        "NVIDIA L40S",
    }


@pytest.mark.parametrize(
    ("day", "week", "monday"),
    [
        (datetime(2025, 12, 31, 12, tzinfo=UTC), "2026-W01", "2025-12-29"),
        (datetime(2026, 4, 20, tzinfo=UTC), "2026-W17", "2026-04-20"),
        (datetime(2026, 12, 31, 12, tzinfo=UTC), "2026-W53", "2026-12-28"),
        (datetime(2027, 1, 3, 23, 59, 59, tzinfo=UTC), "2026-W53", "2026-12-28"),
        (datetime(2027, 1, 4, tzinfo=UTC), "2027-W01", "2027-01-04"),
    ],
)
def test_weekly_periods_are_named_by_iso_week_across_year_ends(
    day: datetime, week: str, monday: str
) -> None:
    status = reports_at(day)[report_with_schedule("weekly")]["status"]
    assert status["period"] == week
    assert status["periodStart"] == f"{monday}T00:00:00Z"


def test_daily_and_monthly_periods_start_at_midnight_utc() -> None:
    daily = reports_at(APRIL_30)[report_with_schedule("daily")]["status"]
    monthly = reports_at(APRIL_30)[report_with_schedule("monthly")]["status"]

    assert (daily["period"], daily["periodStart"]) == ("2026-04-30", "2026-04-30T00:00:00Z")
    assert (monthly["period"], monthly["periodStart"]) == ("2026-04", "2026-04-01T00:00:00Z")


# The simulated cluster


def test_the_same_profile_name_means_different_hardware_in_two_namespaces() -> None:
    _, profiles = demo_cluster_at(APRIL_30)
    inference_pools = {
        p["metadata"]["namespace"]: p["spec"]["hardware"]["gpuModel"]
        for p in profiles
        if p["metadata"]["name"] == "inference-pool"
    }

    assert len(inference_pools) == 2
    assert len(set(inference_pools.values())) == 2


def test_every_report_references_a_cost_profile_in_its_own_namespace() -> None:
    reports, profiles = demo_cluster_at(APRIL_30)
    declared = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in profiles}

    for report in reports:
        assert (report["metadata"]["namespace"], report["spec"]["costProfileRef"]) in declared


def test_the_cluster_mixes_teams_schedules_and_models() -> None:
    reports = reports_at(APRIL_30)

    assert len({r["metadata"]["namespace"] for r in reports.values()}) == 5
    assert 10 <= len(reports) <= 14
    assert {r["spec"]["schedule"] for r in reports.values()} == {"daily", "weekly", "monthly"}
    for ref, report in reconciled(APRIL_30).items():
        assert 2 <= len(report["status"].get("byModel", [{}, {}])) <= 6, ref


def test_one_report_shows_totals_without_a_model_breakdown() -> None:
    rollups = [r for r in reconciled(APRIL_30).values() if "byModel" not in r["status"]]

    assert len(rollups) == 1
    assert rollups[0]["status"]["inputTokens"] > 0
    assert rollups[0]["status"]["estimatedCostUSD"] > 0


def test_one_report_was_never_reconciled() -> None:
    for moment in (APRIL_30, datetime(2027, 6, 1, tzinfo=UTC)):
        unreconciled = [r for r in reports_at(moment).values() if "status" not in r]
        assert [r["metadata"]["name"] for r in unreconciled] == ["agent-experiments"]


def test_the_shared_gateway_breaks_usage_down_by_the_calling_namespace() -> None:
    report = reports_at(APRIL_30)["platform/shared-gateway"]
    namespaces = {entry["namespace"] for entry in report["status"]["byModel"]}

    assert namespaces - {"platform"}
    assert len(namespaces) >= 3


def test_nothing_is_reported_before_launch_and_late_reports_appear_when_created() -> None:
    assert demo_cluster_at(LAUNCH - timedelta(seconds=1))[0] == []
    at_launch = reports_at(LAUNCH)
    later = reports_at(APRIL_30)

    assert 0 < len(at_launch) < len(later)
    for ref, report in later.items():
        created = datetime.fromisoformat(report["metadata"]["creationTimestamp"])
        assert (ref in at_launch) == (created <= LAUNCH)


def test_a_period_that_began_before_creation_counts_from_creation() -> None:
    # The weekly period 2025-W40 began on Monday 2025-09-29; the reports came on Wednesday.
    ref = report_with_schedule("weekly")
    status = reports_at(LAUNCH)[ref]["status"]

    assert (status["period"], status["periodStart"]) == ("2025-W40", "2025-09-29T00:00:00Z")
    assert all(value == 0 for _, value in counters(status))


def test_volumes_reach_billions_of_tokens_a_month() -> None:
    statuses = reconciled(datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC)).values()
    monthly = [r["status"] for r in statuses if r["spec"]["schedule"] == "monthly"]

    assert max(s["inputTokens"] for s in monthly) > 1_000_000_000
    assert min(s["inputTokens"] for s in monthly) > 1_000_000


def test_weekdays_are_busier_than_weekends() -> None:
    ref = report_with_schedule("daily")
    friday = reports_at(datetime(2026, 4, 17, 23, 59, 59, tzinfo=UTC))[ref]["status"]
    sunday = reports_at(datetime(2026, 4, 19, 23, 59, 59, tzinfo=UTC))[ref]["status"]

    assert friday["inputTokens"] > 1.4 * sunday["inputTokens"]


def test_traffic_grows_over_the_months() -> None:
    ref = report_with_schedule("monthly")
    november = reports_at(datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC))[ref]["status"]
    june = reports_at(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))[ref]["status"]

    assert june["inputTokens"] > 1.2 * november["inputTokens"]


# Capture times


def test_capture_times_hold_the_grid_and_the_last_second_of_every_period() -> None:
    start = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    end = datetime(2026, 5, 2, 7, 0, tzinfo=UTC)
    times = demo_capture_times(start, end, timedelta(hours=6))

    assert times == sorted(set(times))
    assert all(start <= moment < end for moment in times)
    assert {start + timedelta(hours=6 * k) for k in range(132)} <= set(times)
    last_seconds = {m for m in times if (m.hour, m.minute, m.second) == (23, 59, 59)}
    assert len(last_seconds) == 33  # March 30 to May 1: every day ends a daily period
    assert datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC) in last_seconds  # April
    assert datetime(2026, 4, 26, 23, 59, 59, tzinfo=UTC) in last_seconds  # 2026-W17


def test_a_capture_at_the_last_second_holds_the_periods_final_state() -> None:
    times = demo_capture_times(
        datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC), timedelta(days=1)
    )
    finals = [reconciled(m)["search/answer-synthesis"]["status"] for m in times]
    april = [s for s in finals if s["period"] == "2026-04"]

    assert april[-1]["periodEnd"] == "2026-04-30T23:59:59Z"


def test_capture_times_skip_periods_before_launch() -> None:
    times = demo_capture_times(
        datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 10, 3, tzinfo=UTC), timedelta(days=7)
    )
    assert [m for m in times if m.second == 59] == [
        datetime(2025, 10, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 10, 2, 23, 59, 59, tzinfo=UTC),
    ]


def test_capture_times_never_reach_before_the_start() -> None:
    start = datetime(2026, 4, 30, 23, 59, 59, 500_000, tzinfo=UTC)
    times = demo_capture_times(start, start + timedelta(days=1), timedelta(days=1))

    assert times == [start, datetime(2026, 5, 1, 23, 59, 59, tzinfo=UTC)]


# Refused inputs


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        demo_cluster_at(datetime(2026, 4, 30))
    with pytest.raises(ValueError, match="naive datetime"):
        demo_capture_times(datetime(2026, 4, 1), APRIL_30, timedelta(hours=1))


def test_a_non_positive_capture_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        demo_capture_times(LAUNCH, APRIL_30, timedelta(0))


# Speed


def test_one_instant_is_computed_well_within_50_milliseconds() -> None:
    demo_cluster_at(APRIL_30)  # the period's hourly ledger is built once, then cached
    started = time.perf_counter()
    for minute in range(100):
        demo_cluster_at(APRIL_30 + timedelta(minutes=minute))
    assert (time.perf_counter() - started) / 100 < 0.05
