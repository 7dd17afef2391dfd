"""Reading UsageReports and CostProfiles: exact values, and a clear reject for each broken field."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from infercost_focus.core import parsing
from infercost_focus.core.parsing import parse_cost_profile, parse_objects, parse_usage_report
from infercost_focus.errors import RejectedObject
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report


def _broken(path: str, value: Any) -> dict[str, Any]:
    report = usage_report()
    target = report
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return report


def test_a_reconciled_report_keeps_every_field_it_needs() -> None:
    report = parse_usage_report(usage_report())
    assert report is not None
    assert report.ref == "team-a/chat-monthly"
    assert report.period == "2026-04"
    assert report.period_start.isoformat() == "2026-04-01T00:00:00+00:00"
    assert report.cost_profile_ref == "a100-pool"
    assert report.by_model[0].model == "llama-3-70b"
    assert report.by_model[0].namespace == "team-a"  # defaults to the report's namespace
    assert report.cloud_comparison[0].savings == Decimal("27.6")


def test_token_counts_above_two_to_the_53_stay_exact() -> None:
    huge = 2**63 + 12345
    report = parse_usage_report(usage_report(by_model=[model_entry("m", huge, huge + 1, "1")]))
    assert report is not None
    assert report.by_model[0].input_tokens == huge
    assert report.output_tokens == huge + 1


def test_a_float_cost_keeps_the_value_its_text_had() -> None:
    report = parse_usage_report(usage_report(by_model=[model_entry("m", 1, 1, 0.1)], cost="0.1"))
    assert report is not None
    assert report.by_model[0].cost == Decimal("0.1")


def test_a_decimal_string_cost_is_read_exactly() -> None:
    report = parse_usage_report(_broken("status.estimatedCostUSD", "12.5000000000000000001"))
    assert report is not None
    assert report.cost == Decimal("12.5000000000000000001")


def test_unknown_fields_are_ignored() -> None:
    obj = usage_report()
    obj["status"]["somethingNew"] = {"nested": [1, 2]}
    obj["spec"]["futureField"] = True
    assert parse_usage_report(obj) is not None


@pytest.mark.parametrize(
    ("path", "value", "field", "problem"),
    [
        ("status.inputTokens", -5, "status.inputTokens", "must not be negative"),
        ("status.inputTokens", "12", "status.inputTokens", "expected a whole number"),
        ("status.outputTokens", 1.5, "status.outputTokens", "expected a whole number"),
        ("status.inputTokens", True, "status.inputTokens", "expected a whole number"),
        ("status.estimatedCostUSD", float("inf"), "status.estimatedCostUSD", "finite"),
        ("status.estimatedCostUSD", Decimal("NaN"), "status.estimatedCostUSD", "finite"),
        ("status.estimatedCostUSD", [1], "status.estimatedCostUSD", "expected a number"),
        ("status.estimatedCostUSD", "-3", "status.estimatedCostUSD", "must not be negative"),
        ("status.periodStart", "yesterday", "status.periodStart", "RFC 3339"),
        ("status.periodStart", "2026-13-01T00:00:00Z", "status.periodStart", "not a valid time"),
        ("status.periodEnd", "2026-03-01T00:00:00Z", "status.periodEnd", "before"),
        ("status.byModel", {"m": 1}, "status.byModel", "expected a list"),
        ("status.byModel.0.model", 7, "status.byModel[0].model", "expected a string"),
        ("status.byModel.0.inputTokens", -1, "status.byModel[0].inputTokens", "negative"),
        (
            "status.cloudComparison.0.estimatedCloudCostUSD",
            "abc",
            "status.cloudComparison[0].estimatedCloudCostUSD",
            "expected a number",
        ),
        ("metadata.name", 42, "metadata.name", "expected a string"),
        ("spec", "monthly", "spec", "expected an object"),
    ],
)
def test_a_malformed_report_is_rejected_naming_the_object_and_the_field(
    path: str, value: Any, field: str, problem: str
) -> None:
    with pytest.raises(RejectedObject) as caught:
        parse_usage_report(_broken(path, value))
    message = str(caught.value)
    assert message.startswith(
        "UsageReport team-a/chat-monthly: "
        if path != "metadata.name"
        else "UsageReport team-a/<no name>: "
    )
    assert caught.value.field == field
    assert problem in message


def test_a_report_without_status_is_skipped_with_a_warning_naming_it() -> None:
    never_reconciled = usage_report(name="fresh")
    del never_reconciled["status"]
    parsed = parse_objects([never_reconciled, usage_report()])
    assert [report.name for report in parsed.usage_reports] == ["chat-monthly"]
    assert parsed.rejects == []
    assert len(parsed.warnings) == 1
    assert "team-a/fresh" in parsed.warnings[0]
    assert "never reconciled" in parsed.warnings[0]


def test_a_report_with_an_empty_period_is_skipped_like_one_without_status() -> None:
    parsed = parse_objects([_broken("status.period", "")])
    assert parsed.usage_reports == [] and parsed.rejects == [] and len(parsed.warnings) == 1


def test_one_malformed_object_does_not_stop_the_others() -> None:
    good = usage_report(name="good")
    bad = usage_report(name="bad")
    bad["status"]["inputTokens"] = -1
    parsed = parse_objects([bad, good, "not an object", cost_profile()])
    assert [report.name for report in parsed.usage_reports] == ["good"]
    assert len(parsed.cost_profiles) == 1
    assert [reject.ref for reject in parsed.rejects] == ["team-a/bad", "<not an object>"]


def test_a_cost_profile_keeps_its_economics() -> None:
    profile = parse_cost_profile(cost_profile(gpu_count=4, rate="0.0825"))
    assert (profile.gpu_model, profile.gpu_count) == ("A100-80GB", 4)
    assert profile.rate_per_kwh == Decimal("0.0825")
    assert profile.amortization_years == Decimal("3")


def test_a_cost_profile_with_a_negative_gpu_count_is_rejected() -> None:
    profile = cost_profile()
    profile["spec"]["hardware"]["gpuCount"] = -2
    with pytest.raises(
        RejectedObject, match=r"CostProfile team-a/a100-pool: spec.hardware.gpuCount"
    ):
        parse_cost_profile(profile)


def test_parsing_does_not_change_the_objects() -> None:
    obj = usage_report()
    before = copy.deepcopy(obj)
    parse_objects([obj])
    assert obj == before


# Entries that look usual but are not quite, next to usual ones: the one-expression check of
# `_model_usage` and `_cloud_comparison` must agree with the field-by-field reading on each.
_ENTRY_VALUES: list[tuple[str, Any]] = [
    ("model", "llama-3.1-8b"),
    ("model", "modèle-ü"),
    ("model", ""),
    ("model", 7),
    ("namespace", None),
    ("namespace", ""),
    ("namespace", "équipe"),
    ("namespace", ["team-b"]),
    ("inputTokens", None),
    ("inputTokens", 0),
    ("inputTokens", -1),
    ("inputTokens", True),
    ("inputTokens", 10**100),
    ("inputTokens", 10**100 - 1),
    ("inputTokens", 12.0),
    ("estimatedCostUSD", Decimal("12.50")),
    ("estimatedCostUSD", Decimal("-0")),
    ("estimatedCostUSD", Decimal("-0.01")),
    ("estimatedCostUSD", Decimal("NaN")),
    ("estimatedCostUSD", Decimal("1." + "0" * 120)),
    ("estimatedCostUSD", Decimal("0." + "0" * 100 + "1")),
    ("estimatedCostUSD", Decimal("1e100")),
    ("estimatedCostUSD", Decimal("1e99")),
    ("estimatedCostUSD", 3),
    ("estimatedCostUSD", 0.1),
    ("estimatedCostUSD", "0.25"),
    ("estimatedCostUSD", None),
]


def _outcome(read: Any) -> Any:
    try:
        return read()
    except RejectedObject as reject:
        return ("rejected", reject.field, reject.problem)


@pytest.mark.parametrize(("key", "value"), _ENTRY_VALUES)
def test_the_quick_reading_of_a_model_entry_agrees_with_the_careful_one(
    key: str, value: Any
) -> None:
    entry = {
        "model": "m",
        "namespace": "team-b",
        "inputTokens": 10,
        "outputTokens": 5,
        "estimatedCostUSD": Decimal("0.000123"),
        key: value,
    }
    reader = parsing._Reader("UsageReport", "team-a/r")
    quick = _outcome(lambda: parsing._model_usage(reader, entry, 3, "team-a"))
    careful = _outcome(
        lambda: parsing._checked_model_usage(reader, entry, "status.byModel[3]", "team-a")
    )
    assert quick == careful
    if not isinstance(careful, tuple):
        assert type(quick.cost) is type(careful.cost) and str(quick.cost) == str(careful.cost)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("provider", None),
        ("provider", ""),
        ("provider", "ñ-cloud"),
        ("model", 4),
        ("estimatedCloudCostUSD", Decimal("-1")),
        ("estimatedCloudCostUSD", Decimal("Infinity")),
        ("estimatedCloudCostUSD", 12),
        ("savingsUSD", Decimal("-7.25")),
        ("savingsUSD", Decimal("-1e100")),
        ("savingsUSD", Decimal("sNaN")),
        ("savingsUSD", None),
    ],
)
def test_the_quick_reading_of_a_cloud_comparison_agrees_with_the_careful_one(
    key: str, value: Any
) -> None:
    entry = {
        "provider": "openai",
        "model": "gpt-4o",
        "estimatedCloudCostUSD": Decimal("10.5"),
        "savingsUSD": Decimal("3.25"),
        key: value,
    }
    reader = parsing._Reader("UsageReport", "team-a/r")
    quick = _outcome(lambda: parsing._cloud_comparison(reader, entry, 1))
    careful = _outcome(
        lambda: parsing._checked_cloud_comparison(reader, entry, "status.cloudComparison[1]")
    )
    assert quick == careful
