"""What a column layout is: named, typed columns in a fixed order, and a renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:
    from infercost_focus.core.charges import Charges

# Roles of columns that the schema check relates to each other.
ROLES = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "charge_start",
    "charge_end",
    "billing_start",
    "billing_end",
    "quantity",
    "input_tokens",
    "output_tokens",
    "tags",
)


def focus_roles(quantity: str, input_tokens: str, output_tokens: str) -> dict[str, str]:
    """The roles of a FOCUS layout: FOCUS names for costs, periods and Tags, and its own
    columns for the usage quantity and the token counts."""
    return {
        "billed_cost": "BilledCost",
        "effective_cost": "EffectiveCost",
        "list_cost": "ListCost",
        "contracted_cost": "ContractedCost",
        "charge_start": "ChargePeriodStart",
        "charge_end": "ChargePeriodEnd",
        "billing_start": "BillingPeriodStart",
        "billing_end": "BillingPeriodEnd",
        "quantity": quantity,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "tags": "Tags",
    }


# How a column's text is typed: in checks, in Parquet files and in the metadata file.
Kind = Literal["decimal", "integer", "time", "text", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False  # never empty (null) in any row
    free_text: bool = False  # text from users' objects: neutralised against formulas
    allowed: tuple[str, ...] = ()  # the only values the column may hold, when not empty
    description: str = ""


@dataclass(frozen=True)
class RenderOptions:
    """Choices that change cells."""

    region: str = ""
    extra_tags: dict[str, str] = field(default_factory=dict)
    neutralise_formulas: bool = True
    # The conformant layout's on-prem identities (the InferCost layout has fixed values).
    platform_name: str = "On-Prem AI Platform"
    billing_account_id: str = "on-prem"
    billing_account_name: str = "On-Prem AI Platform"


@dataclass(frozen=True)
class Layout:
    """A column layout: its columns in order and how charges become its cells.

    `nulls` says how a cell without value is written in the frame: as an empty string (the
    InferCost layout) or as a real null (the conformant layout).
    """

    name: str
    columns: tuple[Column, ...]
    render: Callable[[Charges, RenderOptions], pd.DataFrame]
    nulls: Literal["empty", "null"]
    focus_version: str | None
    description: str
    roles: dict[str, str]  # column of each role the checks need (see `ROLES`)
    report_tag_keys: tuple[str, str, str]  # Tags keys of report namespace, name and period
    decimal_point: bool = False  # decimals always carry a point (`18500000.0`)
    custom_prefix: str = "x-"  # extension columns start with this
    ascii_columns: tuple[str, ...] = ()  # columns that hold ASCII text only

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def of_kind(self, kind: Kind) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.kind == kind)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    @property
    def free_text(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.free_text)
