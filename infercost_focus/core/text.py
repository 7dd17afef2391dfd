"""Column-wide text building blocks for layouts: times, JSON objects, formula neutralisation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FOCUS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIX = r"^[=+\-@\t\r]"


def strings(values: pd.Series | Sequence[object]) -> pa.Array:
    """A text column; None and NaN become null."""
    series = pd.Series(values, dtype=object)
    return pa.array(series.where(series.notna(), None), type=pa.string())


def constant(value: str | None, length: int) -> pa.Array:
    return pa.array(np.full(length, value, dtype=object), type=pa.string())


def times(moments: pd.Series) -> pa.Array:
    """UTC timestamps as `YYYY-MM-DDTHH:MM:SSZ`."""
    seconds = pa.array(moments.astype("datetime64[s, UTC]"))
    return pc.strftime(seconds, format=FOCUS_TIME_FORMAT)


def json_strings(values: pd.Series) -> pa.Array:
    """Each value as a JSON string literal (quoted, escaped); null stays null.

    Escaping runs once per distinct value: label and model names repeat across many rows.
    """
    series = pd.Series(values, dtype=object)
    present = series.dropna()
    literals = {value: json.dumps(value, ensure_ascii=False) for value in present.unique()}
    return strings(series.map(literals))


def json_objects(
    members: Sequence[tuple[str, pa.Array]], fragments: pa.Array | None = None
) -> pa.Array:
    """Rows of JSON objects from (key, value-literal column) pairs; a null value omits its key.

    Values must already be JSON literals (see `json_strings`); keys are written as given, so the
    object text is built without a Python loop over rows. `fragments` adds ready-made members
    (`"k":"v","k2":1`) per row after the others; null or empty adds nothing.
    """
    if not members:
        raise ValueError("a JSON object column needs at least one member")
    parts = []
    for key, literals in members:
        key_literal = json.dumps(key, ensure_ascii=False) + ":"
        parts.append(pc.binary_join_element_wise(key_literal, literals, ""))
    if fragments is not None:
        parts.append(pc.if_else(pc.equal(fragments, ""), pa.scalar(None, pa.string()), fragments))
    body = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
    return pc.binary_join_element_wise("{", body, "}", "")


NON_ASCII = r"[^\x00-\x7f]"


def ascii_only(column: pa.Array) -> pa.Array:
    """Non-ASCII characters percent-encoded as UTF-8 bytes (`ü` becomes `%C3%BC`).

    Only cells that hold non-ASCII text change, and each distinct value is encoded once.
    """
    risky = pc.fill_null(pc.match_substring_regex(column, NON_ASCII), False)
    if not pc.any(risky).as_py():
        return column
    values = pd.Series(column.to_pylist(), dtype=object)
    encoded = {
        value: quote(value, safe="".join(chr(c) for c in range(32, 127)))
        for value in values[risky.to_numpy(zero_copy_only=False)].unique()
    }
    return pc.if_else(risky, strings(values.map(encoded)), column)


def neutralise_formulas(column: pa.Array) -> pa.Array:
    """Prefix an apostrophe to cells a spreadsheet would run as a formula."""
    risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_PREFIX), False)
    if not pc.any(risky).as_py():
        return column
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
