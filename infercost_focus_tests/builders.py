"""Builders of UsageReport and CostProfile objects shaped as the Kubernetes API returns them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

API_VERSION = "finops.infercost.ai/v1alpha1"


def model_entry(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost: str | Decimal | float,
    namespace: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": model,
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "estimatedCostUSD": Decimal(cost) if isinstance(cost, str) else cost,
    }
    if namespace is not None:
        entry["namespace"] = namespace
    return entry


def usage_report(
    name: str = "chat-monthly",
    namespace: str = "team-a",
    *,
    period: str = "2026-04",
    start: str = "2026-04-01T00:00:00Z",
    end: str = "2026-04-20T10:00:00Z",
    by_model: list[dict[str, Any]] | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cost: str | Decimal | None = None,
    cloud: list[dict[str, Any]] | None = None,
    profile: str | None = "a100-pool",
    schedule: str = "monthly",
    uid: str | None = None,
) -> dict[str, Any]:
    """A reconciled UsageReport; totals default to the sums of `by_model`."""
    entries = (
        [model_entry("llama-3-70b", 1_200_000, 300_000, "12.5")] if by_model is None else by_model
    )
    status: dict[str, Any] = {
        "period": period,
        "periodStart": start,
        "periodEnd": end,
        "inputTokens": (
            sum(e["inputTokens"] for e in entries) if input_tokens is None else input_tokens
        ),
        "outputTokens": (
            sum(e["outputTokens"] for e in entries) if output_tokens is None else output_tokens
        ),
        "estimatedCostUSD": (
            sum((Decimal(str(e["estimatedCostUSD"])) for e in entries), Decimal(0))
            if cost is None
            else Decimal(cost)
        ),
        "byModel": entries,
        "cloudComparison": cloud
        if cloud is not None
        else [cloud_entry("openai", "gpt-4o", "40.1", "27.6")],
        "lastUpdated": end,
    }
    spec: dict[str, Any] = {"schedule": schedule}
    if profile is not None:
        spec["costProfileRef"] = profile
    return {
        "apiVersion": API_VERSION,
        "kind": "UsageReport",
        "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}"},
        "spec": spec,
        "status": status,
    }


def cloud_entry(provider: str, model: str, cloud_cost: str, savings: str) -> dict[str, Any]:
    return {
        "provider": provider,
        "model": model,
        "estimatedCloudCostUSD": Decimal(cloud_cost),
        "savingsUSD": Decimal(savings),
        "savingsPercent": Decimal("50"),
    }


def cost_profile(
    name: str = "a100-pool",
    namespace: str = "team-a",
    *,
    gpu_model: str = "A100-80GB",
    gpu_count: int = 8,
    amortization_years: str = "3",
    rate: str = "0.12",
    pue: str = "1.4",
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CostProfile",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-profile-{namespace}-{name}",
        },
        "spec": {
            "hardware": {
                "gpuModel": gpu_model,
                "gpuCount": gpu_count,
                "purchasePriceUSD": Decimal("120000"),
                "amortizationYears": Decimal(amortization_years),
            },
            "electricity": {"ratePerKWh": Decimal(rate), "pueFactor": Decimal(pue)},
        },
    }
