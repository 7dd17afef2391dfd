"""Generated and mutated UsageReports and CostProfiles through the whole export, both layouts.

Whatever the objects hold, the export never crashes: each object is exported, rejected with a
reason naming it and its field, or warned about; the rows it writes pass the schema check and add
up to their reports; every format encodes them (Parquet may refuse, cleanly, a value its types
cannot hold).
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infercost_focus.core import writers
from infercost_focus.core.export import export_focus
from infercost_focus.core.layouts import FOCUS_12, INFERCOST, get_layout
from infercost_focus.core.parsing import object_ref, parse_objects
from infercost_focus.core.validation import check_frame
from infercost_focus.errors import OutputError, RejectedObject
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report

LAYOUT_NAMES = (INFERCOST, FOCUS_12)
INT64_MAX = 2**63 - 1
PARQUET_DIGITS = 38

# Seed-stable: the same examples on every machine and every run, so CI is deterministic.
BAD_DATA = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_DELETE = object()  # a mutation that removes the field

ODD_TEXT = [
    "",
    "a/b",
    "../../etc/passwd",
    "..",
    "/abs",
    "back\\slash",
    "nul\x00name",
    "bell\x07tab\tcr\rlf\n",
    "\u202eevil-rtl",
    "😀🚀",
    "模型-ü",
    'q"uote, comma',
    "=SUM(A1)",
    "-1",
    "\ud800lone-surrogate",
    "x" * 5_000,
]

BAD_VALUES: list[Any] = [
    _DELETE,
    None,
    True,
    [],
    {},
    [1, 2],
    {"nested": "object"},
    -1,
    -(10**30),
    2**64,
    10**120,
    10**5000,
    float("nan"),
    float("inf"),
    float("-inf"),
    1.5,
    1e308,
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    Decimal("-0.000001"),
    Decimal("1E+200"),
    Decimal("1E-200"),
    Decimal("1E+5000"),
    " 12.5 ",
    "1e5",
    "2026-13-01T00:00:00Z",
    "2026-04-01T00:00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T00:00:00Z",
    datetime(2026, 4, 1),
    *ODD_TEXT,
]

REPORT_FIELDS = [
    ("kind",),
    ("metadata",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "uid"),
    ("metadata", "labels"),
    ("spec",),
    ("spec", "costProfileRef"),
    ("spec", "schedule"),
    ("status",),
    ("status", "period"),
    ("status", "periodStart"),
    ("status", "periodEnd"),
    ("status", "lastUpdated"),
    ("status", "inputTokens"),
    ("status", "outputTokens"),
    ("status", "estimatedCostUSD"),
    ("status", "byModel"),
    ("status", "byModel", 0),
    ("status", "byModel", 0, "model"),
    ("status", "byModel", 0, "namespace"),
    ("status", "byModel", 0, "inputTokens"),
    ("status", "byModel", 0, "estimatedCostUSD"),
    ("status", "cloudComparison"),
    ("status", "cloudComparison", 0),
    ("status", "cloudComparison", 0, "provider"),
    ("status", "cloudComparison", 0, "estimatedCloudCostUSD"),
    ("status", "cloudComparison", 0, "savingsUSD"),
]
PROFILE_FIELDS = [
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("spec",),
    ("spec", "hardware"),
    ("spec", "hardware", "gpuModel"),
    ("spec", "hardware", "gpuCount"),
    ("spec", "hardware", "amortizationYears"),
    ("spec", "electricity", "ratePerKWh"),
    ("spec", "electricity", "pueFactor"),
]

# Strategies of the parts of a well-formed object.
names = st.one_of(
    st.sampled_from(["chat", "team-a", "llama-3-70b", "=cmd", "@sum", "+1", "-x", "\tlead"]),
    st.sampled_from([text for text in ODD_TEXT if text and "\ud800" not in text]),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
)
token_counts = st.one_of(
    st.integers(0, 10**7), st.integers(INT64_MAX - 5, INT64_MAX + 5), st.integers(2**64, 2**90)
)
amounts = st.one_of(
    st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(0, 10**12),
        st.integers(0, 24),
    ),
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from(["0", "12.5", "0.000000000000000000000000000001", "123456789012345678901"]),
)
signed_amounts = st.one_of(amounts, amounts.map(lambda a: -Decimal(str(a))))


@st.composite
def period_times(draw: st.DrawFn) -> tuple[str, str, str]:
    """(period, periodStart, periodEnd) as RFC 3339 text; sometimes out of order."""
    start = draw(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)))
    length = draw(st.timedeltas(timedelta(days=-2), timedelta(days=70)))
    end = start + length
    offset = draw(st.sampled_from(["Z", "+00:00", "+05:30", "-08:00"]))

    def written(moment: datetime) -> str:
        text = moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()
        return text + offset

    return f"{start:%Y-%m}", written(start), written(end)


@st.composite
def well_formed_reports(draw: st.DrawFn, namespace: str, profile: str) -> dict[str, Any]:
    period, start, end = draw(period_times())
    entries = [
        model_entry(
            draw(names),
            draw(token_counts),
            draw(token_counts),
            draw(amounts),
            namespace=draw(st.none() | names),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    covered_in = sum(entry["inputTokens"] for entry in entries)
    covered_out = sum(entry["outputTokens"] for entry in entries)
    covered_cost = sum((Decimal(str(entry["estimatedCostUSD"])) for entry in entries), Decimal(0))
    # Totals cover the entries, leave some uncovered, or (a contradiction) fall short of them.
    extra = draw(st.sampled_from([0, 0, 1, 1_000, -1]))
    report = usage_report(
        draw(names),
        namespace,
        period=period,
        start=start,
        end=end,
        by_model=entries,
        input_tokens=max(0, covered_in + extra),
        output_tokens=covered_out,
        cost=covered_cost + max(0, extra),
        cloud=[
            {
                "provider": draw(names),
                "model": draw(names),
                "estimatedCloudCostUSD": draw(amounts),
                "savingsUSD": draw(signed_amounts),
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
        profile=profile,
        schedule=draw(st.sampled_from(["daily", "weekly", "monthly"])),
        uid=draw(st.sampled_from(["uid-1", "uid-2", ""]) | names),
    )
    report["status"]["lastUpdated"] = end
    if draw(st.booleans()):
        report["metadata"]["labels"] = draw(st.dictionaries(names, names, max_size=3))
    return report


def _mutated(draw: st.DrawFn, obj: dict[str, Any], fields: list[tuple[Any, ...]]) -> dict[str, Any]:
    """`obj` with up to two fields replaced by bad values or removed (where the path exists)."""
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(fields))
        value = draw(st.sampled_from(BAD_VALUES))
        parent: Any = obj
        for step in path[:-1]:
            present = isinstance(parent, dict) and step in parent
            present = present or (isinstance(parent, list) and isinstance(step, int) and parent)
            if not present:
                break
            parent = parent[step]
        else:
            last = path[-1]
            if isinstance(parent, dict):
                if value is _DELETE:
                    parent.pop(last, None)
                else:
                    parent[last] = copy.deepcopy(value)
            elif isinstance(parent, list) and isinstance(last, int) and parent:
                parent[last] = None if value is _DELETE else copy.deepcopy(value)
    return obj


@st.composite
def batches(draw: st.DrawFn) -> list[Any]:
    """A batch as a dump gives it: reports, profiles, duplicates, strangers, all mutated."""
    objects: list[Any] = []
    for _ in range(draw(st.integers(1, 4))):
        namespace = draw(names)
        profile = draw(names)
        report = draw(well_formed_reports(namespace, profile))
        objects.append(_mutated(draw, report, REPORT_FIELDS))
        if draw(st.booleans()):
            found = cost_profile(
                profile,
                namespace,
                gpu_model=draw(names),
                gpu_count=draw(st.integers(0, 2**60)),
                amortization_years=str(draw(st.integers(1, 10))),
            )
            objects.append(_mutated(draw, found, PROFILE_FIELDS))

    # The same report twice (two dumps), once more under a new uid (deleted and created again).
    if draw(st.booleans()):
        twin = copy.deepcopy(draw(st.sampled_from(objects)))
        if draw(st.booleans()) and isinstance(twin.get("metadata"), dict):
            twin["metadata"]["uid"] = "recreated"
        objects.append(twin)

    # Objects of other kinds and values that are no object at all.
    strangers = st.sampled_from(
        [{"kind": "Pod", "metadata": {"name": "p"}}, {"kind": None}, {"kind": 3}, [], "text", None]
    )
    objects.extend(draw(st.lists(strangers, max_size=2)))
    return draw(st.permutations(objects))


def _expected_ref(objects: list[Any]) -> set[str]:
    return {object_ref(obj) for obj in objects} | {"<not an object>"}


def _assert_every_reject_is_explained(rejects: list[RejectedObject], objects: list[Any]) -> None:
    refs = _expected_ref(objects)
    for reject in rejects:
        assert isinstance(reject, RejectedObject)
        assert reject.field, f"reject without field: {reject}"
        assert reject.problem, f"reject without reason: {reject}"
        assert reject.ref in refs, f"reject names no input object: {reject}"
        assert reject.ref in str(reject) and reject.field in str(reject)


@BAD_DATA
@given(batch=batches())
def test_every_object_is_exported_rejected_or_warned_about_and_rejects_name_it(
    batch: list[Any],
) -> None:
    parsed = parse_objects(batch)
    _assert_every_reject_is_explained(parsed.rejects, batch)

    # Each UsageReport or CostProfile is accepted, rejected, never reconciled, or a duplicate.
    known = [o for o in batch if not isinstance(o, dict) or o.get("kind") in KINDS]
    unreconciled = [w for w in parsed.warnings if "has no status.period" in w]
    duplicates = [w for w in parsed.warnings if "appears more than once" in w]
    accounted = (
        len(parsed.usage_reports)
        + len(parsed.cost_profiles)
        + len(parsed.rejects)
        + len(unreconciled)
        + len(duplicates)
    )
    assert accounted == len(known)

    for layout in LAYOUT_NAMES:
        result = export_focus(batch, layout_name=layout)
        _assert_every_reject_is_explained(result.rejects, batch)
        # A report set aside by the transform is named; every other one has rows.
        set_aside = {reject.ref for reject in result.rejects}
        keys = _row_keys(result.frame, layout)
        for report in parsed.usage_reports:
            if report.ref not in set_aside:
                assert (report.namespace, report.name, report.period) in keys


KINDS = ("UsageReport", "CostProfile")


def _row_keys(frame: pd.DataFrame, layout_name: str) -> pd.Series:
    keys = get_layout(layout_name).report_tag_keys
    tags = frame["Tags"].map(json.loads)
    return pd.Series([tuple(tag[key] for key in keys) for tag in tags], dtype=object).tolist()


@BAD_DATA
@given(batch=batches())
def test_accepted_rows_pass_the_schema_check_and_add_up_to_their_reports(
    batch: list[Any],
) -> None:
    reports = parse_objects(batch).usage_reports
    totals: dict[tuple[str, str, str], tuple[Decimal, int]] = {}
    for report in reports:
        cost, tokens = totals.get((report.namespace, report.name, report.period), (Decimal(0), 0))
        tokens += report.input_tokens + report.output_tokens
        totals[(report.namespace, report.name, report.period)] = (cost + report.cost, tokens)

    for layout_name in LAYOUT_NAMES:
        frame = export_focus(batch, layout_name=layout_name).frame
        check = check_frame(frame, layout_name, reports=reports)
        assert check.passed, check.describe()

        # Per report period, the rows add up to the report's totals exactly.
        roles = get_layout(layout_name).roles
        cells = frame.astype(object).where(frame.notna(), "")
        sums: dict[tuple[str, str, str], tuple[Decimal, int]] = {}
        for key, cost, tokens_in, tokens_out in zip(
            _row_keys(frame, layout_name),
            cells[roles["billed_cost"]],
            cells[roles["input_tokens"]],
            cells[roles["output_tokens"]],
            strict=True,
        ):
            total_cost, total_tokens = sums.get(key, (Decimal(0), 0))
            sums[key] = (
                total_cost + Decimal(cost),
                total_tokens + int(tokens_in) + int(tokens_out),
            )
        for key, (cost, tokens) in sums.items():
            assert (cost, tokens) == totals[key], key


@BAD_DATA
@given(batch=batches())
def test_every_format_encodes_the_rows_or_parquet_cleanly_refuses_what_it_cannot_type(
    batch: list[Any],
) -> None:
    for layout_name in LAYOUT_NAMES:
        frame = export_focus(batch, layout_name=layout_name).frame
        text = writers.encode(frame, layout_name, "csv")
        assert gzip.decompress(writers.encode(frame, layout_name, "csv.gz")) == text
        assert text.decode("utf-8").count("\n") >= len(frame) + 1

        fits = _fits_parquet_types(frame, layout_name)
        try:
            parquet = writers.encode(frame, layout_name, "parquet")
        except OutputError as error:
            assert not fits, f"Parquet refused values that fit its types: {error}"
            assert "Parquet" in str(error)
        else:
            assert len(writers.decode(parquet, "parquet")) == len(frame)


def _fits_parquet_types(frame: pd.DataFrame, layout_name: str) -> bool:
    """Whether every whole number fits int64 and every decimal 38 digits."""
    layout = get_layout(layout_name)
    cells = frame.astype(object).where(frame.notna(), "")
    for name in layout.of_kind("integer"):
        if any(value and int(value) > INT64_MAX for value in cells[name]):
            return False
    for name in layout.of_kind("decimal"):
        present = [value.lstrip("-") for value in cells[name] if value]
        whole = max((len(value.split(".")[0]) for value in present), default=1)
        places = max((len(value.partition(".")[2]) for value in present), default=1)
        if max(whole, 1) + max(places, 1) > PARQUET_DIGITS:
            return False
    return True


# Cases the properties found, kept as plain examples.


def _rejects(obj: dict[str, Any]) -> list[str]:
    results = [export_focus([obj], layout_name=layout) for layout in LAYOUT_NAMES]
    for result in results:
        assert result.frame.empty
    return [f"{reject.field}: {reject.problem}" for reject in results[0].rejects]


def _report_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    report = usage_report(by_model=[])
    change(report)
    return report


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: r["status"].update(inputTokens=10**5000),
            "status.inputTokens: must have at most 100 digits",
        ),
        (
            lambda r: r["status"].update(estimatedCostUSD=Decimal("1E+5000")),
            "status.estimatedCostUSD: must have at most 100 digits before and 100 after",
        ),
        (
            lambda r: r["status"].update(estimatedCostUSD=Decimal("1E-5000")),
            "status.estimatedCostUSD: must have at most 100 digits before and 100 after",
        ),
        (
            lambda r: r["status"].update(estimatedCostUSD=Decimal("NaN")),
            "status.estimatedCostUSD: must be a finite number",
        ),
        (
            lambda r: r["status"].update(estimatedCostUSD=float("inf")),
            "status.estimatedCostUSD: must be a finite number",
        ),
        (
            lambda r: r["metadata"].update(name="chat\ud800"),
            "metadata.name: holds '\\ud800', which is not a character",
        ),
        (
            lambda r: r["status"].update(periodStart="0001-01-01T00:00:00+01:00"),
            "status.periodStart: is out of range in UTC",
        ),
        (
            lambda r: r["status"].update(
                periodStart="9999-12-01T00:00:00Z", periodEnd="9999-12-31T00:00:00Z"
            ),
            "status.periodEnd: must not be after 9999-12-01T00:00:00Z",
        ),
        (
            lambda r: r["metadata"].update(labels={1: "one"}),
            "metadata.labels: a key must be a string, got int 1",
        ),
        (
            lambda r: r["status"].update(periodEnd="2026-03-01T00:00:00Z"),
            "status.periodEnd: '2026-03-01T00:00:00Z' is before status.periodStart",
        ),
    ],
)
def test_values_no_file_can_hold_reject_the_report_with_a_reason(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    (problem,) = _rejects(_report_with(change))
    assert problem.startswith(expected)


@pytest.mark.parametrize("layout_name", LAYOUT_NAMES)
def test_token_counts_just_beyond_int64_pass_the_schema_check(layout_name: str) -> None:
    report = usage_report(by_model=[model_entry("m", 0, INT64_MAX + 2, "0")], cloud=[])
    frame = export_focus([report], layout_name=layout_name).frame
    check = check_frame(frame, layout_name, reports=parse_objects([report]).usage_reports)
    assert check.passed, check.describe()


def test_model_costs_adding_up_to_more_than_the_total_reject_the_report() -> None:
    report = usage_report(
        by_model=[model_entry("a", 1, 0, Decimal("1E-30")), model_entry("b", 1, 0, "1")],
        cost="1",
    )
    (problem,) = _rejects(report)
    assert problem.startswith("status.byModel: its entries add up to 1.0000000000000000000000")


def test_a_cloud_comparison_without_provider_leaves_null_cells_in_focus_1_2() -> None:
    report = usage_report(cloud=[{"estimatedCloudCostUSD": Decimal("2"), "savingsUSD": 1}])
    for layout_name in LAYOUT_NAMES:
        frame = export_focus([report], layout_name=layout_name).frame
        check = check_frame(frame, layout_name, reports=parse_objects([report]).usage_reports)
        assert check.passed, check.describe()


def test_a_gpu_count_beyond_exact_float_range_rejects_the_profile() -> None:
    result = export_focus([usage_report(), cost_profile(gpu_count=2**60 + 1)])
    (reject,) = result.rejects
    assert (reject.ref, reject.field) == ("team-a/a100-pool", "spec.hardware.gpuCount")
    assert result.frame["x-InferGpuCount"].tolist() == [""]


def test_a_report_given_twice_is_counted_once_and_the_newest_state_wins() -> None:
    older = usage_report(cost="5", by_model=[], input_tokens=10, output_tokens=0)
    newer = usage_report(cost="7", by_model=[], input_tokens=14, output_tokens=0)
    older["status"]["lastUpdated"] = "2026-04-20T09:00:00Z"
    for batch in ([older, newer], [newer, older]):
        result = export_focus(batch)
        assert result.frame["BilledCost"].tolist() == ["7"]
        assert any("appears more than once" in warning for warning in result.warnings)


def test_a_report_created_again_under_its_name_keeps_both_charges_and_passes_the_check() -> None:
    first = usage_report(uid="before", by_model=[], input_tokens=10, output_tokens=0, cost="1")
    second = usage_report(uid="after", by_model=[], input_tokens=20, output_tokens=0, cost="2")
    for layout_name in LAYOUT_NAMES:
        frame = export_focus([first, second], layout_name=layout_name).frame
        assert sorted(frame["BilledCost"].tolist()) in (["1", "2"], ["1.0", "2.0"])
        reports = parse_objects([first, second]).usage_reports
        assert check_frame(frame, layout_name, reports=reports).passed


def test_a_lone_surrogate_in_a_captured_object_is_kept_and_then_rejected_by_name(
    tmp_path: Any,
) -> None:
    from infercost_focus.captures import CaptureStore

    store = CaptureStore(tmp_path / "store")
    odd = usage_report(name="chat\ud800")
    store.write(datetime(2026, 4, 20, 11, tzinfo=UTC), [odd, usage_report("fine")], [], "test")
    states = store.month_states("2026-04").usage_reports
    assert [state["metadata"]["name"] for state in states] == ["chat\ud800", "fine"]
    result = export_focus(states)
    assert [reject.field for reject in result.rejects] == ["metadata.name"]
    assert len(result.frame) == 1


def test_unit_price_times_a_huge_pricing_quantity_still_gives_the_cost() -> None:
    report = usage_report(by_model=[model_entry("m", 0, INT64_MAX - 5, "1")], cloud=[])
    frame = export_focus([report], layout_name=FOCUS_12).frame
    price = Decimal(frame["ListUnitPrice"][0])
    quantity = Decimal(frame["PricingQuantity"][0])
    assert abs(price * quantity - Decimal(frame["ListCost"][0])) <= Decimal("1e-9")


def test_a_rejected_report_with_more_decimal_places_than_the_batch_does_not_break_it() -> None:
    rejected = usage_report(
        "tiny",
        by_model=[model_entry("m", 0, 0, "0"), model_entry("m", 1, 0, "1E-22")],
        cost="1E-22",
        input_tokens=0,
    )
    kept = usage_report("kept")
    for layout_name in LAYOUT_NAMES:
        result = export_focus([rejected, kept], layout_name=layout_name)
        assert [reject.ref for reject in result.rejects] == ["team-a/tiny"]
        assert len(result.frame) == 1
