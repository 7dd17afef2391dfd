"""The `infercost` layout: the InferCost v1 export, exactly 44 columns in this order.

Users' scripts address the columns by position (`$1` is BilledCost, `$29` is SubAccountId), so the
order is a contract and never changes. Cells without value are empty strings.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from infercost_focus.core.charges import Charges
from infercost_focus.core.layouts.cells import Cells, finish
from infercost_focus.core.layouts.spec import Column, Layout, RenderOptions, focus_roles

NAME = "infercost"


def _fixed(name: str, value: str) -> Column:
    return Column(name, "text", required=bool(value), allowed=(value,) if value else ())


COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", "decimal", required=True),
    Column("EffectiveCost", "decimal", required=True),
    Column("ListCost", "decimal", required=True),
    Column("ContractedCost", "decimal", required=True),
    Column("ChargePeriodStart", "time", required=True),
    Column("ChargePeriodEnd", "time", required=True),
    Column("BillingPeriodStart", "time", required=True),
    Column("BillingPeriodEnd", "time", required=True),
    _fixed("Currency", "USD"),
    _fixed("ServiceName", "On-Prem AI Inference"),
    _fixed("ServiceCategory", "AI and Machine Learning"),
    _fixed("ProviderName", "InferCost"),
    _fixed("PublisherName", "Self-Hosted"),
    _fixed("InvoiceIssuerName", "Self-Hosted"),
    Column("ResourceId", "text", required=True, free_text=True),
    Column("ResourceName", "text", required=True, free_text=True),
    _fixed("ResourceType", "AI Inference Endpoint"),
    Column("Region", "text", free_text=True),
    Column("UsageQuantity", "integer", required=True),
    _fixed("UsageUnit", "Tokens"),
    _fixed("PricingUnit", "1M Tokens"),
    _fixed("PricingCategory", "Usage-Based"),
    _fixed("ChargeCategory", "Usage"),
    Column("ChargeClass", "text", allowed=("Correction",)),
    Column("ChargeDescription", "text", required=True, free_text=True),
    _fixed("ChargeFrequency", "Usage-Based"),
    Column("SkuId", "text", free_text=True),
    Column("SkuPriceId", "text", free_text=True),
    Column("SubAccountId", "text", required=True, free_text=True),
    Column("SubAccountName", "text", required=True, free_text=True),
    Column("Tags", "json", required=True),
    Column("x-InferCostProfile", "text", free_text=True),
    Column("x-InferGpuModel", "text", free_text=True),
    Column("x-InferGpuCount", "integer"),
    Column("x-InferTokensInput", "integer", required=True),
    Column("x-InferTokensOutput", "integer", required=True),
    Column("x-InferAmortizationYears", "decimal"),
    Column("x-InferElectricityRatePerKWh", "decimal"),
    Column("x-InferPUEFactor", "decimal"),
    Column("x-InferCloudEquivalentProvider", "text", free_text=True),
    Column("x-InferCloudEquivalentModel", "text", free_text=True),
    Column("x-InferCloudEquivalentCostUSD", "decimal"),
    Column("x-InferSavingsUSD", "decimal"),
    Column("x-InferSavingsPercent", "decimal"),
)


def render(charges: Charges, options: RenderOptions) -> pd.DataFrame:
    """The InferCost layout: a frame of text cells (empty string where a cell has no value)."""
    cells = Cells(charges)
    cost = cells.money("cost")
    columns: dict[str, pa.Array] = {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ChargePeriodStart": cells.time("charge_start"),
        "ChargePeriodEnd": cells.time("charge_end"),
        "BillingPeriodStart": cells.time("billing_start"),
        "BillingPeriodEnd": cells.time("billing_end"),
        "ResourceId": cells.resource_id(),
        "ResourceName": cells.resource_name(),
        "Region": cells.constant(options.region),
        "UsageQuantity": cells.count(cells.tokens),
        "ChargeDescription": cells.description(),
        "SkuId": cells.strings("model"),
        "SkuPriceId": cells.strings("model"),
        "SubAccountId": cells.strings("namespace"),
        "SubAccountName": cells.strings("namespace"),
        "Tags": _tags(cells, options),
        "x-InferCostProfile": cells.strings("cost_profile_ref"),
        "x-InferGpuModel": cells.strings("gpu_model"),
        "x-InferGpuCount": cells.integer_strings("gpu_count"),
        "x-InferTokensInput": cells.count(cells.input_tokens),
        "x-InferTokensOutput": cells.count(cells.output_tokens),
        "x-InferAmortizationYears": cells.decimal_strings("amortization_years"),
        "x-InferElectricityRatePerKWh": cells.decimal_strings("rate_per_kwh"),
        "x-InferPUEFactor": cells.decimal_strings("pue_factor"),
        "x-InferCloudEquivalentProvider": cells.strings("cloud_provider"),
        "x-InferCloudEquivalentModel": cells.strings("cloud_model"),
        "x-InferCloudEquivalentCostUSD": cells.cloud_cost(),
        "x-InferSavingsUSD": cells.savings(),
        "x-InferSavingsPercent": cells.savings_percent(),
        "ChargeClass": cells.constant(""),
    }
    for column in COLUMNS:
        if column.allowed and column.name not in columns:
            columns[column.name] = cells.constant(column.allowed[0])
    return finish(
        columns,
        LAYOUT.names,
        LAYOUT.free_text,
        neutralise=options.neutralise_formulas,
        empty_for_null=True,
    )


def _tags(cells: Cells, options: RenderOptions) -> pa.Array:
    """Tags as a JSON object: the report (name, namespace, period), schedule, model, gpuModel,
    costProfile, plus extra tags."""
    members = [
        ("report", "report_name"),
        ("reportNamespace", "report_namespace"),
        ("period", "period"),
        ("schedule", "schedule"),
        ("model", "model"),
        ("gpuModel", "gpu_model"),
        ("costProfile", "cost_profile_ref"),
    ]
    return cells.json_object(members, sorted(options.extra_tags.items()))


LAYOUT = Layout(
    name=NAME,
    columns=COLUMNS,
    render=render,
    nulls="empty",
    focus_version=None,
    description="InferCost v1 export layout (44 columns in a fixed order; pre-1.0 FOCUS names)",
    roles=focus_roles("UsageQuantity", "x-InferTokensInput", "x-InferTokensOutput"),
    report_tag_keys=("reportNamespace", "report", "period"),
)
