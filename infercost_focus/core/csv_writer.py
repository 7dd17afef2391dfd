"""CSV text of a layout frame (RFC 4180 quoting, UTF-8, `\\n` line ends) and atomic file writes.

A cell is quoted only when it must be (it holds a comma, a quote or a line break), as InferCost's
own export does, so `awk -F,` sees plain cells. Empty and null cells are both written as nothing.
The text is assembled column-wise with Arrow compute functions, not row by row.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.errors import OutputError

logger = logging.getLogger(__name__)

_NEEDS_QUOTES = r'[",\r\n]'


def _csv_cells(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column's cells as CSV text: quoted (inner quotes doubled) where needed."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = pc.fill_null(column.cast(pa.string()), "")
    needs_quotes = pc.match_substring_regex(column, _NEEDS_QUOTES)
    if not pc.any(needs_quotes).as_py():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs_quotes, quoted, column)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The whole CSV document: a header line, then one line per row."""
    header = ",".join(_header_cell(str(name)) for name in frame.columns) + "\n"
    if frame.empty:
        return header.encode("utf-8")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    cells = [_csv_cells(table.column(index)) for index in range(table.num_columns)]
    lines = pc.binary_join_element_wise(*cells, ",")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    body = _concatenated(lines)
    return header.encode("utf-8") + body


def _header_cell(name: str) -> str:
    return f'"{name.replace(chr(34), chr(34) * 2)}"' if any(c in name for c in '",\r\n') else name


def _concatenated(lines: pa.Array) -> bytes:
    """All strings of a string array back to back, straight from its data buffer."""
    lines = lines.cast(pa.large_string())
    offsets = lines.buffers()[1]
    data = lines.buffers()[2]
    if data is None:
        return b""
    offset_values = pa.Array.from_buffers(
        pa.int64(), len(lines) + 1, [None, offsets], offset=lines.offset
    )
    start = offset_values[0].as_py()
    end = offset_values[-1].as_py()
    content: bytes = data.to_pybytes()[start:end]
    return content


def write_atomically(path: str | os.PathLike[str], content: bytes) -> None:
    """Write `content` to `path` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the file is
    renamed over the target; on any failure the temporary file is removed.
    """
    target = Path(path)
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".tmp-{target.name}-")
    except OSError as error:
        raise OutputError(
            f"Cannot write {str(target)!r}, as its directory cannot be used: {error.strerror}; "
            "choose another --out path or fix the directory's permissions."
        ) from error
    try:
        # NB: mkstemp creates the file for its owner only; give it the usual mode instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(
            f"Cannot write {str(target)!r}: {error.strerror}; the previous file, if any, is "
            "unchanged."
        ) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d bytes)", target, len(content))
