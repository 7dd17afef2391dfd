"""The transform through the InferCost layout: rows, values, splits, sums and order."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pandas as pd

from infercost_focus.core.csv_writer import csv_bytes
from infercost_focus.core.export import export_focus
from infercost_focus.core.layouts import INFERCOST_COLUMNS, RenderOptions
from infercost_focus.core.parsing import parse_objects
from infercost_focus.core.validation import check_infercost_frame
from infercost_focus_tests.builders import cloud_entry, cost_profile, model_entry, usage_report


def _rows(objects: list[dict], **options: object) -> list[dict[str, str]]:
    frame = export_focus(objects, options=RenderOptions(**options)).frame  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(csv_bytes(frame).decode())))


def _passes_check(objects: list[dict]) -> None:
    result = export_focus(objects)
    check = check_infercost_frame(result.frame, reports=parse_objects(objects).usage_reports)
    assert check.passed, check.describe()


def test_the_layout_has_exactly_the_44_columns_in_contract_order() -> None:
    frame = export_focus([usage_report(), cost_profile()]).frame
    assert list(frame.columns) == list(INFERCOST_COLUMNS)
    assert len(frame.columns) == 44
    assert frame.columns[0] == "BilledCost" and frame.columns[28] == "SubAccountId"


def test_each_model_entry_becomes_a_row_with_its_own_namespace_and_cost() -> None:
    report = usage_report(
        by_model=[
            model_entry("llama-3-70b", 1000, 500, "10.25", namespace="team-a"),
            model_entry("mistral-7b", 200, 100, "0.75", namespace="team-b"),
        ]
    )
    rows = _rows([report, cost_profile()])
    assert [(r["ResourceId"], r["SubAccountId"], r["BilledCost"]) for r in rows] == [
        ("team-a/chat-monthly/llama-3-70b", "team-a", "10.25"),
        ("team-b/chat-monthly/mistral-7b", "team-b", "0.75"),
    ]
    first = rows[0]
    assert first["EffectiveCost"] == first["ListCost"] == first["ContractedCost"] == "10.25"
    assert first["ResourceName"] == first["SkuId"] == first["SkuPriceId"] == "llama-3-70b"
    assert first["UsageQuantity"] == "1500"
    assert (first["x-InferTokensInput"], first["x-InferTokensOutput"]) == ("1000", "500")
    assert first["ChargePeriodStart"] == "2026-04-01T00:00:00Z"
    assert first["ChargePeriodEnd"] == "2026-04-20T10:00:00Z"
    assert first["BillingPeriodStart"] == "2026-04-01T00:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-05-01T00:00:00Z"
    assert (first["Currency"], first["ProviderName"], first["ChargeClass"]) == (
        "USD",
        "InferCost",
        "",
    )
    assert "," not in first["ChargeDescription"]


def test_a_report_without_breakdown_gives_one_rollup_row_from_its_totals() -> None:
    report = usage_report(by_model=[], input_tokens=700, output_tokens=300, cost="4.2")
    (row,) = _rows([report, cost_profile()])
    assert row["ResourceId"] == "team-a/chat-monthly"
    assert row["ResourceName"] == "chat-monthly"
    assert row["SkuId"] == row["SkuPriceId"] == ""
    assert (row["BilledCost"], row["UsageQuantity"]) == ("4.2", "1000")
    assert "model" not in json.loads(row["Tags"])


def test_totals_the_breakdown_does_not_cover_become_a_row_without_model() -> None:
    report = usage_report(
        by_model=[model_entry("m", 100, 0, "1")], input_tokens=150, output_tokens=10, cost="1.5"
    )
    result = export_focus([report])
    assert len(result.frame) == 2
    assert result.frame["UsageQuantity"].tolist() == ["100", "60"]
    assert result.frame["BilledCost"].tolist() == ["1", "0.5"]
    assert any("covers 100 of 160 tokens" in warning for warning in result.warnings)
    _passes_check([report])


def test_a_breakdown_with_more_tokens_than_the_totals_rejects_the_report() -> None:
    broken = usage_report(name="broken", by_model=[model_entry("m", 100, 0, "1")], input_tokens=50)
    result = export_focus([broken, usage_report()])
    assert [r.ref for r in result.rejects] == ["team-a/broken"]
    assert "status.byModel" in str(result.rejects[0])
    assert len(result.frame) == 1


def test_a_missing_cost_profile_leaves_profile_columns_empty_and_warns() -> None:
    result = export_focus([usage_report(profile="gone")])
    row = result.frame.iloc[0]
    assert row["x-InferCostProfile"] == "gone"
    for column in (
        "x-InferGpuModel",
        "x-InferGpuCount",
        "x-InferAmortizationYears",
        "x-InferElectricityRatePerKWh",
        "x-InferPUEFactor",
    ):
        assert row[column] == ""
    assert any("team-a/chat-monthly" in w and "team-a/gone" in w for w in result.warnings)


def test_same_named_profiles_in_two_namespaces_are_different_profiles() -> None:
    objects = [
        usage_report(namespace="team-a"),
        usage_report(namespace="team-b"),
        cost_profile(namespace="team-a", gpu_model="A100-80GB", gpu_count=8),
        cost_profile(namespace="team-b", gpu_model="H100", gpu_count=4, pue="1.25"),
    ]
    rows = _rows(objects)
    by_namespace = {r["SubAccountId"]: r for r in rows}
    assert by_namespace["team-a"]["x-InferGpuModel"] == "A100-80GB"
    assert by_namespace["team-b"]["x-InferGpuModel"] == "H100"
    assert by_namespace["team-b"]["x-InferGpuCount"] == "4"
    assert by_namespace["team-b"]["x-InferPUEFactor"] == "1.25"


def test_odd_model_names_survive_the_csv_round_trip() -> None:
    names = ["mixtral, 8x7b", 'say "hi"', "模型-ü", "=HYPERLINK(1)", "line\nbreak"]
    report = usage_report(by_model=[model_entry(name, 10, 1, "1") for name in names])
    rows = _rows([report])
    resource_names = sorted(r["ResourceName"] for r in rows)
    assert resource_names == sorted(
        ["mixtral, 8x7b", 'say "hi"', "模型-ü", "'=HYPERLINK(1)", "line\nbreak"]
    )
    by_model = {json.loads(r["Tags"])["model"]: r for r in rows}
    assert set(by_model) == set(names)  # Tags keep the real value as JSON
    assert by_model["=HYPERLINK(1)"]["SkuId"] == "'=HYPERLINK(1)"


def test_formula_neutralisation_can_be_turned_off_and_never_touches_numbers() -> None:
    report = usage_report(
        by_model=[model_entry("+cmd", 10, 1, "1")],
        cloud=[cloud_entry("-p", "@m", "0.5", "-0.5")],
    )
    guarded = _rows([report])[0]
    assert guarded["ResourceName"] == "'+cmd"
    assert guarded["x-InferCloudEquivalentProvider"] == "'-p"
    assert guarded["x-InferSavingsUSD"] == "-0.5"  # a number, left alone
    raw = _rows([report], neutralise_formulas=False)[0]
    assert raw["ResourceName"] == "+cmd" and raw["x-InferCloudEquivalentModel"] == "@m"


def test_a_week_crossing_a_month_boundary_is_split_pro_rata_by_time() -> None:
    report = usage_report(
        name="weekly",
        period="2026-W18",
        start="2026-04-27T00:00:00Z",
        end="2026-05-04T00:00:00Z",
        by_model=[model_entry("m", 700, 7, "7")],
        cloud=[cloud_entry("openai", "gpt-4o", "14", "7")],
        schedule="weekly",
    )
    rows = _rows([report])
    assert [
        (r["ChargePeriodStart"], r["ChargePeriodEnd"], r["BillingPeriodStart"]) for r in rows
    ] == [
        ("2026-04-27T00:00:00Z", "2026-05-01T00:00:00Z", "2026-04-01T00:00:00Z"),
        ("2026-05-01T00:00:00Z", "2026-05-04T00:00:00Z", "2026-05-01T00:00:00Z"),
    ]
    # 4 of 7 days in April, 3 in May.
    assert [r["BilledCost"] for r in rows] == ["4", "3"]
    assert [r["x-InferTokensInput"] for r in rows] == ["400", "300"]
    assert [r["x-InferTokensOutput"] for r in rows] == ["4", "3"]
    assert [r["x-InferCloudEquivalentCostUSD"] for r in rows] == ["8", "6"]
    _passes_check([report])


def test_split_shares_that_do_not_divide_evenly_still_add_up_exactly() -> None:
    report = usage_report(
        period="2026-W18",
        start="2026-04-27T00:00:00Z",
        end="2026-05-04T00:00:00Z",
        by_model=[model_entry("a", 1, 1, "0.01"), model_entry("b", 333, 0, "1")],
        cloud=[cloud_entry("x", "y", "1", "0.5")],
    )
    rows = _rows([report])
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("1.01")
    assert sum(Decimal(r["x-InferCloudEquivalentCostUSD"]) for r in rows) == Decimal("1")
    assert sum(int(r["UsageQuantity"]) for r in rows) == 335
    assert all("e" not in r["BilledCost"].lower() for r in rows)
    _passes_check([report])


def test_cloud_cost_is_shared_by_tokens_and_the_biggest_saving_is_chosen() -> None:
    report = usage_report(
        by_model=[model_entry("a", 100, 0, "1"), model_entry("b", 200, 0, "1")],
        cloud=[cloud_entry("small", "s", "3", "1"), cloud_entry("big", "b", "9", "7")],
    )
    rows = _rows([report])
    assert {r["x-InferCloudEquivalentProvider"] for r in rows} == {"big"}
    assert [r["x-InferCloudEquivalentCostUSD"] for r in rows] == ["3", "6"]
    assert [r["x-InferSavingsUSD"] for r in rows] == ["2", "5"]
    assert [r["x-InferSavingsPercent"] for r in rows] == ["66.666667", "83.333333"]


def test_a_report_without_cloud_comparison_leaves_the_cloud_columns_empty() -> None:
    (row,) = _rows([usage_report(cloud=[])])
    for column in (
        "x-InferCloudEquivalentProvider",
        "x-InferCloudEquivalentCostUSD",
        "x-InferSavingsUSD",
        "x-InferSavingsPercent",
    ):
        assert row[column] == ""


def test_huge_token_counts_and_tiny_costs_are_written_exactly() -> None:
    huge = 2**70 + 3
    report = usage_report(
        by_model=[model_entry("m", huge, 1, "0.00000000000000001")],
        cloud=[cloud_entry("p", "m", "0.00000000000000003", "0.00000000000000002")],
    )
    (row,) = _rows([report])
    assert row["x-InferTokensInput"] == str(huge)
    assert row["UsageQuantity"] == str(huge + 1)
    assert row["BilledCost"] == "0.00000000000000001"
    assert row["x-InferCloudEquivalentCostUSD"] == "0.00000000000000003"
    _passes_check([report])


def test_tags_are_a_json_object_naming_the_report_model_and_profile() -> None:
    (row,) = _rows([usage_report(), cost_profile()], extra_tags={"infercost.io/source": "demo"})
    assert json.loads(row["Tags"]) == {
        "report": "chat-monthly",
        "reportNamespace": "team-a",
        "period": "2026-04",
        "schedule": "monthly",
        "model": "llama-3-70b",
        "gpuModel": "A100-80GB",
        "costProfile": "a100-pool",
        "infercost.io/source": "demo",
    }


def test_region_fills_the_region_column() -> None:
    assert _rows([usage_report()], region="eu-west-1")[0]["Region"] == "eu-west-1"


def test_rows_come_in_a_fixed_order_whatever_the_input_order() -> None:
    objects = [
        usage_report(name="b", namespace="team-b"),
        usage_report(
            name="a",
            namespace="team-b",
            by_model=[model_entry("z", 1, 1, "1"), model_entry("a", 1, 1, "1")],
        ),
        usage_report(name="c", namespace="team-a"),
        cost_profile(),
    ]
    forward = csv_bytes(export_focus(objects).frame)
    backward = csv_bytes(export_focus(list(reversed(objects))).frame)
    assert forward == backward
    ids = [r["ResourceId"] for r in csv.DictReader(io.StringIO(forward.decode()))]
    assert ids == ["team-a/c/llama-3-70b", "team-b/a/a", "team-b/a/z", "team-b/b/llama-3-70b"]


def test_every_cost_and_token_column_sums_to_the_report_figures() -> None:
    report = usage_report(
        period="2026-W14",
        start="2026-03-30T00:00:00Z",
        end="2026-04-06T00:00:00Z",
        by_model=[model_entry(f"m{i}", 1000 * i + 7, 13 * i, f"{i}.{i}7") for i in range(1, 8)],
        cloud=[cloud_entry("p", "m", "123.456789", "100")],
    )
    frame = export_focus([report]).frame
    columns = [
        "BilledCost",
        "x-InferTokensInput",
        "x-InferTokensOutput",
        "x-InferCloudEquivalentCostUSD",
        "x-InferSavingsUSD",
    ]
    as_decimal = frame[columns].map(Decimal)
    assert len(frame) == 14  # 7 models, each split at the end of March
    totals = report["status"]
    assert as_decimal["BilledCost"].sum() == totals["estimatedCostUSD"]
    assert as_decimal["x-InferTokensInput"].sum() == totals["inputTokens"]
    assert as_decimal["x-InferTokensOutput"].sum() == totals["outputTokens"]
    assert as_decimal["x-InferCloudEquivalentCostUSD"].sum() == Decimal("123.456789")
    assert (
        as_decimal["x-InferSavingsUSD"].sum() == Decimal("123.456789") - totals["estimatedCostUSD"]
    )


def test_a_zero_length_period_at_a_month_start_stays_in_that_month() -> None:
    report = usage_report(
        start="2026-05-01T00:00:00Z", end="2026-05-01T00:00:00Z", period="2026-05"
    )
    (row,) = _rows([report])
    assert row["BillingPeriodStart"] == "2026-05-01T00:00:00Z"
    assert row["ChargePeriodEnd"] == "2026-05-01T00:00:00Z"


def test_an_empty_export_is_a_frame_with_the_layout_columns_and_no_rows() -> None:
    frame = export_focus([]).frame
    assert isinstance(frame, pd.DataFrame) and frame.empty
    assert csv_bytes(frame).decode() == ",".join(INFERCOST_COLUMNS) + "\n"
