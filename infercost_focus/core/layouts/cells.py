"""Cells that both layouts share, computed once per column from the charges.

Most cells are the same for every row of a report (its name, period, CostProfile, cloud
comparison): they are written once per report and repeated to the report's rows with one Arrow
`take`. Row text (the row's namespace, the model) is written once per distinct value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.core import money, text
from infercost_focus.core.charges import PERCENT_PLACES, Charges
from infercost_focus.core.jsonio import decimal_text
from infercost_focus.core.money import Units

# Columns of the charges that differ between rows of a report; all others are the report's.
_ROW_TEXT = ("namespace", "model")


class Cells:
    """Lazily shared column values of one batch of charges (text arrays, nulls where no value)."""

    def __init__(self, charges: Charges, *, min_places: int = 0) -> None:
        self.charges = charges
        self.table = charges.rows
        self.reports = charges.reports
        self.rows = len(charges.rows)
        self.min_places = min_places  # the conformant layout writes `18500000.0`, never `18500000`
        self.model_row = self.table.model >= 0
        self.input_tokens = self.table.input_tokens
        self.output_tokens = self.table.output_tokens
        self.tokens = money.add(self.input_tokens, self.output_tokens)
        self.has_cloud = self.table.has_cloud
        self._report_of_row = pa.array(self.table.report)
        self._strings: dict[str, pa.Array] = {}

    def per_row(self, per_report: pa.Array) -> pa.Array:
        """Cells written once per report, repeated to each row of the report."""
        return per_report.take(self._report_of_row)

    def report_values(self, column: str) -> Sequence[Any]:
        """A report-level column of the charges, one value per report."""
        values: Sequence[Any] = getattr(self.reports, column)
        return values

    def money(self, column: str, *, valid: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        return money.format_units(
            getattr(self.table, column), self.charges.scale, valid=valid, min_places=self.min_places
        )

    def count(self, values: Units, *, places: int = 0) -> pa.Array:
        return money.format_units(values, places, min_places=self.min_places)

    def time(self, column: str) -> pa.Array:
        return text.times(getattr(self.table, column))

    def strings(self, column: str) -> pa.Array:
        """A text column of the charges, row-level or report-level, null where it has none."""
        if column not in self._strings:
            if column in _ROW_TEXT:
                self._strings[column] = self._coded(
                    column, pa.array(self._distinct(column), pa.string())
                )
            else:
                per_report = pa.array(self.report_values(column), type=pa.string())
                self._strings[column] = self.per_row(per_report)
        return self._strings[column]

    def decimal_strings(self, column: str) -> pa.Array:
        places = self.min_places
        written: dict[Decimal, str] = {}

        def digits(value: Decimal) -> str:
            if value not in written:
                text = decimal_text(value)
                written[value] = text + "." + "0" * places if places and "." not in text else text
            return written[value]

        values = self.report_values(column)
        per_report = [None if value is None else digits(value) for value in values]
        return self.per_row(pa.array(per_report, type=pa.string()))

    def integer_strings(self, column: str) -> pa.Array:
        values = self.report_values(column)
        per_report = [None if value is None else str(int(value)) for value in values]
        return self.per_row(pa.array(per_report, type=pa.string()))

    def report_ref(self, namespace_column: str = "namespace") -> pa.Array:
        if namespace_column == "report_namespace":
            per_report = pc.binary_join_element_wise(
                self._report_strings("report_namespace"), self._report_strings("report_name"), "/"
            )
            return self.per_row(per_report)
        return pc.binary_join_element_wise(
            self.strings(namespace_column), self.strings("report_name"), "/"
        )

    def resource_id(self) -> pa.Array:
        """`<ns>/<report>/<model>`, or `<ns>/<report>` for a row without model."""
        report = self.report_ref()
        with_model = pc.binary_join_element_wise(report, self.strings("model"), "/")
        return pc.if_else(self.model_row, with_model, report)

    def resource_name(self) -> pa.Array:
        return pc.if_else(self.model_row, self.strings("model"), self.strings("report_name"))

    def description(self) -> pa.Array:
        """`Inference of <n> tokens by <model> for UsageReport <ns>/<report> in period <p>`.

        Written without commas so that comma-splitting tools keep their column positions.
        """
        models = pa.array(self._distinct("model"), type=pa.string())
        subject = self._coded(
            "model", pc.binary_join_element_wise("by ", models, ""), "without model breakdown"
        )
        report = pc.binary_join_element_wise(
            "for UsageReport",
            pc.binary_join_element_wise(
                self._report_strings("report_namespace"), self._report_strings("report_name"), "/"
            ),
            "in period",
            self._report_strings("period"),
            " ",
        )
        return pc.binary_join_element_wise(
            "Inference of",
            money.format_units(self.tokens, 0),
            "tokens",
            subject,
            self.per_row(report),
            " ",
        )

    def cloud_cost(self) -> pa.Array:
        return self.money("cloud_cost", valid=self.has_cloud)

    def savings(self) -> pa.Array:
        return self.money("savings", valid=self.has_cloud)

    def savings_percent(self) -> pa.Array:
        return money.format_units(
            self.table.savings_percent,
            PERCENT_PLACES,
            valid=self.table.has_savings_percent,
            min_places=self.min_places,
        )

    def json_object(
        self,
        members: Sequence[tuple[str, str]],
        extra: Sequence[tuple[str, str]] = (),
        fragments: Sequence[str] | None = None,
    ) -> pa.Array:
        """JSON objects of (key, column) members, then `extra` (key, value) and `fragments`.

        A member without value leaves its key out; `fragments` are ready-made members
        (`"k":"v"`), one string per report. Members of report-level columns are written once per
        report, so only row-level ones (the model) are joined row by row.
        """
        # Consecutive report-level members make one segment, written once per report; a row-level
        # member (the model) makes its own, written once per distinct value.
        segments: list[tuple[str | None, pa.Array]] = []
        pending: list[tuple[str, pa.Array]] = []
        for key, column in members:
            if column in _ROW_TEXT:
                if pending:
                    segments.append((None, text.json_members(pending)))
                    pending = []
                literals = text.json_strings(self._distinct(column))
                segments.append((column, text.json_members([(key, literals)])))
            else:
                pending.append((key, text.json_strings(self.report_values(column))))
        reports = len(self.reports.report_name)
        for key, value in extra:
            pending.append((key, text.constant(json.dumps(value, ensure_ascii=False), reports)))
        tail = None if fragments is None else pa.array(fragments, type=pa.string())
        if pending or tail is not None:
            segments.append((None, text.json_members(pending, tail)))

        # When every object has a first member (a report's name, say), each later segment can
        # bring its own comma and the braces ride on the first and last: one join per row.
        if segments[0][0] is None and segments[0][1].null_count == 0:
            last = len(segments) - 1
            pieces = []
            for position, (level, bodies) in enumerate(segments):
                opened = pc.binary_join_element_wise("{" if position == 0 else ",", bodies, "")
                piece = pc.fill_null(opened, "")
                if position == last:
                    piece = pc.binary_join_element_wise(piece, "}", "")
                pieces.append(self._spread(level, piece, default=""))
            return pieces[0] if len(pieces) == 1 else pc.binary_join_element_wise(*pieces, "")
        parts = [self._spread(level, bodies) for level, bodies in segments]
        body = pc.fill_null(text.join_present(parts, ","), "")
        return pc.binary_join_element_wise("{", body, "}", "")

    def json_member(self, column: str) -> pa.Array:
        """Each row's value of `column` as a JSON literal (null where it has none)."""
        if column in _ROW_TEXT:
            return self._coded(column, text.json_strings(self._distinct(column)))
        return self.per_row(text.json_strings(self.report_values(column)))

    def constant(self, value: str | None) -> pa.Array:
        return text.constant(value, self.rows)

    def _report_strings(self, column: str) -> pa.Array:
        return pa.array(self.report_values(column), type=pa.string())

    def _distinct(self, column: str) -> list[str]:
        distinct: list[str] = getattr(self.table, f"{column}s")
        return distinct

    def _coded(self, column: str, per_value: pa.Array, default: str | None = None) -> pa.Array:
        """A row-level text column from its distinct values' cells; code -1 gets `default`."""
        codes = getattr(self.table, column)
        if default is None:
            return per_value.take(pa.array(codes, mask=codes < 0))
        with_default = pa.concat_arrays([per_value, pa.array([default], type=pa.string())])
        return with_default.take(pa.array(np.where(codes < 0, len(per_value), codes)))

    def _spread(self, column: str | None, values: pa.Array, default: str | None = None) -> pa.Array:
        """Values per report (`column` None) or per distinct value of a row-level column, as
        cells of every row; a row without a value of that column gets `default`."""
        if column is None:
            return self.per_row(values)
        return self._coded(column, values, default)


def finish(
    columns: dict[str, pa.Array],
    names: tuple[str, ...],
    free_text: tuple[str, ...],
    *,
    neutralise: bool,
    empty_for_null: bool,
) -> pd.DataFrame:
    """The layout's frame: columns in order, formulas neutralised, nulls as the layout wants."""
    if neutralise:
        for name in free_text:
            columns[name] = text.neutralise_formulas(columns[name])
    arrays = {
        name: pc.fill_null(columns[name], "") if empty_for_null else columns[name] for name in names
    }
    frame: pd.DataFrame = pa.table(arrays).to_pandas(types_mapper=pd.ArrowDtype)
    return frame
