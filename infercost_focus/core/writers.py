"""FOCUS files in three formats, and the metadata file that describes each of them.

- `csv`: RFC 4180 text (see `csv_writer`);
- `csv.gz`: the same text, gzip-compressed with no timestamp in the header (same bytes each time);
- `parquet`: typed columns: decimals as `decimal128(38, s)` with `s` the places the column needs,
  times as UTC timestamps, whole numbers as int64, text and JSON as strings, nulls as nulls.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from infercost_focus import __version__
from infercost_focus.core.csv_writer import csv_pieces
from infercost_focus.core.layouts import Layout, get_layout
from infercost_focus.errors import OutputError

FORMATS: dict[str, str] = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}
GENERATOR = "infercost-focus"
_MAX_PRECISION = 38
_DATA_TYPES = {
    "decimal": "Decimal",
    "integer": "Integer",
    "time": "DateTime",
    "text": "String",
    "json": "JSON",
}


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ValueError(f"Unknown format {name!r}; choose one of {', '.join(FORMATS)}.")
    return name


def encode(frame: pd.DataFrame, layout_name: str | None, file_format: str) -> bytes:
    """The file's bytes; the same frame always gives the same bytes.

    A frame of no layout (a finance table, say) is written with its columns as they are.
    """
    return b"".join(pieces(frame, layout_name, file_format))


def pieces(
    frame: pd.DataFrame, layout_name: str | None, file_format: str
) -> Iterator[bytes | memoryview]:
    """The file's bytes in order, in pieces: CSV a few thousand lines at a time, so that a large
    month is written without its whole text in memory; Parquet in one piece, made before this
    returns (so that its errors come before anything is written).

    Each piece is valid until the next one is asked for.
    """
    check_format(file_format)
    if file_format == "csv":
        return csv_pieces(frame)
    if file_format == "csv.gz":
        return _gzipped(csv_pieces(frame))
    if layout_name is None:
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    else:
        table = typed_table(frame, get_layout(layout_name))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return iter([sink.getvalue()])


def _gzipped(text: Iterator[bytes | memoryview]) -> Iterator[bytes]:
    """gzip of the pieces, level 6, no name and no time in the header (same bytes each time)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as compressed:
        for piece in text:
            compressed.write(piece)
            if buffer.tell():
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def typed_table(frame: pd.DataFrame, layout: Layout) -> pa.Table:
    """The text frame as typed Arrow columns; a value that does not fit its type is an error."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    arrays = {}
    for column in layout.columns:
        # The frame's own Arrow text where it is text already: text columns are written from it
        # as they are, not from a copy.
        values = table.column(column.name)
        if values.type != pa.string():
            values = values.cast(pa.string())
        try:
            arrays[column.name] = _typed(values, column.kind, layout)
        except (pa.ArrowInvalid, OverflowError) as error:
            raise OutputError(
                f"Cannot write column {column.name} as {column.kind} in Parquet: {error}; "
                "write CSV instead, or report the value."
            ) from error
    return pa.table(arrays)


def _typed(values: pa.ChunkedArray, kind: str, layout: Layout) -> pa.ChunkedArray:
    if kind in ("text", "json"):
        return values
    # A cell without value is empty text in the InferCost layout: typed columns hold null there.
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    if kind == "integer":
        return values.cast(pa.int64())
    if kind == "time":
        parsed = pc.strptime(values, format="%Y-%m-%dT%H:%M:%SZ", unit="s")
        return parsed.cast(pa.timestamp("s", tz="UTC"))
    scale, whole_digits = _decimal_shape(values)
    if scale + whole_digits > _MAX_PRECISION:
        raise OverflowError(
            f"a value needs {whole_digits} digits before and {scale} after the point, more than "
            f"the {_MAX_PRECISION} a Parquet decimal holds"
        )
    return values.cast(pa.decimal128(_MAX_PRECISION, scale))


def _decimal_shape(values: pa.ChunkedArray) -> tuple[int, int]:
    """(digits after the point, digits before it) that every value of the column fits in."""
    present = values.drop_null()
    if len(present) == 0:
        return 1, 1
    unsigned = pc.utf8_ltrim(present, characters="-")
    has_point = pc.match_substring(unsigned, ".")
    point_at = pc.find_substring(unsigned, ".")
    length = pc.utf8_length(unsigned)
    places = pc.if_else(has_point, pc.subtract(pc.subtract(length, point_at), 1), 0)
    whole = pc.if_else(has_point, point_at, length)
    return max(1, pc.max(places).as_py()), max(1, pc.max(whole).as_py())


def metadata(
    layout_name: str,
    file_format: str,
    rows: int,
    *,
    billing_month: str | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """The FOCUS metadata of one file (JSON): version, generator, creation time, column schema."""
    layout = get_layout(layout_name)
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    document: dict[str, Any] = {
        "FocusVersion": layout.focus_version,
        "Layout": layout.name,
        "LayoutDescription": layout.description,
        "DataGenerator": {"Name": GENERATOR, "Version": __version__},
        "CreationDate": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "BillingMonth": billing_month,
        "Format": file_format,
        "Rows": rows,
        "Schema": [
            {
                "ColumnName": column.name,
                "DataType": _DATA_TYPES[column.kind],
                "Nullable": not column.required,
                "CustomColumn": column.name.startswith(layout.custom_prefix),
                **({"AllowedValues": list(column.allowed)} if column.allowed else {}),
            }
            for column in layout.columns
        ],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def metadata_name(file_name: str) -> str:
    """The metadata file beside a data file: `2026-04.csv` -> `2026-04.csv.metadata.json`."""
    return f"{file_name}.metadata.json"


def decode(content: bytes, file_format: str) -> pd.DataFrame:
    """A written file back as a frame of text cells (what downstream code reads)."""
    check_format(file_format)
    if file_format == "parquet":
        table = pq.read_table(io.BytesIO(content))
        typed: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
        return typed
    if file_format == "csv.gz":
        content = gzip.decompress(content)
    frame = pd.read_csv(
        io.BytesIO(content), dtype=str, keep_default_na=False, na_filter=False, engine="c"
    )
    return frame.astype(pd.ArrowDtype(pa.string()))
