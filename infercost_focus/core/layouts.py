"""Column layouts: how charges become the cells of a FOCUS file.

`infercost` is the InferCost v1 export layout: exactly these 44 columns in this order. Users'
scripts address columns by position (`$1` is BilledCost, `$29` is SubAccountId), so the order is a
contract and never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.core import money, text
from infercost_focus.core.charges import PERCENT_PLACES, Charges
from infercost_focus.core.jsonio import decimal_text

INFERCOST = "infercost"
LAYOUTS = (INFERCOST,)

INFERCOST_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "Currency",
    "ServiceName",
    "ServiceCategory",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "Region",
    "UsageQuantity",
    "UsageUnit",
    "PricingUnit",
    "PricingCategory",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x-InferCostProfile",
    "x-InferGpuModel",
    "x-InferGpuCount",
    "x-InferTokensInput",
    "x-InferTokensOutput",
    "x-InferAmortizationYears",
    "x-InferElectricityRatePerKWh",
    "x-InferPUEFactor",
    "x-InferCloudEquivalentProvider",
    "x-InferCloudEquivalentModel",
    "x-InferCloudEquivalentCostUSD",
    "x-InferSavingsUSD",
    "x-InferSavingsPercent",
)

INFERCOST_CONSTANTS: dict[str, str] = {
    "Currency": "USD",
    "ServiceName": "On-Prem AI Inference",
    "ServiceCategory": "AI and Machine Learning",
    "ProviderName": "InferCost",
    "PublisherName": "Self-Hosted",
    "InvoiceIssuerName": "Self-Hosted",
    "ResourceType": "AI Inference Endpoint",
    "UsageUnit": "Tokens",
    "PricingUnit": "1M Tokens",
    "PricingCategory": "Usage-Based",
    "ChargeCategory": "Usage",
    "ChargeClass": "",
    "ChargeFrequency": "Usage-Based",
}

# Columns whose text comes from users' objects (names, models, labels): a spreadsheet could run it.
INFERCOST_FREE_TEXT: tuple[str, ...] = (
    "ResourceId",
    "ResourceName",
    "Region",
    "ChargeDescription",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "x-InferCostProfile",
    "x-InferGpuModel",
    "x-InferCloudEquivalentProvider",
    "x-InferCloudEquivalentModel",
)

INFERCOST_DECIMAL: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "x-InferAmortizationYears",
    "x-InferElectricityRatePerKWh",
    "x-InferPUEFactor",
    "x-InferCloudEquivalentCostUSD",
    "x-InferSavingsUSD",
    "x-InferSavingsPercent",
)
INFERCOST_INTEGER: tuple[str, ...] = (
    "UsageQuantity",
    "x-InferGpuCount",
    "x-InferTokensInput",
    "x-InferTokensOutput",
)
INFERCOST_TIME: tuple[str, ...] = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
)


@dataclass(frozen=True)
class RenderOptions:
    """Choices that change cells: the region column, extra Tags, formula neutralisation."""

    region: str = ""
    extra_tags: dict[str, str] = field(default_factory=dict)
    neutralise_formulas: bool = True


def render_infercost(charges: Charges, options: RenderOptions | None = None) -> pd.DataFrame:
    """The InferCost layout: a frame of text cells (empty string where a cell has no value)."""
    options = options or RenderOptions()
    frame = charges.frame
    rows = len(frame)
    model_row = frame["model"].notna().to_numpy()

    # Money, tokens and times.
    cost = money.format_units(frame["cost"].to_numpy(dtype=object), charges.scale)
    has_cloud = frame["has_cloud"].to_numpy(dtype=bool)
    input_tokens = frame["input_tokens"].to_numpy(dtype=object)
    output_tokens = frame["output_tokens"].to_numpy(dtype=object)
    tokens = input_tokens + output_tokens
    columns: dict[str, pa.Array] = {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ChargePeriodStart": text.times(frame["charge_start"]),
        "ChargePeriodEnd": text.times(frame["charge_end"]),
        "BillingPeriodStart": text.times(frame["billing_start"]),
        "BillingPeriodEnd": text.times(frame["billing_end"]),
        "UsageQuantity": money.format_units(tokens, 0),
        "x-InferTokensInput": money.format_units(input_tokens, 0),
        "x-InferTokensOutput": money.format_units(output_tokens, 0),
        "x-InferCloudEquivalentCostUSD": money.format_units(
            frame["cloud_cost"].to_numpy(dtype=object), charges.scale, valid=has_cloud
        ),
        "x-InferSavingsUSD": money.format_units(
            frame["savings"].to_numpy(dtype=object), charges.scale, valid=has_cloud
        ),
        "x-InferSavingsPercent": money.format_units(
            frame["savings_percent"].to_numpy(dtype=object),
            PERCENT_PLACES,
            valid=frame["has_savings_percent"].to_numpy(dtype=bool),
        ),
    }

    # Identity of the resource: the model within the report, or the report itself.
    report_ref = pc.binary_join_element_wise(
        text.strings(frame["namespace"]), text.strings(frame["report_name"]), "/"
    )
    model = text.strings(frame["model"])
    columns["ResourceId"] = pc.if_else(
        model_row, pc.binary_join_element_wise(report_ref, model, "/"), report_ref
    )
    columns["ResourceName"] = pc.if_else(model_row, model, text.strings(frame["report_name"]))
    columns["SkuId"] = model
    columns["SkuPriceId"] = model
    columns["SubAccountId"] = text.strings(frame["namespace"])
    columns["SubAccountName"] = columns["SubAccountId"]
    columns["Region"] = text.constant(options.region, rows)
    columns["ChargeDescription"] = _description(frame, tokens)
    columns["Tags"] = _tags(frame, options)

    # The CostProfile and the cloud comparison.
    columns["x-InferCostProfile"] = text.strings(frame["cost_profile_ref"])
    columns["x-InferGpuModel"] = text.strings(frame["gpu_model"])
    columns["x-InferGpuCount"] = text.strings(frame["gpu_count"].map(_integer_text))
    for column, source in (
        ("x-InferAmortizationYears", "amortization_years"),
        ("x-InferElectricityRatePerKWh", "rate_per_kwh"),
        ("x-InferPUEFactor", "pue_factor"),
    ):
        columns[column] = text.strings(frame[source].map(_decimal_text))
    columns["x-InferCloudEquivalentProvider"] = text.strings(frame["cloud_provider"])
    columns["x-InferCloudEquivalentModel"] = text.strings(frame["cloud_model"])

    # Constants, then formula neutralisation of free text, then empty cells for missing values.
    for column, value in INFERCOST_CONSTANTS.items():
        columns[column] = text.constant(value, rows)
    if options.neutralise_formulas:
        for column in INFERCOST_FREE_TEXT:
            columns[column] = text.neutralise_formulas(columns[column])
    table = pa.table(
        {name: pc.fill_null(columns[name], "") for name in INFERCOST_COLUMNS},
    )
    rendered: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return rendered


def _description(frame: pd.DataFrame, tokens: object) -> pa.Array:
    """`Inference of 1500000 tokens by <model> for <ns>/<report> in period <period>`.

    Written without commas so that comma-splitting tools keep their column positions.
    """
    subject = pc.if_else(
        frame["model"].notna().to_numpy(),
        pc.binary_join_element_wise("by ", text.strings(frame["model"]), ""),
        pa.scalar("without model breakdown"),
    )
    report_ref = pc.binary_join_element_wise(
        text.strings(frame["report_namespace"]), text.strings(frame["report_name"]), "/"
    )
    return pc.binary_join_element_wise(
        "Inference of",
        money.format_units(tokens, 0),  # type: ignore[arg-type]
        "tokens",
        subject,
        "for UsageReport",
        report_ref,
        "in period",
        text.strings(frame["period"]),
        " ",
    )


def _tags(frame: pd.DataFrame, options: RenderOptions) -> pa.Array:
    """Tags as a JSON object: the report (name, namespace, period), schedule, model, gpuModel,
    costProfile, plus extra tags."""
    rows = len(frame)
    members = [
        ("report", text.json_strings(frame["report_name"])),
        ("reportNamespace", text.json_strings(frame["report_namespace"])),
        ("period", text.json_strings(frame["period"])),
        ("schedule", text.json_strings(frame["schedule"])),
        ("model", text.json_strings(frame["model"])),
        ("gpuModel", text.json_strings(frame["gpu_model"])),
        ("costProfile", text.json_strings(frame["cost_profile_ref"])),
    ]
    for key, value in sorted(options.extra_tags.items()):
        members.append((key, text.json_strings(pd.Series([value] * rows, dtype=object))))
    return text.json_objects(members)


def _integer_text(value: object) -> str | None:
    if value is None or value != value:  # None or NaN
        return None
    return str(int(value))  # type: ignore[call-overload]


def _decimal_text(value: object) -> str | None:
    if value is None or value != value:
        return None
    return decimal_text(value)  # type: ignore[arg-type]
