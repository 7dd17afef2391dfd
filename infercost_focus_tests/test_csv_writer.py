"""CSV text: RFC 4180 quoting only where needed, exact round trips, atomic files."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from infercost_focus.core import csv_writer
from infercost_focus.core.csv_writer import csv_bytes, write_atomically
from infercost_focus.errors import OutputError


def _frame(columns: dict[str, list[str | None]]) -> pd.DataFrame:
    return pa.table(columns).to_pandas(types_mapper=pd.ArrowDtype)


def test_plain_cells_are_not_quoted_and_lines_end_with_a_newline() -> None:
    assert csv_bytes(_frame({"a": ["1", "x"], "b": ["team-a", ""]})) == b"a,b\n1,team-a\nx,\n"


def test_cells_with_commas_quotes_or_line_breaks_are_quoted_and_round_trip() -> None:
    values = ["a,b", 'say "hi"', "two\nlines", "cr\rhere", "plain", "", "ü, 模型"]
    content = csv_bytes(_frame({"v": values, "w": list(reversed(values))}))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    assert rows[0] == ["v", "w"]
    assert [row[0] for row in rows[1:]] == values
    assert [row[1] for row in rows[1:]] == list(reversed(values))
    assert b'"say ""hi"""' in content


def test_null_cells_are_written_as_nothing() -> None:
    assert csv_bytes(_frame({"a": [None, "x"], "b": ["y", None]})) == b"a,b\n,y\nx,\n"


def test_a_slice_of_a_frame_writes_only_its_rows() -> None:
    frame = _frame({"a": ["1", "2", "3"]})
    assert csv_bytes(frame.iloc[1:]) == b"a\n2\n3\n"


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "focus.csv"
    write_atomically(target, b"old\n")
    write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["focus.csv"]


def test_a_failed_write_keeps_the_previous_file_and_removes_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "focus.csv"
    target.write_bytes(b"previous\n")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csv_writer.os, "fsync", full_disk)
    with pytest.raises(OutputError, match=r"No space left on device.*previous file"):
        write_atomically(target, b"new content\n")
    assert target.read_bytes() == b"previous\n"
    assert os.listdir(tmp_path) == ["focus.csv"]


def test_an_unwritable_directory_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputError, match="Cannot write"):
        write_atomically(blocker / "focus.csv", b"x")


def test_a_large_frame_is_written_in_pieces_that_make_the_same_document(tmp_path: Path) -> None:
    rows = csv_writer._BATCH_ROWS * 2 + 7
    values = [f"v{i}" if i % 5 else f"v,{i}" for i in range(rows)]
    frame = _frame({"a": values, "b": [str(i) for i in range(rows)]})
    pieces = [bytes(piece) for piece in csv_writer.csv_pieces(frame)]
    assert len(pieces) == 4  # the header, then three batches of lines
    target = tmp_path / "focus.csv"
    written = write_atomically(target, iter(pieces))
    content = target.read_bytes()
    assert content == b"".join(pieces) == csv_bytes(frame)
    assert written.size == len(content)
    assert written.sha256 == hashlib.sha256(content).hexdigest()
    parsed = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    assert [row[0] for row in parsed[1:]] == values


def test_a_stream_that_fails_half_way_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "focus.csv"
    target.write_bytes(b"previous\n")

    def broken_pieces() -> Iterator[bytes]:
        yield b"a,b\n"
        yield b"1,2\n"
        raise RuntimeError("the frame could not be rendered")

    with pytest.raises(RuntimeError, match="could not be rendered"):
        write_atomically(target, broken_pieces())
    assert target.read_bytes() == b"previous\n"
    assert os.listdir(tmp_path) == ["focus.csv"]
