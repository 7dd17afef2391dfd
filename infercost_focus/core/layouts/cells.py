"""Cells that both layouts share, computed once per column from the charges frame."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.core import money, text
from infercost_focus.core.charges import PERCENT_PLACES, Charges
from infercost_focus.core.jsonio import decimal_text


class Cells:
    """Lazily shared column values of one charges frame (text arrays, nulls where no value)."""

    def __init__(self, charges: Charges, *, min_places: int = 0) -> None:
        self.charges = charges
        self.frame = charges.frame
        self.rows = len(charges.frame)
        self.min_places = min_places  # the conformant layout writes `18500000.0`, never `18500000`
        self.model_row = self.frame["model"].notna().to_numpy()
        self.input_tokens = self.frame["input_tokens"].to_numpy(dtype=object)
        self.output_tokens = self.frame["output_tokens"].to_numpy(dtype=object)
        self.tokens = self.input_tokens + self.output_tokens
        self.has_cloud = self.frame["has_cloud"].to_numpy(dtype=bool)

    def money(self, column: str, *, valid: object = None) -> pa.Array:
        return money.format_units(
            self.frame[column].to_numpy(dtype=object),
            self.charges.scale,
            valid=valid,  # type: ignore[arg-type]
            min_places=self.min_places,
        )

    def count(self, values: object, *, places: int = 0) -> pa.Array:
        return money.format_units(values, places, min_places=self.min_places)  # type: ignore[arg-type]

    def time(self, column: str) -> pa.Array:
        return text.times(self.frame[column])

    def strings(self, column: str) -> pa.Array:
        return text.strings(self.frame[column])

    def decimal_strings(self, column: str) -> pa.Array:
        places = self.min_places

        def written(value: object) -> str | None:
            if _missing(value):
                return None
            digits = decimal_text(value)  # type: ignore[arg-type]
            if places and "." not in digits:
                digits += "." + "0" * places
            return digits

        return text.strings(self.frame[column].map(written))

    def integer_strings(self, column: str) -> pa.Array:
        values = self.frame[column].map(lambda value: None if _missing(value) else str(int(value)))
        return text.strings(values)

    def report_ref(self, namespace_column: str = "namespace") -> pa.Array:
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
        subject = pc.if_else(
            self.model_row,
            pc.binary_join_element_wise("by ", self.strings("model"), ""),
            pa.scalar("without model breakdown"),
        )
        return pc.binary_join_element_wise(
            "Inference of",
            money.format_units(self.tokens, 0),
            "tokens",
            subject,
            "for UsageReport",
            self.report_ref("report_namespace"),
            "in period",
            self.strings("period"),
            " ",
        )

    def cloud_cost(self) -> pa.Array:
        return self.money("cloud_cost", valid=self.has_cloud)

    def savings(self) -> pa.Array:
        return self.money("savings", valid=self.has_cloud)

    def savings_percent(self) -> pa.Array:
        return money.format_units(
            self.frame["savings_percent"].to_numpy(dtype=object),
            PERCENT_PLACES,
            valid=self.frame["has_savings_percent"].to_numpy(dtype=bool),
            min_places=self.min_places,
        )

    def json_member(self, column: str) -> pa.Array:
        return text.json_strings(self.frame[column])

    def constant(self, value: str | None) -> pa.Array:
        return text.constant(value, self.rows)


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


def _missing(value: object) -> bool:
    return value is None or value != value  # None or NaN
