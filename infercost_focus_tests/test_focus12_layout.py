"""The conformant FOCUS 1.2 layout: columns, nulls, on-prem identities, prices, JSON columns."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from infercost_focus.core.export import export_focus, source_tags
from infercost_focus.core.layouts import FOCUS_12, FOCUS_12_COLUMNS, RenderOptions
from infercost_focus.core.layouts.focus12 import FOCUS_12_DEFINED
from infercost_focus.core.parsing import parse_objects
from infercost_focus.core.validation import check_frame
from infercost_focus_tests.edge_cases import edge_case_objects, realistic_objects

OPTIONS = RenderOptions(
    region="eu-west-1",
    platform_name="Acme AI Platform",
    billing_account_id="cluster-eu-1",
    billing_account_name="Acme EU inference",
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    objects = realistic_objects()
    options = RenderOptions(**{**OPTIONS.__dict__, "extra_tags": source_tags(objects)})
    return export_focus(objects, layout_name=FOCUS_12, options=options).frame


def _row(frame: pd.DataFrame, resource_id: str) -> pd.Series:
    (index,) = frame.index[frame["ResourceId"] == resource_id]
    return frame.loc[index]


def test_focus_columns_come_first_and_every_other_column_is_an_x_underscore_column() -> None:
    custom = [name for name in FOCUS_12_COLUMNS if name not in FOCUS_12_DEFINED]
    assert custom == [name for name in FOCUS_12_COLUMNS if name.startswith("x_")]
    assert FOCUS_12_COLUMNS[-len(custom) :] == tuple(custom)
    for mandatory in (
        "BillingAccountId",
        "BillingAccountName",
        "BillingCurrency",
        "PricingQuantity",
        "ServiceSubcategory",
        "InvoiceId",
        "SkuMeter",
        "SkuPriceDetails",
        "ConsumedQuantity",
        "RegionId",
        "RegionName",
    ):
        assert mandatory in FOCUS_12_COLUMNS


def test_the_realistic_dataset_passes_the_projects_own_check(frame: pd.DataFrame) -> None:
    reports = parse_objects(realistic_objects()).usage_reports
    result = check_frame(frame, FOCUS_12, reports=reports)
    assert result.passed, result.describe()


def test_cells_without_value_are_real_nulls_never_empty_strings(frame: pd.DataFrame) -> None:
    assert not (frame.astype(object) == "").any().any()
    assert frame["ChargeClass"].isna().all()
    assert frame["InvoiceId"].isna().all()
    assert frame["CommitmentDiscountStatus"].isna().all()
    rollup = _row(frame, "edge/rollup")
    assert pd.isna(rollup["SkuId"]) and pd.isna(rollup["SkuPriceDetails"])


def test_provider_publisher_and_invoice_issuer_are_the_platform(frame: pd.DataFrame) -> None:
    for column in ("ProviderName", "PublisherName", "InvoiceIssuerName"):
        assert set(frame[column]) == {"Acme AI Platform"}
    assert set(frame["BillingAccountId"]) == {"cluster-eu-1"}
    assert set(frame["RegionId"]) == set(frame["RegionName"]) == {"eu-west-1"}


def test_pricing_is_per_million_tokens_and_consistent_with_the_costs(frame: pd.DataFrame) -> None:
    assert set(frame["PricingUnit"]) == {"1000000 Tokens"}
    assert set(frame["PricingCategory"]) == {"Standard"}
    for _, row in frame.iterrows():
        tokens = Decimal(row["ConsumedQuantity"])
        assert Decimal(row["PricingQuantity"]) == tokens / 1_000_000
        if pd.notna(row["ListUnitPrice"]):
            product = Decimal(row["ListUnitPrice"]) * Decimal(row["PricingQuantity"])
            assert abs(product - Decimal(row["ListCost"])) <= Decimal("1e-12")
        assert "." in row["ConsumedQuantity"] and "." in row["BilledCost"]


def test_sku_price_details_is_a_flat_object_with_the_focus_gpu_count_key(
    frame: pd.DataFrame,
) -> None:
    row = _row(frame, "edge-b/huge/m")
    assert json.loads(row["SkuPriceDetails"]) == {
        "GpuCount": 4,
        "x_GpuModel": "H100",
        "x_CostProfile": "a100-pool",
    }
    assert row["SkuPriceId"] == "edge-b/a100-pool/m"
    assert row["SkuId"] == "m"


def test_tags_carry_prefixed_provider_keys_and_the_reports_labels(frame: pd.DataFrame) -> None:
    demo_row = frame[frame["ResourceId"].str.startswith("search/query-rewrite/")].iloc[0]
    tags = json.loads(demo_row["Tags"])
    assert tags["infercost.io/report-namespace"] == "search"
    assert tags["infercost.io/report"] == "query-rewrite"
    assert tags["infercost.io/source"] == "demo"
    assert tags["infercost.ai/demo"] == "true"  # a Kubernetes label, passed through unchanged
    provider_keys = [k for k in tags if not k.startswith("infercost.io/")]
    assert provider_keys, "the report's labels are missing"


def test_the_same_charges_give_the_same_money_in_both_layouts() -> None:
    objects = edge_case_objects()
    legacy = export_focus(objects).frame
    conformant = export_focus(objects, layout_name=FOCUS_12).frame
    assert sum(map(Decimal, legacy["BilledCost"])) == sum(map(Decimal, conformant["BilledCost"]))
    assert sum(map(int, legacy["UsageQuantity"])) == sum(
        int(Decimal(q)) for q in conformant["ConsumedQuantity"]
    )


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("InvoiceId", "", "must be null, not an empty string"),
        ("BilledCost", "12", "must be a plain decimal number with a decimal point"),
        ("Tags", '{"a": 1, "a": 2}', "must be a JSON object with unique keys and scalar values"),
        ("SkuPriceDetails", '{"GpuCount": [8]}', "must be a JSON object with unique keys"),
        ("ChargeClass", "Refund", "must be 'Correction'"),
        ("PricingQuantity", "1.0", "must be the tokens in millions"),
        ("ListUnitPrice", "999.0", "times PricingQuantity must give ListCost"),
    ],
)
def test_the_conformant_check_catches_what_the_validator_does_not(
    frame: pd.DataFrame, column: str, value: str, rule: str
) -> None:
    broken = frame.copy()
    broken.loc[0, column] = value
    problems = [str(p) for p in check_frame(broken, FOCUS_12).problems]
    assert any(rule in p and p.startswith(column) for p in problems), problems


def test_a_custom_column_without_the_x_underscore_prefix_is_refused(frame: pd.DataFrame) -> None:
    from infercost_focus.core.layouts import focus12
    from infercost_focus.core.layouts.spec import Column, Layout
    from infercost_focus.core.validation import CheckResult, _check_columns

    renamed = frame.rename(columns={"x_InferGpuModel": "x-InferGpuModel"})
    columns = tuple(
        Column("x-InferGpuModel", "text") if c.name == "x_InferGpuModel" else c
        for c in focus12.COLUMNS
    )
    layout = Layout(**{**focus12.LAYOUT.__dict__, "columns": columns})
    result = CheckResult(rows=len(frame))
    _check_columns(result, renamed, layout)
    assert [p.column for p in result.problems] == ["x-InferGpuModel"]
    assert "x_ then PascalCase" in result.problems[0].rule


def test_non_ascii_names_are_percent_encoded_in_focus_text_columns_but_kept_in_tags(
    frame: pd.DataFrame,
) -> None:
    rows = frame[frame["ResourceId"].str.contains("%E6%A8%A1", regex=False)]
    assert len(rows) == 2  # the week is split at the end of April
    row = rows.iloc[0]
    assert row["ResourceName"] == "%E6%A8%A1%E5%9E%8B-%C3%BC"
    assert row["SkuId"] == "%E6%A8%A1%E5%9E%8B-%C3%BC"
    assert json.loads(row["Tags"])["infercost.io/model"] == "模型-ü"
    assert all(value.isascii() for value in frame["ChargeDescription"])


def test_a_non_ascii_focus_text_cell_is_refused_by_the_check(frame: pd.DataFrame) -> None:
    broken = frame.copy()
    broken.loc[0, "ResourceName"] = "modèle"
    problems = [str(p) for p in check_frame(broken, FOCUS_12).problems]
    assert any(p.startswith("ResourceName: must hold ASCII characters only") for p in problems)
