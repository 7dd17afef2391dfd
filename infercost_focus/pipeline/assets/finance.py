"""What finance pipelines build on the monthly FOCUS files: an example downstream asset."""

import warnings
from decimal import Decimal

import dagster as dg
import pandas as pd
import pyarrow as pa

from infercost_focus.core.jsonio import decimal_text
from infercost_focus.pipeline.partitions import BILLING_MONTHS

# NB: months before the first billing month are simply absent from the range; Dagster marks the
# parameter that allows this as beta, which is no concern for this use.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    _TRAILING_QUARTER = dg.TimeWindowPartitionMapping(
        start_offset=-2, end_offset=0, allow_nonexistent_upstream_partitions=True
    )


@dg.asset(
    partitions_def=BILLING_MONTHS,
    group_name="finance",
    io_manager_key="focus_io_manager",
    kinds={"pandas", "csv"},
    ins={"focus_monthly": dg.AssetIn(partition_mapping=_TRAILING_QUARTER)},
)
def spend_trailing_quarter(
    context: dg.AssetExecutionContext, focus_monthly: dict[str, pd.DataFrame]
) -> dg.Output[pd.DataFrame]:
    """Spend and tokens by month, namespace and model over the three months ending with this one.

    Loads a range of monthly FOCUS files (this month and the two before it, where they exist),
    the way a finance pipeline reads the monthly files to build its own tables.
    """
    totals = []
    for month, frame in sorted(focus_monthly.items()):
        spend = pd.DataFrame(
            {
                "BillingMonth": month,
                "SubAccountId": frame["SubAccountId"].astype(str),
                "Model": frame["SkuId"].astype(str),
                "BilledCost": frame["BilledCost"].map(Decimal),
                "UsageQuantity": frame["UsageQuantity"].map(int),
            }
        )
        totals.append(spend)
    if totals:
        combined = pd.concat(totals, ignore_index=True)
        grouped = combined.groupby(["BillingMonth", "SubAccountId", "Model"], sort=True).agg(
            BilledCost=("BilledCost", lambda c: sum(c, Decimal(0))),
            UsageQuantity=("UsageQuantity", "sum"),
        )
        table = grouped.reset_index()
    else:
        table = pd.DataFrame(
            columns=["BillingMonth", "SubAccountId", "Model", "BilledCost", "UsageQuantity"]
        )
    text = pd.DataFrame(
        {
            "BillingMonth": table["BillingMonth"].astype(str),
            "SubAccountId": table["SubAccountId"].astype(str),
            "Model": table["Model"].astype(str),
            "BilledCost": table["BilledCost"].map(decimal_text),
            "UsageQuantity": table["UsageQuantity"].map(str),
        }
    ).astype(pd.ArrowDtype(pa.string()))
    context.log.info(f"spend over {sorted(focus_monthly)}: {len(text)} rows")
    return dg.Output(text, metadata={"months": ", ".join(sorted(focus_monthly)), "rows": len(text)})
