"""Column-wide text building blocks for layouts: times, JSON objects, formula neutralisation.

Checks that look for characters (does a cell start like a formula, does it hold non-ASCII text)
read the bytes of an Arrow string column directly with numpy, instead of running a pattern on
each cell: a million cells are checked in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FOCUS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIX = r"^[=+\-@\t\r]"
FORMULA_STARTS = b"=+-@\t\r"

NON_ASCII = r"[^\x00-\x7f]"

Mask = npt.NDArray[np.bool_]


def strings(values: pd.Series | Sequence[object]) -> pa.Array:
    """A text column; None and NaN become null."""
    series = pd.Series(values, dtype=object)
    return pa.array(series.where(series.notna(), None), type=pa.string())


def constant(value: str | None, length: int) -> pa.Array:
    """`length` cells holding `value` (null for None), built without a Python loop."""
    if value is None:
        return pa.nulls(length, type=pa.string())
    encoded = value.encode("utf-8")
    offsets = np.arange(length + 1, dtype=np.int64) * len(encoded)
    if offsets[-1] >= 2**31:
        return pa.repeat(pa.scalar(value, pa.string()), length)
    data = pa.py_buffer(encoded * length)
    return pa.Array.from_buffers(
        pa.string(), length, [None, pa.py_buffer(offsets.astype(np.int32)), data]
    )


def times(moments: npt.NDArray[np.datetime64]) -> pa.Array:
    """UTC times (numpy seconds) as `YYYY-MM-DDTHH:MM:SSZ`, each distinct time written once."""
    codes, distinct = pd.factorize(moments.astype("datetime64[s]").astype(np.int64))
    seconds = pa.array(np.asarray(distinct, dtype=np.int64)).cast(pa.timestamp("s"))
    written = pc.strftime(seconds, format=FOCUS_TIME_FORMAT)
    return written.take(pa.array(codes))


def json_strings(values: pd.Series | Sequence[object]) -> pa.Array:
    """Each value as a JSON string literal (quoted, escaped); None and NaN stay null.

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
    body = pc.fill_null(json_members(members, fragments), "")
    return pc.binary_join_element_wise("{", body, "}", "")


def json_members(
    members: Sequence[tuple[str, pa.Array]], fragments: pa.Array | None = None
) -> pa.Array:
    """The inside of `json_objects`: `"k":v` members joined by commas, null when there are none."""
    parts = []
    for key, literals in members:
        key_literal = json.dumps(key, ensure_ascii=False) + ":"
        parts.append(pc.binary_join_element_wise(key_literal, literals, ""))
    if fragments is not None:
        parts.append(_null_if_empty(fragments))
    if len(parts) == 1:
        return parts[0]
    return _null_if_empty(join_present(parts, ","))


def join_present(parts: Sequence[pa.Array], separator: str) -> pa.Array:
    """Per row, the parts that are not null joined by `separator` ("" when all are null).

    NB: Arrow's `null_handling="skip"` drops the rows in which every part is null (pyarrow 26).
    Unless one part is never null, an empty part leads every row and its separator is cut off.
    """
    if any(part.null_count == 0 for part in parts):
        return pc.binary_join_element_wise(*parts, separator, null_handling="skip")
    joined = pc.binary_join_element_wise("", *parts, separator, null_handling="skip")
    return pc.utf8_slice_codeunits(joined, len(separator))


def _null_if_empty(column: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def ascii_only(column: pa.Array) -> pa.Array:
    """Non-ASCII characters percent-encoded as UTF-8 bytes (`ü` becomes `%C3%BC`).

    Only cells that hold non-ASCII text change, and each distinct value is encoded once.
    """
    offsets, data, _ = string_buffers(column)
    if not (data[offsets[0] : offsets[-1]] >= 0x80).any():
        return column
    risky = _matching(column, NON_ASCII)
    values = pd.Series(column.to_pylist(), dtype=object)
    encoded = {
        value: quote(value, safe="".join(chr(c) for c in range(32, 127)))
        for value in values[risky].unique()
    }
    return pc.if_else(risky, strings(values.map(encoded)), column)


def neutralise_formulas(column: pa.Array) -> pa.Array:
    """Prefix an apostrophe to cells a spreadsheet would run as a formula."""
    offsets, data, valid = string_buffers(column)
    starts, ends = offsets[:-1], offsets[1:]
    risky = np.zeros(len(column), dtype=bool)
    filled = np.flatnonzero((ends > starts) & valid)
    risky[filled] = np.isin(data[starts[filled]], _FORMULA_BYTES)
    if not risky.any():
        return column
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


def holding_bytes(column: pa.Array | pa.ChunkedArray, characters: bytes) -> Mask:
    """Which cells hold at least one of the (single-byte) `characters`; nulls never do."""
    offsets, data, _ = string_buffers(column)
    body = data[offsets[0] : offsets[-1]]
    found = np.zeros(len(body), dtype=bool)
    for character in characters:
        found |= body == character
    if not found.any():
        return np.zeros(len(offsets) - 1, dtype=bool)
    pattern = "[" + "".join(f"\\x{character:02x}" for character in characters) + "]"
    return _matching(column, pattern)


def _matching(column: pa.Array | pa.ChunkedArray, pattern: str) -> Mask:
    """Cells that match a regular expression, cell by cell (nulls never do)."""
    matched = pc.fill_null(pc.match_substring_regex(column, pattern), False)
    flags: Mask = np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)
    return flags


def string_buffers(
    column: pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], Mask]:
    """A string column's value offsets, its bytes and its validity, as numpy arrays."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == pa.large_string():
        offset_type: type[np.integer] = np.int64
    elif column.type == pa.string():
        offset_type = np.int32
    else:
        raise TypeError(f"expected a string column, got {column.type}")
    validity, offset_buffer, data_buffer = column.buffers()
    width = np.dtype(offset_type).itemsize
    offsets = np.frombuffer(
        offset_buffer, dtype=offset_type, count=len(column) + 1, offset=column.offset * width
    ).astype(np.int64)
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    valid = (
        np.ones(len(column), dtype=bool)
        if validity is None or column.null_count == 0
        else pc.is_valid(column).to_numpy(zero_copy_only=False)
    )
    return offsets, data, valid


_FORMULA_BYTES = np.frombuffer(FORMULA_STARTS, dtype=np.uint8)
