"""The code location loads, with the assets, checks, jobs, schedules and executor it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from infercost_focus.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_the_definitions_load_and_validate() -> None:
    dg.Definitions.validate_loadable(defs)


def test_the_location_holds_the_captures_monthly_and_finance_assets() -> None:
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert keys == {
        "usage_report_capture",
        "usage_reports_monthly",
        "focus_monthly",
        "focus_1_2_monthly",
        "spend_trailing_quarter",
    }


@pytest.mark.parametrize("asset", ["focus_monthly", "focus_1_2_monthly"])
def test_each_focus_asset_carries_a_blocking_schema_check_and_a_rejects_check(asset: str) -> None:
    specs = {spec.name: spec for spec in defs.get_assets_def(asset).check_specs}
    assert specs["focus_schema"].blocking is True
    assert "no_rejected_objects" in specs


def test_monthly_assets_are_partitioned_by_billing_month_in_utc() -> None:
    partitions = defs.get_assets_def("focus_monthly").partitions_def
    assert isinstance(partitions, dg.MonthlyPartitionsDefinition)
    assert partitions.timezone == "UTC"
    keys = partitions.get_partition_keys()
    assert keys[0] == "2025-10" and "2026-04" in keys


def test_jobs_and_schedules_are_defined() -> None:
    for job in ("capture_usage_reports", "monthly_focus", "finance_spend", "demo_capture_history"):
        assert defs.resolve_job_def(job) is not None
    schedules = {s.name: s for s in defs.schedules or []}  # type: ignore[union-attr]
    assert schedules["capture_every_15_minutes"].cron_schedule == "*/15 * * * *"
    assert schedules["monthly_focus_after_close"].cron_schedule == "0 6 2 * *"
    assert schedules["monthly_focus_after_close"].default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_location_runs_in_process_by_default() -> None:
    assert defs.executor is dg.in_process_executor  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_start_month_and_crons_come_from_the_environment() -> None:
    script = (
        "from infercost_focus.definitions import defs\n"
        "p = defs.get_assets_def('focus_monthly').partitions_def\n"
        "print(p.get_partition_keys()[0])\n"
        "print(sorted(s.cron_schedule for s in defs.schedules))\n"
    )
    env = {
        "INFERCOST_START_MONTH": "2026-02",
        "INFERCOST_CAPTURE_CRON": "*/5 * * * *",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.splitlines() == ["2026-02", "['*/5 * * * *', '0 6 2 * *']"]


@pytest.mark.slow
def test_dagster_validates_the_workspace_and_the_module() -> None:
    dagster = str(Path(sys.executable).parent / "dagster")
    for arguments in (["-w", "workspace.yaml"], ["-m", "infercost_focus.definitions"], []):
        done = subprocess.run(
            [dagster, "definitions", "validate", *arguments],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Validation successful" in done.stdout + done.stderr


REGION_SCRIPT = """
import csv, sys
from datetime import datetime, timedelta, UTC
import dagster as dg
from infercost_focus.captures import CaptureStore
from infercost_focus.captures.demo_history import fill_demo_history
from infercost_focus.definitions import defs
from infercost_focus.pipeline.io_managers import FocusCsvIOManager
from infercost_focus.pipeline.resources import CaptureStoreResource

root = sys.argv[1]
start = datetime(2026, 4, 1, tzinfo=UTC)
fill_demo_history(CaptureStore(root + "/captures"), start, start + timedelta(days=2))
dg.materialize(
    [defs.get_assets_def(name) for name in ("usage_reports_monthly", "focus_monthly")],
    partition_key="2026-04",
    resources={
        "capture_store": CaptureStoreResource(path=root + "/captures"),
        "focus_io_manager": FocusCsvIOManager(base_path=root + "/focus"),
    },
    instance=dg.DagsterInstance.ephemeral(),
)
with open(root + "/focus/focus_monthly/2026-04.csv", newline="") as file:
    print(sorted({row["Region"] for row in csv.DictReader(file)}))
"""


@pytest.mark.slow
def test_the_region_column_comes_from_the_environment_without_run_config(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", REGION_SCRIPT, str(tmp_path)],
        env={"INFERCOST_REGION": "eu-west-1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['eu-west-1']"
