"""The assets through real Dagster materializations on a temporary instance and store."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from infercost_focus.captures import CaptureStore
from infercost_focus.captures.demo_history import fill_demo_history
from infercost_focus.core.jsonio import dumps_exact
from infercost_focus.core.layouts import INFERCOST_COLUMNS
from infercost_focus.pipeline.assets import monthly
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report
from infercost_focus_tests.dagster_support import (
    assets,
    focus_file,
    materialize_month,
    resources,
)


def _demo_store(tmp_path: Path, first: str, end: str) -> None:
    store = CaptureStore(tmp_path / "captures")
    fill_demo_history(
        store,
        datetime.fromisoformat(first).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
    )


def _write_dump(path: Path, *objects: dict) -> str:
    path.write_text(dumps_exact({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    return str(path)


def _capture_and_build_april(
    tmp_path: Path, instance: dg.DagsterInstance, *objects: dict
) -> dg.ExecuteInProcessResult:
    """One capture of `objects` (from a kubectl dump), then the month 2026-04 from it."""
    source = {"kind": "files", "paths": _write_dump(tmp_path / "cluster.json", *objects)}
    dg.materialize(
        assets("usage_report_capture"), resources=resources(tmp_path, **source), instance=instance
    )
    return materialize_month(tmp_path, "2026-04", instance=instance, **source)


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check(
    result: dg.ExecuteInProcessResult, name: str, asset: str = "focus_monthly"
) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == name and e.asset_key == dg.AssetKey(asset)
    ]
    return evaluation


def test_a_capture_of_the_demo_source_lands_in_the_store_labelled_as_demo(tmp_path: Path) -> None:
    result = dg.materialize(assets("usage_report_capture"), resources=resources(tmp_path))
    metadata = _metadata(result, "usage_report_capture")
    assert metadata["source"] == "demo"
    assert metadata["demo_data"] is True
    assert metadata["usage_reports"] >= 10
    assert len(CaptureStore(tmp_path / "captures").captures()) == 1


def test_a_month_of_demo_history_becomes_a_checked_focus_file(tmp_path: Path) -> None:
    _demo_store(tmp_path, "2026-04-01", "2026-05-08")
    result = materialize_month(tmp_path, "2026-04")
    assert _check(result, "focus_schema").passed
    assert _check(result, "no_rejected_objects").passed

    rows = list(csv.DictReader(focus_file(tmp_path, "2026-04").open(newline="")))
    assert list(rows[0]) == list(INFERCOST_COLUMNS)
    assert {row["BillingPeriodStart"] for row in rows} == {"2026-04-01T00:00:00Z"}
    assert all('"infercost.io/source":"demo"' in row["Tags"] for row in rows)
    # Daily reports: every day of April appears, from its final capture of that day.
    days = {row["ChargePeriodStart"][:10] for row in rows if '"schedule":"daily"' in row["Tags"]}
    assert len(days) == 30

    metadata = _metadata(result, "focus_monthly")
    assert metadata["rows"] == len(rows)
    assert Decimal(metadata["total_cost_usd"]) == sum(Decimal(r["BilledCost"]) for r in rows)
    assert "| search |" in metadata["spend_by_namespace"]
    assert metadata["demo_data"] is True
    reports = _metadata(result, "usage_reports_monthly")
    assert reports["captures_read"] > 0 and "ml-research" in reports["namespaces"]


def test_captures_keep_a_period_after_the_cluster_has_rolled_over(tmp_path: Path) -> None:
    dump = tmp_path / "cluster.json"
    april = usage_report(
        by_model=[model_entry("llama", 3000, 1000, "30.5")],
        start="2026-04-01T00:00:00Z",
        end="2026-04-30T23:45:00Z",
    )
    may = usage_report(
        period="2026-05",
        by_model=[model_entry("llama", 10, 1, "0.1")],
        start="2026-05-01T00:00:00Z",
        end="2026-05-01T00:15:00Z",
    )
    source = {"kind": "files", "paths": str(dump)}
    capture = assets("usage_report_capture")
    instance = dg.DagsterInstance.ephemeral()

    # Capture on the last day of April, then after the rollover, when the cluster shows May.
    _write_dump(dump, april, cost_profile())
    dg.materialize(capture, resources=resources(tmp_path, **source), instance=instance)
    _write_dump(dump, may, cost_profile())
    dg.materialize(capture, resources=resources(tmp_path, **source), instance=instance)

    materialize_month(tmp_path, "2026-04", instance=instance, **source)
    (row,) = list(csv.DictReader(focus_file(tmp_path, "2026-04").open(newline="")))
    assert (row["BilledCost"], row["UsageQuantity"]) == ("30.5", "4000")
    assert row["ChargePeriodEnd"] == "2026-04-30T23:45:00Z"
    materialize_month(tmp_path, "2026-05", instance=instance, **source)
    (row,) = list(csv.DictReader(focus_file(tmp_path, "2026-05").open(newline="")))
    assert row["BilledCost"] == "0.1"


def test_a_failing_schema_check_blocks_the_write_and_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _demo_store(tmp_path, "2026-04-01", "2026-05-08")
    materialize_month(tmp_path, "2026-04")
    previous = focus_file(tmp_path, "2026-04").read_bytes()

    real_export = monthly.export_focus

    def export_with_exponent(*args: object, **kwargs: object) -> object:
        result = real_export(*args, **kwargs)  # type: ignore[arg-type]
        result.frame.loc[0, "BilledCost"] = "1e-05"
        return result

    monkeypatch.setattr(monthly, "export_focus", export_with_exponent)
    result = materialize_month(tmp_path, "2026-04", raise_on_error=False)
    assert not result.success
    check = _check(result, "focus_schema")
    assert not check.passed
    failure = result.failure_data_for_node("focus_monthly")
    assert failure is not None
    assert "BilledCost: must be a plain decimal number" in str(failure.user_failure_data)
    assert focus_file(tmp_path, "2026-04").read_bytes() == previous
    assert sorted(p.name for p in focus_file(tmp_path, "2026-04").parent.iterdir()) == [
        "2026-04.csv",
        "2026-04.csv.metadata.json",
    ]


def test_materializing_a_month_again_gives_the_same_bytes(tmp_path: Path) -> None:
    _demo_store(tmp_path, "2026-04-01", "2026-05-08")
    materialize_month(tmp_path, "2026-04")
    first = focus_file(tmp_path, "2026-04").read_bytes()
    materialize_month(tmp_path, "2026-04")
    assert focus_file(tmp_path, "2026-04").read_bytes() == first


def test_a_broken_object_is_left_out_and_reported_by_the_rejects_check(tmp_path: Path) -> None:
    broken = usage_report(name="broken")
    broken["status"]["byModel"][0]["estimatedCostUSD"] = "lots"
    instance = dg.DagsterInstance.ephemeral()
    result = _capture_and_build_april(
        tmp_path, instance, broken, usage_report(name="fine"), cost_profile()
    )
    assert result.success
    rejects = _check(result, "no_rejected_objects")
    assert not rejects.passed
    assert rejects.severity == dg.AssetCheckSeverity.WARN
    assert "team-a/broken" in str(rejects.metadata["objects"].value)
    assert _metadata(result, "focus_monthly")["rejected_objects"] == 1
    rows = list(csv.DictReader(focus_file(tmp_path, "2026-04").open(newline="")))
    assert [row["ResourceId"] for row in rows] == ["team-a/fine/llama-3-70b"]


def test_many_warnings_make_one_log_message_and_are_counted(tmp_path: Path) -> None:
    # Each report's byModel covers less than its totals: one warning per report.
    reports = [
        usage_report(name=f"partial-{index:03}", input_tokens=2_000_000, cost="20")
        for index in range(monthly.SHOWN_AT_MOST + 7)
    ]
    instance = dg.DagsterInstance.ephemeral()
    result = _capture_and_build_april(tmp_path, instance, *reports, cost_profile())
    assert result.success
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING and entry.step_key == "focus_monthly"
    ]
    assert len(warnings) == 1
    (message,) = warnings
    assert message.startswith(f"2026-04: {len(reports)} warnings:\n")
    assert (
        "team-a/partial-000 period 2026-04: status.byModel covers 1500000 of 2300000 tokens"
        in message
    )
    assert "team-a/partial-056" not in message
    assert message.endswith("... and 7 more")
    metadata = _metadata(result, "focus_monthly")
    assert metadata["warnings"] == len(reports)
    assert str(metadata["warning_details"]).count("status.byModel covers") == monthly.SHOWN_AT_MOST


def test_a_month_without_captures_says_so(tmp_path: Path) -> None:
    result = materialize_month(tmp_path, "2026-02")
    metadata = _metadata(result, "usage_reports_monthly")
    assert metadata["captures_read"] == 0
    assert "holds no captures for 2026-02" in metadata["notice"]
    assert focus_file(tmp_path, "2026-02").read_text() == ",".join(INFERCOST_COLUMNS) + "\n"


def test_a_range_of_months_loads_into_the_downstream_finance_asset(tmp_path: Path) -> None:
    _demo_store(tmp_path, "2026-01-01", "2026-04-08")
    instance = dg.DagsterInstance.ephemeral()
    for month in ("2026-01", "2026-02", "2026-03"):
        materialize_month(tmp_path, month, instance=instance)
    result = dg.materialize(
        assets("usage_reports_monthly", "focus_monthly", "spend_trailing_quarter"),
        selection=["spend_trailing_quarter"],
        partition_key="2026-03",
        resources=resources(tmp_path),
        instance=instance,
    )
    assert _metadata(result, "spend_trailing_quarter")["months"] == "2026-01, 2026-02, 2026-03"
    table = pd.read_csv(tmp_path / "focus" / "spend_trailing_quarter" / "2026-03.csv", dtype=str)
    assert set(table["BillingMonth"]) == {"2026-01", "2026-02", "2026-03"}
    january = pd.read_csv(focus_file(tmp_path, "2026-01"), dtype=str, keep_default_na=False)
    total = sum(Decimal(v) for v in table[table["BillingMonth"] == "2026-01"]["BilledCost"])
    assert total == sum(Decimal(v) for v in january["BilledCost"])


def test_the_cli_reads_the_capture_store_into_the_same_bytes_as_the_monthly_file(
    tmp_path: Path,
) -> None:
    from infercost_focus.cli import main

    _demo_store(tmp_path, "2026-04-01", "2026-05-08")
    materialize_month(tmp_path, "2026-04")
    out = tmp_path / "cli.csv"
    arguments = [
        "export",
        "focus",
        "--captures",
        str(tmp_path / "captures"),
        "--billing-month",
        "2026-04",
        "--out",
        str(out),
    ]
    assert main(arguments) == 0
    assert out.read_bytes() == focus_file(tmp_path, "2026-04").read_bytes()


def test_the_io_manager_writes_every_configured_format_for_both_layouts(tmp_path: Path) -> None:
    from infercost_focus.core.layouts import FOCUS_12_COLUMNS
    from infercost_focus.core.writers import decode

    _demo_store(tmp_path, "2026-04-01", "2026-05-08")
    result = materialize_month(tmp_path, "2026-04", formats="csv,csv.gz,parquet")
    assert _check(result, "focus_schema", "focus_1_2_monthly").passed
    conformant = focus_file(tmp_path, "2026-04", "focus_1_2_monthly", ".parquet")
    frame = decode(conformant.read_bytes(), "parquet")
    assert list(frame.columns) == list(FOCUS_12_COLUMNS)
    legacy_csv = focus_file(tmp_path, "2026-04").read_bytes()
    import gzip

    assert gzip.decompress(focus_file(tmp_path, "2026-04", suffix=".csv.gz").read_bytes()) == (
        legacy_csv
    )
    names = sorted(p.name for p in conformant.parent.iterdir())
    assert names == sorted(
        f"2026-04{suffix}{extra}"
        for suffix in (".csv", ".csv.gz", ".parquet")
        for extra in ("", ".metadata.json")
    )
