"""Formula neutralisation on every free-text column of both layouts, driven from the objects.

A spreadsheet runs a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula; the CSV gets
an apostrophe in front of such text, never in front of a number, and nothing when turned off.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from functools import cache

import pytest

from infercost_focus.core import writers
from infercost_focus.core.export import export_focus
from infercost_focus.core.layouts import FOCUS_12, INFERCOST, RenderOptions, get_layout
from infercost_focus_tests.builders import cloud_entry, cost_profile, model_entry, usage_report

PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
LAYOUT_NAMES = (INFERCOST, FOCUS_12)
# Always starts with "Inference of": safe whatever the names inside it.
DESCRIPTION = "ChargeDescription"


def _objects(prefix: str) -> list[dict]:
    """Every text the layouts take from objects starts with `prefix`; savings are negative."""
    namespace = f"{prefix}ns"
    report = usage_report(
        f"{prefix}report",
        namespace,
        profile=f"{prefix}pool",
        by_model=[model_entry(f"{prefix}model", 1_000, 10, "3.5", namespace=f"{prefix}team")],
        # The totals leave a part uncovered: a row without model, named by the report.
        input_tokens=1_500,
        output_tokens=10,
        cost="4",
        cloud=[cloud_entry(f"{prefix}cloud", f"{prefix}gpt", "1.25", "-2.75")],
    )
    profile = cost_profile(f"{prefix}pool", namespace, gpu_model=f"{prefix}gpu")
    return [report, profile]


def _options(prefix: str, *, neutralise: bool) -> RenderOptions:
    return RenderOptions(
        region=f"{prefix}region",
        neutralise_formulas=neutralise,
        platform_name=f"{prefix}platform",
        billing_account_id=f"{prefix}account",
        billing_account_name=f"{prefix}account name",
    )


@cache
def _csv_rows(layout_name: str, prefix: str, neutralise: bool) -> tuple[dict[str, str], ...]:
    result = export_focus(
        _objects(prefix),
        layout_name=layout_name,
        options=_options(prefix, neutralise=neutralise),
    )
    assert not result.rejects
    text = writers.encode(result.frame, layout_name, "csv").decode("utf-8")
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


FREE_TEXT = [
    (layout_name, column)
    for layout_name in LAYOUT_NAMES
    for column in get_layout(layout_name).free_text
    if column != DESCRIPTION
]
NUMERIC = [
    (layout_name, column)
    for layout_name in LAYOUT_NAMES
    for kind in ("decimal", "integer")
    for column in get_layout(layout_name).of_kind(kind)
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=repr)
@pytest.mark.parametrize(("layout_name", "column"), FREE_TEXT)
def test_a_formula_in_any_free_text_column_gets_an_apostrophe_in_the_csv(
    layout_name: str, column: str, prefix: str
) -> None:
    raw = [row[column] for row in _csv_rows(layout_name, prefix, False)]
    guarded = [row[column] for row in _csv_rows(layout_name, prefix, True)]

    # The objects reach this column: every cell with a value starts with the risky character.
    assert any(raw), f"{column} is empty: the objects do not reach it"
    assert all(cell.startswith(prefix) for cell in raw if cell), raw
    assert guarded == [f"'{cell}" if cell else cell for cell in raw]


@pytest.mark.parametrize("layout_name", LAYOUT_NAMES)
def test_the_charge_description_starts_safely_and_keeps_the_names_inside(layout_name: str) -> None:
    for prefix in PREFIXES:
        for neutralise in (True, False):
            for row in _csv_rows(layout_name, prefix, neutralise):
                assert row[DESCRIPTION].startswith("Inference of ")
                assert f"UsageReport {prefix}ns/{prefix}report" in row[DESCRIPTION]


@pytest.mark.parametrize("prefix", PREFIXES, ids=repr)
@pytest.mark.parametrize(("layout_name", "column"), NUMERIC)
def test_numeric_columns_never_get_an_apostrophe(
    layout_name: str, column: str, prefix: str
) -> None:
    raw = [row[column] for row in _csv_rows(layout_name, prefix, False)]
    guarded = [row[column] for row in _csv_rows(layout_name, prefix, True)]
    assert guarded == raw
    for cell in guarded:
        if cell:
            Decimal(cell)  # a number, as written


@pytest.mark.parametrize("layout_name", LAYOUT_NAMES)
def test_negative_savings_stay_negative_numbers(layout_name: str) -> None:
    savings = "x-InferSavingsUSD" if layout_name == INFERCOST else "x_InferSavingsUSD"
    percent = savings.replace("USD", "Percent")
    for row in _csv_rows(layout_name, "-", True):
        assert row[savings].startswith("-") and Decimal(row[savings]) < 0
        assert row[percent].startswith("-")


@pytest.mark.parametrize("layout_name", LAYOUT_NAMES)
def test_tags_keep_the_real_names_when_cells_are_neutralised(layout_name: str) -> None:
    for prefix in PREFIXES:
        raw = [row["Tags"] for row in _csv_rows(layout_name, prefix, False)]
        guarded = [row["Tags"] for row in _csv_rows(layout_name, prefix, True)]
        assert guarded == raw
        keys = get_layout(layout_name).report_tag_keys
        assert {json.loads(tags)[keys[1]] for tags in raw} == {f"{prefix}report"}


def test_turning_neutralisation_off_writes_the_raw_values() -> None:
    rows = _csv_rows(INFERCOST, "=", False)
    names = sorted(row["ResourceName"] for row in rows)
    assert names == ["=model", "=report"]
    assert {row["x-InferGpuModel"] for row in rows} == {"=gpu"}
    assert {row["Region"] for row in rows} == {"=region"}
