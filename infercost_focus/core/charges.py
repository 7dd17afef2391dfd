"""From reconciled UsageReports to charges: one row per report period, model and billing month.

This is the project's transform, shared by every column layout. It works on whole columns:

1. one row per `byModel` entry, plus one row for whatever part of the report's totals the entries
   do not cover (the whole report when it has no breakdown), so rows always sum to the totals;
2. the report's cloud-equivalent cost shared over its rows by tokens;
3. a charge that crosses a month boundary split at the boundary, tokens and money pro rata by time,
   so every charge lies inside its billing month;
4. savings and savings percent per row.

Python reads each `byModel` entry once; sums, shares, splits and the order run on numpy arrays,
and what is the same for all rows of a report is kept once per report (`ReportTable`). Money stays
exact throughout (see `money`); the result carries the scale of its units.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from infercost_focus.core import money
from infercost_focus.core.resources import CloudComparison, CostProfile, UsageReport
from infercost_focus.errors import RejectedObject

logger = logging.getLogger(__name__)

# Percentages are ratios, not money: they are rounded (half to even) to this many places.
PERCENT_PLACES = 6

Ints = npt.NDArray[np.int64]
Moments = npt.NDArray[np.datetime64]  # UTC, to the second
_SECOND = np.timedelta64(1, "s")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReportTable:
    """One entry per accepted report period; a row's `report` is a position in these lists.

    The cloud columns describe the `cloudComparison` entry with the highest savings (None without
    one); the CostProfile columns are None where the profile is missing.
    """

    report_namespace: list[str]
    report_name: list[str]
    report_uid: list[str]
    period: list[str]
    schedule: list[str | None]
    cost_profile_ref: list[str | None]
    cloud_provider: list[str | None]
    cloud_model: list[str | None]
    gpu_model: list[str | None]
    gpu_count: list[int | None]
    amortization_years: list[Decimal | None]
    rate_per_kwh: list[Decimal | None]
    pue_factor: list[Decimal | None]
    labels: list[dict[str, str]]

    def key(self, report: int) -> tuple[str, str, str, str]:
        """What names a report period, in the order rows are sorted by."""
        return (
            self.report_namespace[report],
            self.report_name[report],
            self.period[report],
            self.report_uid[report],
        )


@dataclass(frozen=True)
class RowTable:
    """One entry per charge, every field an array with one value per row.

    `namespace` (the row's) and `model` are codes into the sorted lists `namespaces` and `models`;
    model -1 marks a report-level row. Money and tokens are exact integer columns (`money.Units`),
    money in units of `10**-scale` USD; cloud_cost and savings mean nothing where `has_cloud` is
    False, nor savings_percent (units of `10**-PERCENT_PLACES`) where `has_savings_percent` is.
    """

    report: Ints
    namespace: Ints
    model: Ints
    input_tokens: money.Units
    output_tokens: money.Units
    cost: money.Units
    cloud_cost: money.Units
    has_cloud: npt.NDArray[np.bool_]
    savings: money.Units
    savings_percent: money.Units
    has_savings_percent: npt.NDArray[np.bool_]
    charge_start: Moments
    charge_end: Moments
    billing_start: Moments
    billing_end: Moments
    namespaces: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.report)

    def take(self, positions: Ints | npt.NDArray[np.bool_]) -> RowTable:
        """The rows at `positions` (or where a mask is True), in that order."""
        changes = {
            column.name: getattr(self, column.name)[positions]
            for column in dataclasses.fields(self)
            if column.name not in ("namespaces", "models")
        }
        return dataclasses.replace(self, **changes)


@dataclass
class Charges:
    """The charges of a batch of reports, ready for a column layout."""

    reports: ReportTable
    rows: RowTable
    scale: int
    rejects: list[RejectedObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def billed_in(self, month_start: np.datetime64) -> Charges:
        """Only the rows whose billing period starts at `month_start`."""
        kept = self.rows.take(self.rows.billing_start == month_start)
        return dataclasses.replace(self, rows=kept)

    @property
    def report_periods(self) -> int:
        """How many distinct report periods have rows."""
        return len({self.reports.key(int(report)) for report in np.unique(self.rows.report)})


@dataclass(frozen=True)
class _Entries:
    """Every `byModel` entry of a batch of reports, report after report, as columns."""

    counts: Ints  # entries per report
    models: list[str]
    namespaces: list[str]
    input_tokens: money.Units
    output_tokens: money.Units
    costs: list[Decimal]

    @classmethod
    def of(cls, reports: Sequence[UsageReport]) -> _Entries:
        flat = [entry for report in reports for entry in report.by_model]
        # The entries' fields as columns, transposed in one pass.
        models, namespaces, input_tokens, output_tokens, costs = (
            zip(*flat, strict=True) if flat else ((), (), (), (), ())
        )
        return cls(
            counts=np.fromiter((len(r.by_model) for r in reports), np.int64, len(reports)),
            models=list(models),
            namespaces=list(namespaces),
            input_tokens=money.exact_ints(input_tokens),
            output_tokens=money.exact_ints(output_tokens),
            costs=list(costs),
        )


@dataclass(frozen=True)
class _Money:
    """A batch's amounts in units of one scale, and the quantum of each report's derived shares."""

    scale: int
    entry_cost: money.Units
    report_cost: npt.NDArray[np.object_]
    report_cloud_cost: npt.NDArray[np.object_]  # 0 where the report has no cloud comparison
    has_cloud: npt.NDArray[np.bool_]
    quantum: npt.NDArray[np.object_]


def build_charges(
    reports: list[UsageReport], profiles: Mapping[tuple[str, str], CostProfile]
) -> Charges:
    """The charges of `reports`; `profiles` are keyed by (namespace, name)."""
    rejects: list[RejectedObject] = []
    warnings: list[str] = []
    entries = _Entries.of(reports)
    comparisons = [max(r.cloud_comparison, key=lambda c: c.savings, default=None) for r in reports]

    # Reports whose breakdown claims more tokens than their totals contradict themselves.
    covered_input = money.segment_sums(entries.input_tokens, entries.counts)
    covered_output = money.segment_sums(entries.output_tokens, entries.counts)
    problems = [
        _overcovered(report, covered_input[index], covered_output[index])
        for index, report in enumerate(reports)
    ]
    accepted = np.array([problem is None for problem in problems], dtype=bool)

    # What the breakdown leaves uncovered becomes a report-level row (the whole report when there
    # is no breakdown), so the rows of a report always add up to its totals.
    amounts = _money(reports, entries, comparisons, accepted)
    rest_input = _totals(reports, "input_tokens") - covered_input
    rest_output = _totals(reports, "output_tokens") - covered_output
    rest_cost = amounts.report_cost - money.segment_sums(amounts.entry_cost, entries.counts)
    has_rest = (entries.counts == 0) | (rest_input != 0) | (rest_output != 0) | (rest_cost != 0)
    for index, report in enumerate(reports):
        problem = problems[index]
        if problem is not None:
            logger.warning("rejected %s", problem)
            rejects.append(problem)
        elif has_rest[index] and report.by_model:
            warnings.append(_partial_coverage(report, covered_input[index], covered_output[index]))

    kept = [report for report, ok in zip(reports, accepted, strict=True) if ok]
    table = _report_table(kept, [c for c, ok in zip(comparisons, accepted, strict=True) if ok])
    _warn_missing_profiles(kept, profiles, warnings)
    table = _with_profiles(table, kept, profiles)
    rests = (rest_input, rest_output, rest_cost)
    rows = _rows(entries, accepted, has_rest, amounts, rests, table.report_namespace)
    rows = _share_cloud_cost(rows, amounts, accepted)
    rows = _split_at_month_boundaries(rows, kept, amounts.quantum[accepted])
    rows = _add_savings(rows)
    rows = _order(rows, table)
    return Charges(
        reports=table, rows=rows, scale=amounts.scale, rejects=rejects, warnings=warnings
    )


def _overcovered(
    report: UsageReport, covered_input: int, covered_output: int
) -> RejectedObject | None:
    for field_name, covered, total in (
        ("inputTokens", covered_input, report.input_tokens),
        ("outputTokens", covered_output, report.output_tokens),
    ):
        if covered > total:
            return RejectedObject(
                "UsageReport",
                report.ref,
                "status.byModel",
                f"its entries add up to {covered} {field_name}, more than status.{field_name} "
                f"{total}; the report contradicts itself",
            )
    return None


def _partial_coverage(report: UsageReport, covered_input: int, covered_output: int) -> str:
    covered_cost = sum((entry.cost for entry in report.by_model), Decimal(0))
    message = (
        f"UsageReport {report.ref} period {report.period}: status.byModel covers "
        f"{covered_input + covered_output} of {report.input_tokens + report.output_tokens} "
        f"tokens and {covered_cost} of {report.cost} USD; the difference is exported as a "
        "row without model"
    )
    logger.warning(message)
    return message


def _totals(reports: Sequence[UsageReport], name: str) -> npt.NDArray[np.object_]:
    return np.fromiter((getattr(report, name) for report in reports), object, len(reports))


def _money(
    reports: Sequence[UsageReport],
    entries: _Entries,
    comparisons: Sequence[CloudComparison | None],
    accepted: npt.NDArray[np.bool_],
) -> _Money:
    """Units of the smallest scale (at least `MIN_DERIVED_SCALE`) that holds every amount exactly.

    A report's own scale covers its cost, its entries' costs and its chosen cloud cost; its
    derived shares are exact to that scale, so their quantum is `10**(scale - own scale)`.
    """
    scale = money.MIN_DERIVED_SCALE
    cloud = [Decimal(0) if c is None else c.cloud_cost for c in comparisons]
    report_costs = [report.cost for report in reports]
    entry_units, entry_exact = money.scaled_units(entries.costs, scale)
    report_units, report_exact = money.scaled_units(report_costs, scale)
    cloud_units, cloud_exact = money.scaled_units(cloud, scale)

    # Almost always every amount fits the minimum scale; otherwise a report needs its own.
    inexact_entries = money.segment_sums((~entry_exact).astype(np.int64), entries.counts)
    own_scale = np.full(len(reports), scale, dtype=np.int64)
    for index in np.flatnonzero(~(report_exact & cloud_exact & (inexact_entries == 0))).tolist():
        own_scale[index] = _report_scale(reports[index], comparisons[index])
    scale = int(max(scale, own_scale[accepted].max(initial=scale)))
    if scale != money.MIN_DERIVED_SCALE:
        entry_units = money.scaled_units(entries.costs, scale)[0]
        report_units = money.scaled_units(report_costs, scale)[0]
        cloud_units = money.scaled_units(cloud, scale)[0]
    powers = np.array([10**places for places in range(scale + 1)], dtype=object)
    return _Money(
        scale=scale,
        entry_cost=entry_units,
        report_cost=money.as_objects(report_units),
        report_cloud_cost=money.as_objects(cloud_units),
        has_cloud=np.array([c is not None for c in comparisons], dtype=bool),
        # NB: a rejected report may need more places than the batch's scale; it has no rows.
        quantum=powers[np.maximum(scale - own_scale, 0)],
    )


def _report_scale(report: UsageReport, comparison: CloudComparison | None) -> int:
    amounts = [report.cost, *(entry.cost for entry in report.by_model)]
    if comparison is not None:
        amounts.append(comparison.cloud_cost)
    return max(money.MIN_DERIVED_SCALE, *(money.decimal_places(amount) for amount in amounts))


def _report_table(
    reports: Sequence[UsageReport], comparisons: Sequence[CloudComparison | None]
) -> ReportTable:
    """The report-level columns, profile columns left empty (see `_with_profiles`)."""
    empty: list[None] = [None] * len(reports)
    return ReportTable(
        report_namespace=[report.namespace for report in reports],
        report_name=[report.name for report in reports],
        report_uid=[report.uid for report in reports],
        period=[report.period for report in reports],
        schedule=[report.schedule for report in reports],
        cost_profile_ref=[report.cost_profile_ref for report in reports],
        cloud_provider=[c.provider if c else None for c in comparisons],
        cloud_model=[c.model if c else None for c in comparisons],
        gpu_model=list(empty),
        gpu_count=list(empty),
        amortization_years=list(empty),
        rate_per_kwh=list(empty),
        pue_factor=list(empty),
        labels=[report.labels for report in reports],
    )


def _warn_missing_profiles(
    reports: Sequence[UsageReport],
    profiles: Mapping[tuple[str, str], CostProfile],
    warnings: list[str],
) -> None:
    for report in reports:
        if report.cost_profile_ref is None:
            continue
        if (report.namespace, report.cost_profile_ref) not in profiles:
            message = (
                f"UsageReport {report.ref}: CostProfile "
                f"{report.namespace}/{report.cost_profile_ref} was not found; its columns "
                "are left empty"
            )
            logger.warning(message)
            warnings.append(message)


def _with_profiles(
    table: ReportTable,
    reports: Sequence[UsageReport],
    profiles: Mapping[tuple[str, str], CostProfile],
) -> ReportTable:
    """The table with each report's CostProfile (same namespace, `spec.costProfileRef`)."""
    found = [
        profiles.get((report.namespace, report.cost_profile_ref))
        if report.cost_profile_ref is not None
        else None
        for report in reports
    ]
    return dataclasses.replace(
        table,
        gpu_model=[p.gpu_model if p else None for p in found],
        gpu_count=[p.gpu_count if p else None for p in found],
        amortization_years=[p.amortization_years if p else None for p in found],
        rate_per_kwh=[p.rate_per_kwh if p else None for p in found],
        pue_factor=[p.pue_factor if p else None for p in found],
    )


def _rows(
    entries: _Entries,
    accepted: npt.NDArray[np.bool_],
    has_rest: npt.NDArray[np.bool_],
    amounts: _Money,
    rests: tuple[npt.NDArray[np.object_], ...],
    report_namespaces: list[str],
) -> RowTable:
    """The rows of the accepted reports: each report's entries, then its report-level row."""
    # Where each entry and each report-level row lands: reports keep their order.
    entry_report = np.repeat(np.arange(len(accepted)), entries.counts)
    report_position = np.cumsum(accepted) - 1
    counts = entries.counts[accepted]
    rests_kept = has_rest[accepted]
    sizes = counts + rests_kept
    first_row = np.cumsum(sizes) - sizes
    chosen = np.flatnonzero(accepted[entry_report])
    first_entry = np.cumsum(entries.counts) - entries.counts
    owner = report_position[entry_report[chosen]]
    entry_rows = first_row[owner] + chosen - first_entry[entry_report[chosen]]
    rest_reports = np.flatnonzero(rests_kept)
    rest_rows = first_row[rest_reports] + counts[rest_reports]
    total = int(sizes.sum())

    # Text columns as codes into their sorted distinct values.
    namespace = np.empty(total, dtype=object)
    namespace[entry_rows] = np.array(entries.namespaces, dtype=object)[chosen]
    namespace[rest_rows] = np.array(report_namespaces, dtype=object)[rest_reports]
    model = np.full(total, None, dtype=object)
    model[entry_rows] = np.array(entries.models, dtype=object)[chosen]
    namespace_codes, namespaces = pd.factorize(namespace, sort=True)
    model_codes, models = pd.factorize(model, sort=True)

    rest_input, rest_output, rest_cost = (rest[accepted][rest_reports] for rest in rests)
    empty_moments = np.zeros(total, dtype="datetime64[s]")
    return RowTable(
        report=np.repeat(np.arange(len(sizes)), sizes),
        namespace=namespace_codes.astype(np.int64),
        model=model_codes.astype(np.int64),
        namespaces=[str(value) for value in namespaces],
        models=[str(value) for value in models],
        input_tokens=_placed(
            total, (entry_rows, entries.input_tokens[chosen]), (rest_rows, rest_input)
        ),
        output_tokens=_placed(
            total, (entry_rows, entries.output_tokens[chosen]), (rest_rows, rest_output)
        ),
        cost=_placed(total, (entry_rows, amounts.entry_cost[chosen]), (rest_rows, rest_cost)),
        cloud_cost=np.zeros(total, dtype=np.int64),
        has_cloud=np.zeros(total, dtype=bool),
        savings=np.zeros(total, dtype=np.int64),
        savings_percent=np.zeros(total, dtype=np.int64),
        has_savings_percent=np.zeros(total, dtype=bool),
        charge_start=empty_moments,
        charge_end=empty_moments,
        billing_start=empty_moments,
        billing_end=empty_moments,
    )


def _placed(total: int, *parts: tuple[Ints, money.Units]) -> money.Units:
    """A column of `total` rows from (rows, values) parts that cover every row once."""
    exact = any(values.dtype == np.object_ for _, values in parts)
    column = np.empty(total, dtype=object if exact else np.int64)
    for rows, values in parts:
        column[rows] = values
    return money.compact(column)


def _share_cloud_cost(rows: RowTable, amounts: _Money, accepted: npt.NDArray[np.bool_]) -> RowTable:
    """Each row's share of its report's cloud-equivalent cost, by tokens."""
    has_cloud = amounts.has_cloud[accepted][rows.report]
    shared = np.flatnonzero(has_cloud)
    report = rows.report[shared]
    parts = money.allocate(
        amounts.report_cloud_cost[accepted][report],
        money.add(rows.input_tokens[shared], rows.output_tokens[shared]),
        report,
        amounts.quantum[accepted][report],
    )
    unshared = np.flatnonzero(~has_cloud)
    zeros = np.zeros(len(unshared), dtype=np.int64)
    cloud_cost = _placed(len(rows), (shared, parts), (unshared, zeros))
    return dataclasses.replace(rows, cloud_cost=cloud_cost, has_cloud=has_cloud)


def _split_at_month_boundaries(
    rows: RowTable, reports: Sequence[UsageReport], quanta: npt.NDArray[np.object_]
) -> RowTable:
    """One piece per calendar month (UTC) a charge touches, tokens and money pro rata by time."""
    start = _moments([report.period_start for report in reports])
    end = _moments([report.period_end for report in reports])

    # How many months each report's charge touches (its end is exclusive).
    first = start.astype("datetime64[M]")
    last_moment = np.where(end <= start, end, end - _SECOND)
    last = np.maximum(last_moment.astype("datetime64[M]"), first)
    pieces = (last - first).astype(np.int64)[rows.report] + 1

    # One row per piece, clipped to its month.
    row = np.repeat(np.arange(len(rows)), pieces)
    split = rows.take(row) if len(row) != len(rows) else rows
    piece = np.arange(len(row)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    month = first[split.report] + piece
    billing_start = month.astype("datetime64[s]")
    billing_end = (month + 1).astype("datetime64[s]")
    split = dataclasses.replace(
        split,
        charge_start=np.maximum(start[split.report], billing_start),
        charge_end=np.minimum(end[split.report], billing_end),
        billing_start=billing_start,
        billing_end=billing_end,
    )
    if len(row) == len(rows):
        return split

    # Tokens and money of split charges, by seconds in each month.
    parted = np.flatnonzero(pieces[row] > 1)
    whole = np.flatnonzero(pieces[row] == 1)
    seconds = (split.charge_end[parted] - split.charge_start[parted]).astype(np.int64)
    ones = np.ones(len(parted), dtype=np.int64)
    report_quanta = quanta[split.report[parted]]

    def shared(values: money.Units, quanta: money.Units) -> money.Units:
        parts = money.allocate(values[parted], seconds, row[parted], quanta)
        return _placed(len(row), (parted, parts), (whole, values[whole]))

    return dataclasses.replace(
        split,
        input_tokens=shared(split.input_tokens, ones),
        output_tokens=shared(split.output_tokens, ones),
        cost=shared(split.cost, report_quanta),
        cloud_cost=shared(split.cloud_cost, report_quanta),
    )


def _moments(times: Sequence[datetime]) -> Moments:
    """UTC datetimes as numpy seconds, fractions of a second dropped."""
    # Whole seconds since the epoch from the difference's days and seconds: exact, no floats.
    seconds = [(delta.days * 86_400 + delta.seconds) for delta in (t - _EPOCH for t in times)]
    return np.array(seconds, dtype=np.int64).astype("datetime64[s]")


def _add_savings(rows: RowTable) -> RowTable:
    """Savings against the cloud equivalent, and savings as a percentage of the cloud cost."""
    savings = money.subtract(rows.cloud_cost, rows.cost)
    defined = rows.has_cloud & (rows.cloud_cost > 0)
    where = np.flatnonzero(defined)
    percent = money.divide_product_half_even(
        savings[where], 100 * 10**PERCENT_PLACES, rows.cloud_cost[where]
    )
    zeros = np.zeros(len(rows) - len(where), dtype=np.int64)
    savings_percent = _placed(len(rows), (where, percent), (np.flatnonzero(~defined), zeros))
    return dataclasses.replace(
        rows, savings=savings, savings_percent=savings_percent, has_savings_percent=defined
    )


def _order(rows: RowTable, reports: ReportTable) -> RowTable:
    """Rows in a fixed order, so the same input always gives the same bytes.

    By report (namespace, name, period, uid), then the row's namespace, model rows before the
    report-level row, model and charge start; rows equal in all of these keep their order.
    """
    keys = [reports.key(report) for report in range(len(reports.report_name))]
    rank = np.empty(len(keys), dtype=np.int64)
    previous: tuple[str, str, str, str] | None = None
    value = -1
    for report in sorted(range(len(keys)), key=keys.__getitem__):
        if keys[report] != previous:
            previous, value = keys[report], value + 1
        rank[report] = value
    order = np.lexsort(
        (
            rows.charge_start.astype(np.int64),
            rows.model,
            rows.model < 0,
            rows.namespace,
            rank[rows.report],
        )
    )
    return rows.take(order)
