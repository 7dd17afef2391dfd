"""CSV text of a layout frame (RFC 4180 quoting, UTF-8, `\\n` line ends) and atomic file writes.

A cell is quoted only when it must be (it holds a comma, a quote or a line break), as InferCost's
own export does, so `awk -F,` sees plain cells. Empty and null cells are both written as nothing.
The text is assembled column-wise with Arrow compute functions, not row by row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.core import text
from infercost_focus.errors import OutputError

logger = logging.getLogger(__name__)

# A cell holding one of these is quoted.
_NEEDS_QUOTES = b'",\r\n'
# Lines are joined this many rows at a time, so that the text of all lines never exists twice.
_BATCH_ROWS = 65_536


def _csv_cells(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column's cells as CSV text: quoted (inner quotes doubled) where needed."""
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if column.type != pa.string():
        column = column.cast(pa.string())
    if column.null_count:
        column = pc.fill_null(column, "")
    needs_quotes = text.holding_bytes(column, _NEEDS_QUOTES)
    if not needs_quotes.any():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return quoted if needs_quotes.all() else pc.if_else(needs_quotes, quoted, column)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The whole CSV document: a header line, then one line per row."""
    return b"".join(csv_pieces(frame))


def csv_pieces(frame: pd.DataFrame) -> Iterator[bytes | memoryview]:
    """The CSV document in pieces of a few thousand lines, the header line first.

    Each piece is valid until the next one is asked for: write it out, do not keep it.
    """
    header = ",".join(_header_cell(str(name)) for name in frame.columns) + "\n"
    yield header.encode("utf-8")
    if frame.empty:
        return
    for start in range(0, len(frame), _BATCH_ROWS):
        # Cells are made a batch at a time, so no column's text exists twice in memory.
        part = frame.iloc[start : start + _BATCH_ROWS]
        table = pa.Table.from_pandas(part, preserve_index=False)
        cells = [_csv_cells(table.column(index)) for index in range(table.num_columns)]
        # The line end rides on the last cell, so that one join makes whole lines.
        cells[-1] = pc.binary_join_element_wise(cells[-1], "\n", "")
        yield _text_bytes(pc.binary_join_element_wise(*cells, ","))


def _header_cell(name: str) -> str:
    return f'"{name.replace(chr(34), chr(34) * 2)}"' if any(c in name for c in '",\r\n') else name


def _text_bytes(lines: pa.Array) -> memoryview:
    """All strings of a string array back to back: a view of its data buffer, not a copy."""
    offsets, data, _ = text.string_buffers(lines)
    return data[offsets[0] : offsets[-1]].data


@dataclass(frozen=True)
class Written:
    """What a write put in the file: its size and its SHA-256."""

    size: int
    sha256: str


def write_atomically(
    path: str | os.PathLike[str], content: bytes | Iterable[bytes | memoryview]
) -> Written:
    """Write `content` to `path` so that readers see the old file or the new one, never a part.

    `content` is the file's bytes, or its pieces in order (written as they come, so the whole
    file never has to be in memory). The bytes go to a temporary file in the same directory, are
    flushed to disk, and the file is renamed over the target; on any failure the temporary file
    is removed.
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
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as stream:
            for piece in [content] if isinstance(content, bytes) else content:
                stream.write(piece)
                digest.update(piece)
                size += len(piece)
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
    logger.info("wrote %s (%d bytes)", target, size)
    return Written(size, digest.hexdigest())
