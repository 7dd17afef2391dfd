"""The `focus-1.2` layout: a conformant FOCUS 1.2 Cost and Usage dataset of the same charges.

The on-prem scenario: the internal platform provides, publishes and "invoices" its own service,
so ProviderName, PublisherName and InvoiceIssuerName all carry the platform's name. Cells without
value are real nulls. InferCost's extension data follows all FOCUS columns as `x_Infer...`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.core import money, text
from infercost_focus.core.charges import Charges
from infercost_focus.core.layouts.cells import Cells, finish
from infercost_focus.core.layouts.spec import Column, Layout, RenderOptions, focus_roles

NAME = "focus-1.2"
TAG_PREFIX = "infercost.io/"
TOKENS_PER_PRICING_UNIT = 1_000_000
# Unit prices (USD per million tokens) carry this many places, plus one per digit of the largest
# PricingQuantity, so that price times quantity gives the cost far within FOCUS's 1e-9.
UNIT_PRICE_PLACES = 12


# Every column FOCUS 1.2 defines for Cost and Usage datasets; any other column is a custom one.
FOCUS_12_DEFINED: frozenset[str] = frozenset(
    [
        "AvailabilityZone",
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingAccountType",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "CapacityReservationId",
        "CapacityReservationStatus",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargeFrequency",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "CommitmentDiscountCategory",
        "CommitmentDiscountId",
        "CommitmentDiscountName",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountStatus",
        "CommitmentDiscountType",
        "CommitmentDiscountUnit",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "InvoiceId",
        "InvoiceIssuerName",
        "ListCost",
        "ListUnitPrice",
        "PricingCategory",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "RegionId",
        "RegionName",
        "ResourceId",
        "ResourceName",
        "ResourceType",
        "ServiceCategory",
        "ServiceName",
        "ServiceSubcategory",
        "SkuId",
        "SkuMeter",
        "SkuPriceDetails",
        "SkuPriceId",
        "SubAccountId",
        "SubAccountName",
        "SubAccountType",
        "Tags",
    ]
)


def _fixed(name: str, value: str) -> Column:
    return Column(name, "text", required=True, allowed=(value,))


# FOCUS columns in the specification's alphabetical order, then the extension columns.
COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", "decimal", required=True),
    Column("BillingAccountId", "text", required=True, free_text=True),
    Column("BillingAccountName", "text", required=True, free_text=True),
    _fixed("BillingCurrency", "USD"),
    Column("BillingPeriodEnd", "time", required=True),
    Column("BillingPeriodStart", "time", required=True),
    _fixed("ChargeCategory", "Usage"),
    Column("ChargeClass", "text", allowed=("Correction",)),
    Column("ChargeDescription", "text", required=True, free_text=True),
    _fixed("ChargeFrequency", "Usage-Based"),
    Column("ChargePeriodEnd", "time", required=True),
    Column("ChargePeriodStart", "time", required=True),
    Column("CommitmentDiscountStatus", "text", allowed=("Used", "Unused")),
    Column("ConsumedQuantity", "decimal", required=True),
    _fixed("ConsumedUnit", "Tokens"),
    Column("ContractedCost", "decimal", required=True),
    Column("ContractedUnitPrice", "decimal"),
    Column("EffectiveCost", "decimal", required=True),
    Column("InvoiceId", "text"),
    Column("InvoiceIssuerName", "text", required=True, free_text=True),
    Column("ListCost", "decimal", required=True),
    Column("ListUnitPrice", "decimal"),
    _fixed("PricingCategory", "Standard"),
    Column("PricingQuantity", "decimal", required=True),
    _fixed("PricingUnit", f"{TOKENS_PER_PRICING_UNIT} Tokens"),
    Column("ProviderName", "text", required=True, free_text=True),
    Column("PublisherName", "text", required=True, free_text=True),
    Column("RegionId", "text", free_text=True),
    Column("RegionName", "text", free_text=True),
    Column("ResourceId", "text", required=True, free_text=True),
    Column("ResourceName", "text", required=True, free_text=True),
    _fixed("ResourceType", "AI Inference Endpoint"),
    _fixed("ServiceCategory", "AI and Machine Learning"),
    _fixed("ServiceName", "On-Prem AI Inference"),
    _fixed("ServiceSubcategory", "Generative AI"),
    Column("SkuId", "text", free_text=True),
    Column("SkuMeter", "text"),
    Column("SkuPriceDetails", "json"),
    Column("SkuPriceId", "text", free_text=True),
    Column("SubAccountId", "text", required=True, free_text=True),
    Column("SubAccountName", "text", required=True, free_text=True),
    Column("Tags", "json", required=True),
    Column("x_InferCostProfile", "text", free_text=True),
    Column("x_InferGpuModel", "text", free_text=True),
    Column("x_InferGpuCount", "integer"),
    Column("x_InferTokensInput", "integer", required=True),
    Column("x_InferTokensOutput", "integer", required=True),
    Column("x_InferAmortizationYears", "decimal"),
    Column("x_InferElectricityRatePerKWh", "decimal"),
    Column("x_InferPUEFactor", "decimal"),
    Column("x_InferCloudEquivalentProvider", "text", free_text=True),
    Column("x_InferCloudEquivalentModel", "text", free_text=True),
    Column("x_InferCloudEquivalentCostUSD", "decimal"),
    Column("x_InferSavingsUSD", "decimal"),
    Column("x_InferSavingsPercent", "decimal"),
)

# FOCUS's string-handling rules allow only ASCII in its text columns.
ASCII_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in COLUMNS if column.kind == "text" and not column.name.startswith("x_")
)


def render(charges: Charges, options: RenderOptions) -> pd.DataFrame:
    """The conformant layout: text cells, real nulls where a cell has no value."""
    cells = Cells(charges, min_places=1)
    cost = cells.money("cost")
    unit_price = _unit_price(cells)
    region = options.region or None
    columns: dict[str, pa.Array] = {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "BillingAccountId": cells.constant(options.billing_account_id),
        "BillingAccountName": cells.constant(options.billing_account_name),
        "BillingPeriodStart": cells.time("billing_start"),
        "BillingPeriodEnd": cells.time("billing_end"),
        "ChargePeriodStart": cells.time("charge_start"),
        "ChargePeriodEnd": cells.time("charge_end"),
        "ChargeClass": cells.constant(None),
        "ChargeDescription": cells.description(),
        "CommitmentDiscountStatus": cells.constant(None),
        "ConsumedQuantity": cells.count(cells.tokens),
        "PricingQuantity": cells.count(cells.tokens, places=6),
        "ListUnitPrice": unit_price,
        "ContractedUnitPrice": unit_price,
        "InvoiceId": cells.constant(None),
        "InvoiceIssuerName": cells.constant(options.platform_name),
        "ProviderName": cells.constant(options.platform_name),
        "PublisherName": cells.constant(options.platform_name),
        "RegionId": cells.constant(region),
        "RegionName": cells.constant(region),
        "ResourceId": cells.resource_id(),
        "ResourceName": cells.resource_name(),
        "SkuId": cells.strings("model"),
        "SkuPriceId": _sku_price_id(cells),
        "SkuMeter": pc.if_else(
            cells.model_row, pa.scalar("Inference Tokens"), pa.scalar(None, pa.string())
        ),
        "SkuPriceDetails": _sku_price_details(cells),
        "SubAccountId": cells.strings("namespace"),
        "SubAccountName": cells.strings("namespace"),
        "Tags": _tags(cells, options),
        "x_InferCostProfile": cells.strings("cost_profile_ref"),
        "x_InferGpuModel": cells.strings("gpu_model"),
        "x_InferGpuCount": cells.integer_strings("gpu_count"),
        "x_InferTokensInput": money.format_units(cells.input_tokens, 0),
        "x_InferTokensOutput": money.format_units(cells.output_tokens, 0),
        "x_InferAmortizationYears": cells.decimal_strings("amortization_years"),
        "x_InferElectricityRatePerKWh": cells.decimal_strings("rate_per_kwh"),
        "x_InferPUEFactor": cells.decimal_strings("pue_factor"),
        "x_InferCloudEquivalentProvider": cells.strings("cloud_provider"),
        "x_InferCloudEquivalentModel": cells.strings("cloud_model"),
        "x_InferCloudEquivalentCostUSD": cells.cloud_cost(),
        "x_InferSavingsUSD": cells.savings(),
        "x_InferSavingsPercent": cells.savings_percent(),
    }
    for column in COLUMNS:
        if column.allowed and column.required and column.name not in columns:
            columns[column.name] = cells.constant(column.allowed[0])

    # FOCUS string columns hold ASCII only; the real names stay in Tags and the x_ columns.
    for name in ASCII_COLUMNS:
        columns[name] = text.ascii_only(columns[name])
    return finish(
        columns,
        LAYOUT.names,
        LAYOUT.free_text,
        neutralise=options.neutralise_formulas,
        empty_for_null=False,
    )


def _unit_price(cells: Cells) -> pa.Array:
    """USD per million tokens, so that unit price times PricingQuantity gives the cost.

    Rows without tokens have a price only when they cost nothing (0); otherwise no price exists.
    """
    cost = cells.table.cost
    tokens = cells.tokens
    # Price times PricingQuantity must give the cost to 1e-9: the larger the quantity, the more
    # places the price needs (one more per digit of the largest quantity).
    largest = int(tokens.max()) // TOKENS_PER_PRICING_UNIT if len(tokens) else 0
    scale = UNIT_PRICE_PLACES + (len(str(largest)) if largest else 0)
    shift = scale - cells.charges.scale
    has_tokens = tokens > 0
    safe_tokens = money.compact(
        money.as_objects(np.where(has_tokens, tokens, 1)) * 10 ** max(0, -shift)
    )
    multiplier = TOKENS_PER_PRICING_UNIT * 10 ** max(0, shift)
    price = money.divide_product_half_even(cost, multiplier, safe_tokens)
    valid = has_tokens | (cost == 0)
    return money.format_units(
        money.compact(np.where(has_tokens, price, 0)), scale, valid=valid, min_places=1
    )


def _sku_price_id(cells: Cells) -> pa.Array:
    """The model at the price of its GPU pool: `<namespace>/<CostProfile>/<model>`.

    One model served from two pools has two prices; the model alone is the SkuId.
    """
    profile = cells.strings("cost_profile_ref")
    priced = pc.binary_join_element_wise(
        cells.strings("report_namespace"), profile, cells.strings("model"), "/"
    )
    return pc.if_else(pc.is_null(profile), cells.strings("model"), priced)


def _sku_price_details(cells: Cells) -> pa.Array:
    """A JSON object of the price point: FOCUS's `GpuCount`, then `x_` keys of InferCost's."""
    reports = cells.reports
    gpu_count = [None if count is None else str(int(count)) for count in reports.gpu_count]
    members = [
        ("GpuCount", pa.array(gpu_count, type=pa.string())),
        ("x_GpuModel", text.json_strings(reports.gpu_model)),
        ("x_CostProfile", text.json_strings(reports.cost_profile_ref)),
    ]
    # A price point without any of them has no details (null, as for a row without model).
    body = cells.per_row(text.json_members(members))
    details = pc.binary_join_element_wise("{", body, "}", "")
    no_sku = pc.invert(pa.array(cells.model_row))
    return pc.if_else(no_sku, pa.scalar(None, pa.string()), details)


def _tags(cells: Cells, options: RenderOptions) -> pa.Array:
    """Provider tags under `infercost.io/`, then the report's own Kubernetes labels unchanged."""
    members = [
        (f"{TAG_PREFIX}report", "report_name"),
        (f"{TAG_PREFIX}report-namespace", "report_namespace"),
        (f"{TAG_PREFIX}period", "period"),
        (f"{TAG_PREFIX}schedule", "schedule"),
        (f"{TAG_PREFIX}model", "model"),
        (f"{TAG_PREFIX}gpu-model", "gpu_model"),
        (f"{TAG_PREFIX}cost-profile", "cost_profile_ref"),
    ]
    extra = sorted(options.extra_tags.items())
    taken = {key for key, _ in [*members, *extra]}

    # Labels differ per report, not per row: each report's fragment is written once.
    fragments = [
        json.dumps(
            {k: v for k, v in sorted(labels.items()) if k not in taken},
            ensure_ascii=False,
            separators=(",", ":"),
        )[1:-1]
        for labels in cells.reports.labels
    ]
    return cells.json_object(members, extra, fragments)


LAYOUT = Layout(
    name=NAME,
    columns=COLUMNS,
    render=render,
    nulls="null",
    focus_version="1.2",
    description="FOCUS 1.2 Cost and Usage dataset (conformant; on-prem provider scenario)",
    roles=focus_roles("ConsumedQuantity", "x_InferTokensInput", "x_InferTokensOutput"),
    report_tag_keys=(f"{TAG_PREFIX}report-namespace", f"{TAG_PREFIX}report", f"{TAG_PREFIX}period"),
    decimal_point=True,
    custom_prefix="x_",
    ascii_columns=ASCII_COLUMNS,
)
