"""InferCost's custom resources as the export reads them: UsageReport and CostProfile.

Only the fields the export uses are kept; everything else on the objects is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

GROUP = "finops.infercost.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
USAGE_REPORT = "UsageReport"
COST_PROFILE = "CostProfile"
# The built-in demo cluster labels its objects with this, so demo data is never taken for real.
DEMO_LABEL = "infercost.ai/demo"


class ModelUsage(NamedTuple):
    """One `status.byModel[]` entry: a model's share of a report's period.

    A named tuple rather than a frozen dataclass: a month holds a million of them, and a tuple
    is made several times faster.
    """

    model: str
    namespace: str
    input_tokens: int
    output_tokens: int
    cost: Decimal


@dataclass(frozen=True)
class CloudComparison:
    """One `status.cloudComparison[]` entry: what the report's tokens would cost in a cloud."""

    provider: str | None  # None when the entry does not say
    model: str | None
    cloud_cost: Decimal
    savings: Decimal


@dataclass(frozen=True)
class UsageReport:
    """A reconciled UsageReport: the state of one period of one report."""

    namespace: str
    name: str
    uid: str
    cost_profile_ref: str | None
    schedule: str | None
    period: str
    period_start: datetime
    period_end: datetime
    input_tokens: int
    output_tokens: int
    cost: Decimal
    by_model: tuple[ModelUsage, ...]
    cloud_comparison: tuple[CloudComparison, ...]
    last_updated: datetime | None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class CostProfile:
    """A CostProfile: the economics of the GPU pool that serves a namespace's reports."""

    namespace: str
    name: str
    gpu_model: str | None
    gpu_count: int | None
    purchase_price: Decimal | None
    amortization_years: Decimal | None
    rate_per_kwh: Decimal | None
    pue_factor: Decimal | None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"
