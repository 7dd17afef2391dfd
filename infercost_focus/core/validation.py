"""The schema check of a FOCUS frame, run on the exact text that is about to be written.

Each rule looks at whole columns and reports the column, the rule and the first offending rows.
The rules come from the layout's column specs (kinds, required cells, allowed values, nulls) plus
the relations every FOCUS file must keep: charges inside their billing period, equal cost columns,
quantities that add up, Tags as flat JSON objects, and rows that reconcile with their reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from infercost_focus.core.layouts import INFERCOST, Layout, get_layout
from infercost_focus.core.layouts.focus12 import FOCUS_12_DEFINED, TOKENS_PER_PRICING_UNIT
from infercost_focus.core.resources import UsageReport
from infercost_focus.core.text import NON_ASCII, string_buffers

EXAMPLES = 5

_DECIMAL = r"^-?(0|[1-9]\d*)(\.\d*[1-9])?$"
_DECIMAL_WITH_POINT = r"^-?(0|[1-9]\d*)\.\d+$"
_INTEGER = r"^(0|[1-9]\d*)$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_CUSTOM_NAME = re.compile(r"^x_[A-Z][A-Za-z0-9]*$")
_UNIT_PRICE_TOLERANCE = Decimal("1e-9")
_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, what, and the first offending rows (0-based) with their values."""

    column: str
    rule: str
    count: int
    examples: tuple[tuple[int, str], ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(f"row {row}: {value!r}" for row, value in self.examples)
        return f"{self.column}: {self.rule} ({self.count} rows; {shown})"


@dataclass
class CheckResult:
    rows: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.passed:
            return f"all {self.rows} rows pass the schema check"
        lines = [f"{len(self.problems)} rules failed on {self.rows} rows:"]
        lines.extend(f"- {problem}" for problem in self.problems)
        return "\n".join(lines)


def check_frame(
    frame: pd.DataFrame,
    layout_name: str = INFERCOST,
    *,
    reports: Iterable[UsageReport] | None = None,
    billing_month: str | None = None,
) -> CheckResult:
    """Check `frame` against a layout.

    With `reports`, the rows of each report period must add up to its totals. With
    `billing_month` (`2026-04`), every row must belong to that billing month, and a period that
    crosses into another month must add up to no more than its totals.
    """
    layout = get_layout(layout_name)
    result = CheckResult(rows=len(frame))
    _check_columns(result, frame, layout)
    if not result.passed or frame.empty:
        return result

    # Cells, column by column; nulls become "" once null-versus-empty has been checked.
    cells = _cells(result, frame, layout)
    _check_cell_formats(result, cells, layout)
    if not result.passed:
        return result

    # Relations between columns.
    _check_times(result, cells, layout.roles, billing_month)
    _check_amounts(result, cells, layout)
    keys = _check_json(result, cells, layout)
    if reports is not None and keys is not None:
        exact = billing_month is None
        _check_reconciliation(result, cells, keys, list(reports), layout.roles, exact=exact)
    return result


def check_infercost_frame(
    frame: pd.DataFrame,
    *,
    reports: Iterable[UsageReport] | None = None,
    billing_month: str | None = None,
) -> CheckResult:
    return check_frame(frame, INFERCOST, reports=reports, billing_month=billing_month)


def _check_columns(result: CheckResult, frame: pd.DataFrame, layout: Layout) -> None:
    columns = [str(name) for name in frame.columns]
    expected = list(layout.names)
    if columns != expected:
        missing = [name for name in expected if name not in columns]
        unexpected = [name for name in columns if name not in expected]
        if missing or unexpected:
            rule = f"columns differ from the layout: missing {missing}, unexpected {unexpected}"
        else:
            first = next(
                i for i, (a, b) in enumerate(zip(columns, expected, strict=True)) if a != b
            )
            rule = (
                f"column {first + 1} is {columns[first]!r}, the layout has "
                f"{expected[first]!r} there"
            )
        result.problems.append(Problem("(columns)", rule, len(missing) + len(unexpected) or 1))
        return

    # Custom columns: the prefix, PascalCase alphanumeric names, after every FOCUS column.
    if layout.custom_prefix != "x_":
        return
    custom = [name for name in columns if name not in FOCUS_12_DEFINED]
    for name in custom:
        if not _CUSTOM_NAME.match(name):
            result.problems.append(
                Problem(
                    name, "a custom column must be named x_ then PascalCase letters and digits", 1
                )
            )
    if custom and columns.index(custom[0]) != len(columns) - len(custom):
        result.problems.append(
            Problem(custom[0], "custom columns must follow all FOCUS columns", 1)
        )


def _cells(result: CheckResult, frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The frame as plain strings ("" for no value), after checking how no value is written."""
    cells = {}
    for name in layout.names:
        column = frame[name]
        nulls = column.isna()
        # NB: text columns stay Arrow strings, so the rules below run as Arrow compute; columns
        # of anything else are read as the text they would be written as.
        text = _is_text(column.dtype)
        values = column if text else column.astype(object)
        if layout.nulls == "empty":
            rule, bad = "must be an empty string, not null, when it has no value", nulls
        else:
            rule, bad = (
                "must be null, not an empty string, when it has no value",
                ~nulls & (values == ""),
            )
        _add(result, name, rule, bad, values)
        if not text:
            cells[name] = values.where(~nulls, "").astype(str)
        else:
            cells[name] = values.fillna("") if nulls.any() else values
    return pd.DataFrame(cells, index=frame.index)


def _is_text(dtype: object) -> bool:
    """Whether a column holds strings the rules can read as they are (pandas or Arrow strings)."""
    if isinstance(dtype, pd.ArrowDtype):
        return bool(dtype.pyarrow_dtype in (pa.string(), pa.large_string()))
    return isinstance(dtype, pd.StringDtype)


def _check_cell_formats(result: CheckResult, cells: pd.DataFrame, layout: Layout) -> None:
    decimal = _DECIMAL_WITH_POINT if layout.decimal_point else _DECIMAL
    formats = {
        "decimal": (
            decimal,
            "must be a plain decimal number"
            + (" with a decimal point" if layout.decimal_point else ""),
        ),
        "integer": (_INTEGER, "must be a whole number"),
        "time": (_TIME, "must be a UTC time YYYY-MM-DDTHH:MM:SSZ"),
    }
    for column in layout.columns:
        values = cells[column.name]
        present = values != ""
        if column.required:
            _add(result, column.name, "must not be empty", ~present, values)
        if column.kind in formats:
            pattern, rule = formats[column.kind]
            _add(result, column.name, rule, present & ~values.str.match(pattern), values)
        if column.name in layout.ascii_columns:
            _add(
                result,
                column.name,
                "must hold ASCII characters only",
                values.str.contains(NON_ASCII, regex=True),
                values,
            )
        if column.allowed:
            allowed = " or ".join(repr(value) for value in column.allowed)
            _add(
                result,
                column.name,
                f"must be {allowed}",
                present & ~values.isin(column.allowed),
                values,
            )


def _add(result: CheckResult, column: str, rule: str, bad: pd.Series, values: pd.Series) -> None:
    bad = bad.fillna(True).astype(bool)
    count = int(bad.sum())
    if count:
        rows = values[bad].head(EXAMPLES)
        examples = tuple((int(str(row)), str(value)) for row, value in rows.items())
        result.problems.append(Problem(column, rule, count, examples))


def _check_times(
    result: CheckResult, cells: pd.DataFrame, roles: dict[str, str], billing_month: str | None
) -> None:
    names = {
        role: roles[role] for role in ("charge_start", "charge_end", "billing_start", "billing_end")
    }
    moments = {
        role: pd.to_datetime(cells[name], format="%Y-%m-%dT%H:%M:%SZ", utc=True, errors="coerce")
        for role, name in names.items()
    }
    for role, values in moments.items():
        _add(result, names[role], "must be a real date and time", values.isna(), cells[names[role]])
    if not result.passed:
        return
    start, end = moments["charge_start"], moments["charge_end"]
    billing_start, billing_end = moments["billing_start"], moments["billing_end"]
    _add(
        result,
        names["charge_end"],
        f"must not be before {names['charge_start']}",
        end < start,
        cells[names["charge_end"]],
    )
    first_of_month = (billing_start.dt.day == 1) & (billing_start.dt.normalize() == billing_start)
    _add(
        result,
        names["billing_start"],
        "must be the first instant of a month",
        ~first_of_month,
        cells[names["billing_start"]],
    )
    _add(
        result,
        names["billing_end"],
        "must be the first instant of the next month",
        billing_end != billing_start + pd.DateOffset(months=1),
        cells[names["billing_end"]],
    )
    _add(
        result,
        names["charge_start"],
        f"must not be before {names['billing_start']} (a charge lies inside its billing period)",
        start < billing_start,
        cells[names["charge_start"]],
    )
    _add(
        result,
        names["charge_end"],
        f"must not be after {names['billing_end']} (a charge lies inside its billing period)",
        end > billing_end,
        cells[names["charge_end"]],
    )
    if billing_month is not None:
        month_start = pd.Timestamp(f"{billing_month}-01T00:00:00Z")
        _add(
            result,
            names["billing_start"],
            f"must be the billing month {billing_month}",
            billing_start != month_start,
            cells[names["billing_start"]],
        )


def _check_amounts(result: CheckResult, cells: pd.DataFrame, layout: Layout) -> None:
    roles = layout.roles
    billed = cells[roles["billed_cost"]]
    for role in ("effective_cost", "list_cost", "contracted_cost"):
        name = roles[role]
        _add(result, name, f"must equal {roles['billed_cost']}", cells[name] != billed, cells[name])
    _add(result, roles["billed_cost"], "must not be negative", billed.str.startswith("-"), billed)
    tokens = _ints(cells[roles["input_tokens"]]) + _ints(cells[roles["output_tokens"]])
    quantity = _decimals(cells[roles["quantity"]])
    _add(
        result,
        roles["quantity"],
        f"must equal {roles['input_tokens']} + {roles['output_tokens']}",
        pd.Series(
            [q != t for q, t in zip(quantity, tokens.tolist(), strict=True)], index=cells.index
        ),
        cells[roles["quantity"]],
    )
    if layout.custom_prefix == "x_":
        _check_pricing(result, cells, tokens)


def _check_pricing(result: CheckResult, cells: pd.DataFrame, tokens: pd.Series) -> None:
    """PricingQuantity is tokens in millions; unit price times PricingQuantity gives the cost."""
    pricing = _decimals(cells["PricingQuantity"])
    expected = [Decimal(count) / TOKENS_PER_PRICING_UNIT for count in tokens.tolist()]
    _add(
        result,
        "PricingQuantity",
        "must be the tokens in millions",
        pd.Series([p != e for p, e in zip(pricing, expected, strict=True)], index=cells.index),
        cells["PricingQuantity"],
    )
    for column, cost_column in (
        ("ListUnitPrice", "ListCost"),
        ("ContractedUnitPrice", "ContractedCost"),
    ):
        price = cells[column]
        off = [
            bool(p) and abs(Decimal(p) * q - c) > max(abs(c), _ONE) * _UNIT_PRICE_TOLERANCE
            for p, q, c in zip(_texts(price), pricing, _decimals(cells[cost_column]), strict=True)
        ]
        _add(
            result,
            column,
            f"times PricingQuantity must give {cost_column}",
            pd.Series(off, index=cells.index),
            price,
        )


def _check_json(result: CheckResult, cells: pd.DataFrame, layout: Layout) -> pd.DataFrame | None:
    """JSON columns hold flat objects (unique keys, scalar values); returns each row's report."""
    readers: dict[str, _Fields] = {}
    for column in layout.of_kind("json"):
        is_tags = column == layout.roles["tags"]
        bad, readers[column] = _flat_objects(
            _texts(cells[column]), layout.report_tag_keys if is_tags else ()
        )
        _add(
            result,
            column,
            "must be a JSON object with unique keys and scalar values",
            pd.Series(bad, index=cells.index),
            cells[column],
        )
    if not result.passed:
        return None
    tags = readers[layout.roles["tags"]]
    keys = pd.DataFrame(
        {
            name: tags(key)
            for name, key in zip(
                ("namespace", "name", "period"), layout.report_tag_keys, strict=True
            )
        },
        index=cells.index,
    )
    missing = keys.isna().any(axis=1)
    _add(
        result,
        layout.roles["tags"],
        f"must name the report: {', '.join(layout.report_tag_keys)}",
        missing,
        cells[layout.roles["tags"]],
    )
    return None if missing.any() else keys


_Fields = Callable[[str], list[Any]]  # one key's value per row; None where absent


def _flat_objects(values: list[str], text_keys: Sequence[str]) -> tuple[list[bool], _Fields]:
    """Which cells ("" for none) are not flat JSON objects, and a reader of their keys' values.

    All cells are first read at once by Arrow's JSON reader, one object per line, which refuses
    duplicate keys and anything that is not an object; any refusal, a nested value, or a cell
    that would not stay on one line sends the whole column to the cell-by-cell reading, which
    finds the offending cells. `text_keys` are the keys read back as text exactly.
    """
    present = [row for row, value in enumerate(values) if value]
    table = _arrow_objects([values[row] for row in present], text_keys)
    if table is not None:

        def arrow_field(key: str) -> list[Any]:
            found: list[Any] = [None] * len(values)
            if key in table.column_names:
                for row, value in zip(present, table.column(key).to_pylist(), strict=True):
                    found[row] = value
            return found

        return [False] * len(values), arrow_field

    parsed = {value: _flat_object(value) for value in set(values) if value}
    objects = [parsed[value] if value else None for value in values]

    def python_field(key: str) -> list[Any]:
        return [None if found is None else found.get(key) for found in objects]

    return [bool(value) and parsed[value] is None for value in values], python_field


def _arrow_objects(texts: list[str], text_keys: Sequence[str]) -> pa.Table | None:
    """The cells as a table, one row each, when every one is a flat JSON object; else None."""
    if not texts:
        return None
    try:
        cells = pa.array(texts, pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        return None  # a lone surrogate: the cell-by-cell reading names the cell
    if pc.any(pc.match_substring_regex(cells, r"[\r\n]")).as_py():
        return None
    # One object per line: each cell with a line end, the cells' bytes back to back.
    nothing, line_end = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())
    lines = pc.binary_join_element_wise(cells, nothing, line_end)
    offsets, data, _ = string_buffers(lines)
    document = pa.py_buffer(data[offsets[0] : offsets[-1]])
    # NB: text keys are declared, or Arrow would read a date-like value as a timestamp.
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([(key, pa.string()) for key in text_keys]),
        unexpected_field_behavior="infer",
    )
    try:
        table = pa_json.read_json(
            pa.BufferReader(document),
            read_options=pa_json.ReadOptions(block_size=max(1 << 20, document.size + 1)),
            parse_options=options,
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows != len(texts) or any(pa.types.is_nested(f.type) for f in table.schema):
        return None
    return table


# Objects decode as lists of (key, value) pairs, so that duplicate keys can be seen.
_PAIRS = json.JSONDecoder(object_pairs_hook=list)
_SCALARS = frozenset((str, int, float, bool, type(None)))  # what JSON scalars decode as


def _flat_object(text: str) -> dict[str, Any] | None:
    try:
        pairs = _PAIRS.decode(text)
    except ValueError:
        return None
    # NB: a JSON object decodes as a list of pairs, an array as a plain list; `text` tells them
    # apart.
    if not isinstance(pairs, list) or not text.lstrip().startswith("{"):
        return None
    value = dict(pairs)
    if len(value) != len(pairs):
        return None
    return value if _SCALARS.issuperset(map(type, value.values())) else None


def _check_reconciliation(
    result: CheckResult,
    cells: pd.DataFrame,
    keys: pd.DataFrame,
    reports: list[UsageReport],
    roles: dict[str, str],
    *,
    exact: bool,
) -> None:
    """Per report period: rows add up to the report's tokens and cost.

    A frame of one billing month holds only that month's part of a period that crosses a month
    boundary: such a part must not exceed the totals. Everything else must match exactly.
    """
    sums = (
        keys.assign(
            cost=pd.Series(_decimals(cells[roles["billed_cost"]]), index=cells.index, dtype=object),
            tokens=_ints(cells[roles["input_tokens"]]) + _ints(cells[roles["output_tokens"]]),
            row=cells.index,
        )
        .groupby(["namespace", "name", "period"], sort=True)
        .agg(cost=("cost", "sum"), tokens=("tokens", "sum"), row=("row", "first"))
    )
    # NB: a report deleted and created again under its name has two uids in one period; Tags
    # name the report, not the uid, so their totals are compared together.
    totals: dict[tuple[str, str, str], list[UsageReport]] = {}
    for report in reports:
        totals.setdefault((report.namespace, report.name, report.period), []).append(report)
    bad_rows: list[int] = []
    bad_values: list[str] = []
    for row in sums.reset_index().to_dict("records"):
        ref = f"{row['namespace']}/{row['name']} {row['period']}"
        same = totals.get((row["namespace"], row["name"], row["period"]))
        if same is None:
            bad_rows.append(int(row["row"]))
            bad_values.append(f"{ref}: no such UsageReport period")
            continue
        report_cost = sum((report.cost for report in same), Decimal(0))
        report_tokens = sum(report.input_tokens + report.output_tokens for report in same)
        whole = exact or all(_inside_one_month(report) for report in same)
        cost_ok = row["cost"] == report_cost if whole else row["cost"] <= report_cost
        tokens_ok = row["tokens"] == report_tokens if whole else row["tokens"] <= report_tokens
        if not (cost_ok and tokens_ok):
            bad_rows.append(int(row["row"]))
            bad_values.append(
                f"{ref}: rows {row['cost']} USD {row['tokens']} tokens, "
                f"report {report_cost} USD {report_tokens} tokens"
            )
    if bad_rows:
        examples = tuple(zip(bad_rows[:EXAMPLES], bad_values[:EXAMPLES], strict=True))
        result.problems.append(
            Problem(
                roles["billed_cost"],
                "rows must add up to their UsageReport's totals",
                len(bad_rows),
                examples,
            )
        )


def _inside_one_month(report: UsageReport) -> bool:
    start, end = report.period_start, report.period_end
    if end <= start:
        return True
    last = end - pd.Timedelta(seconds=1)
    return (start.year, start.month) == (last.year, last.month)


def _ints(values: pd.Series) -> pd.Series:
    # NB: object dtype, so counts beyond int64 stay exact (pandas would infer uint64 or float).
    return pd.Series(
        [int(text) if text else 0 for text in _texts(values)], index=values.index, dtype=object
    )


def _decimals(values: pd.Series) -> list[Decimal]:
    return [Decimal(text) if text else _ZERO for text in _texts(values)]


def _texts(values: pd.Series) -> list[str]:
    """The cells as Python strings, converted by Arrow at once (pandas would go cell by cell)."""
    texts: list[str] = values.to_numpy(dtype=object).tolist()
    return texts
