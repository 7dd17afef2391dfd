"""The schema check: it passes good frames and names the column, rule and rows of bad ones."""

from __future__ import annotations

import pandas as pd
import pytest

from infercost_focus.core import validation
from infercost_focus.core.export import export_focus
from infercost_focus.core.parsing import parse_objects
from infercost_focus.core.validation import check_infercost_frame
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report

OBJECTS = [
    usage_report(by_model=[model_entry("a", 10, 5, "1.5"), model_entry("b", 3, 4, "0.25")]),
    usage_report(
        name="weekly",
        period="2026-W18",
        start="2026-04-27T00:00:00Z",
        end="2026-05-04T00:00:00Z",
        schedule="weekly",
    ),
    cost_profile(),
]


@pytest.fixture
def frame() -> pd.DataFrame:
    return export_focus(OBJECTS).frame.copy()


def _problems(frame: pd.DataFrame, **kwargs: object) -> list[str]:
    reports = parse_objects(OBJECTS).usage_reports
    result = check_infercost_frame(frame, reports=reports, **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in result.problems]


def test_an_export_passes_its_own_check(frame: pd.DataFrame) -> None:
    assert _problems(frame) == []


def test_one_month_of_an_export_passes_with_its_billing_month(frame: pd.DataFrame) -> None:
    april = frame[frame["BillingPeriodStart"] == "2026-04-01T00:00:00Z"].reset_index(drop=True)
    assert _problems(april, billing_month="2026-04") == []
    assert any("billing month 2026-05" in p for p in _problems(april, billing_month="2026-05"))


def test_swapped_columns_are_named(frame: pd.DataFrame) -> None:
    columns = list(frame.columns)
    columns[0], columns[1] = columns[1], columns[0]
    (problem,) = _problems(frame[columns])
    assert "column 1 is 'EffectiveCost', the layout has 'BilledCost' there" in problem


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("BilledCost", "1e-05", "BilledCost: must be a plain decimal number"),
        ("BilledCost", "1,000.5", "BilledCost: must be a plain decimal number"),
        ("BilledCost", "", "BilledCost: must not be empty"),
        ("UsageQuantity", "12.0", "UsageQuantity: must be a whole number"),
        ("ChargePeriodStart", "2026-04-01 00:00:00", "ChargePeriodStart: must be a UTC time"),
        ("ChargePeriodStart", "2026-02-30T00:00:00Z", "must be a real date and time"),
        ("Currency", "EUR", "Currency: must be 'USD'"),
        ("Tags", "{not json", "Tags: must be a JSON object with unique keys and scalar values"),
        (
            "Tags",
            '{"report": {"nested": 1}}',
            "Tags: must be a JSON object with unique keys and scalar values",
        ),
        (
            "Tags",
            '{"report": "x", "report": "y"}',
            "Tags: must be a JSON object with unique keys and scalar values",
        ),
        ("Tags", '[["report", "x"]]', "Tags: must be a JSON object with unique keys and scalar"),
        ("Tags", '"report"', "Tags: must be a JSON object with unique keys and scalar values"),
        ("Tags", '{"report": "x"}', "Tags: must name the report: reportNamespace, report, period"),
        ("ChargePeriodEnd", "2026-05-02T00:00:00Z", "must not be after BillingPeriodEnd"),
        ("ChargePeriodStart", "2026-03-31T00:00:00Z", "must not be before BillingPeriodStart"),
        ("ChargePeriodEnd", "2026-03-02T00:00:00Z", "must not be before ChargePeriodStart"),
        ("BillingPeriodEnd", "2026-06-01T00:00:00Z", "first instant of the next month"),
        ("ListCost", "99", "ListCost: must equal BilledCost"),
        ("UsageQuantity", "1", "must equal x-InferTokensInput + x-InferTokensOutput"),
    ],
)
def test_a_broken_cell_is_reported_with_its_column_rule_and_row(
    frame: pd.DataFrame, column: str, value: str, rule: str
) -> None:
    frame.loc[1, column] = value
    problems = _problems(frame)
    assert any(rule in problem and f"row 1: {value!r}" in problem for problem in problems), problems


def test_rows_that_do_not_add_up_to_the_report_are_reported(frame: pd.DataFrame) -> None:
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        frame.loc[0, column] = "1.6"
    problems = _problems(frame)
    assert any(
        "add up to their UsageReport's totals" in p and "team-a/chat-monthly" in p for p in problems
    ), problems


def test_rows_of_an_unknown_report_period_are_reported(frame: pd.DataFrame) -> None:
    frame.loc[0, "Tags"] = frame.loc[0, "Tags"].replace('"2026-04"', '"2026-03"')
    assert any("no such UsageReport period" in p for p in _problems(frame))


def test_the_report_of_a_problem_lists_at_most_five_rows(frame: pd.DataFrame) -> None:
    frame["Currency"] = "EUR"
    (problem,) = [p for p in _problems(frame) if p.startswith("Currency")]
    assert f"({len(frame)} rows;" in problem
    assert problem.count("row ") == min(5, len(frame))


_TAGS = '{"report":"chat","reportNamespace":"team-a","period":"2026-04-01","model":"m"}'


@pytest.mark.parametrize(
    "odd",
    [
        None,  # every cell usual: read at once
        "",
        '{"report":"a\nb","reportNamespace":"team-a","period":"2026-04"}',
        '{"report":"a"} {"report":"b"}',
        '{"report":"a"}{"report":"b"}',
        '{"report":"a","report":"b"}',
        '{"report":"a","reportNamespace":"team-a","period":202604}',
        '{"report":"a","nested":{"b":1}}',
        '{"report":"a","list":[1]}',
        '["report","a"]',
        '"report"',
        "7",
        "{}",
        '{"report":"a","x":1.5,"y":true,"z":null,"w":12345678901234567890123}',
        '{"report":"\\u00e9t\\u00e9","period":"2026-W14"}',
        '{"report":"\ud800"}',
    ],
)
def test_reading_json_cells_all_at_once_agrees_with_reading_them_one_by_one(
    odd: str | None,
) -> None:
    cells = [_TAGS, _TAGS.replace("chat", "rag"), "", _TAGS.replace("2026-04-01", "2026-04")]
    if odd is not None:
        cells.insert(2, odd)
    keys = ("reportNamespace", "report", "period")

    bad, field = validation._flat_objects(cells, keys)
    if odd is None:  # the usual column takes the quick path
        assert validation._arrow_objects([cell for cell in cells if cell], keys) is not None

    one_by_one = [validation._flat_object(cell) if cell else None for cell in cells]
    assert bad == [
        bool(cell) and found is None for cell, found in zip(cells, one_by_one, strict=True)
    ]
    for key in (*keys, "model", "x"):
        assert field(key) == [None if found is None else found.get(key) for found in one_by_one]
