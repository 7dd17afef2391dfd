"""The FOCUS file IO manager: one file per asset, billing month and format.

Files are `<base>/<asset>/<YYYY-MM>.csv` (and `.csv.gz`, `.parquet` when those formats are
configured), each with `<file>.metadata.json` beside it for FOCUS frames. The base is a local
directory or an fsspec URL (`s3://`, `gs://`, `az://`, `memory://`). A file is replaced whole and
atomically: locally through a temporary file renamed over the target, on an object store through
a single upload. The bytes depend only on the frame, so materializing a month again from the same
captures gives the same data files. Temporary files that a killed run left beside a month's file
are removed by the next write of that file once they are an hour old.
"""

import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field
from upath import UPath

from infercost_focus.core.csv_writer import Written, write_atomically
from infercost_focus.core.layouts import LAYOUTS
from infercost_focus.core.leftovers import TEMP_PREFIX, remove_stale_temporaries
from infercost_focus.core.writers import FORMATS, decode, metadata, metadata_name, pieces
from infercost_focus.errors import InferCostError, OutputError

_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_LOCAL_PROTOCOLS = ("", "file", "local")


class FocusCsvIOManager(dg.ConfigurableIOManager):
    """Writes frames as FOCUS files (CSV by default), one per partition and format."""

    base_path: str = Field(
        default=".infercost/focus",
        description="directory or fsspec URL under which <asset>/<YYYY-MM>.<format> files are kept",
    )
    formats: str = Field(
        default="csv",
        description="comma-separated formats to write: csv, csv.gz, parquet (the first is read "
        "back by downstream assets)",
    )

    def format_list(self) -> list[str]:
        chosen = [name.strip() for name in self.formats.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in FORMATS]
        if unknown or not chosen:
            raise OutputError(
                f"Cannot write the formats {self.formats!r}; choose from {', '.join(FORMATS)} "
                "(comma-separated, for example 'csv,parquet')."
            )
        return chosen

    def file_path(
        self, asset_key: dg.AssetKey, partition_key: str | None, file_format: str = "csv"
    ) -> UPath:
        stem = "all" if partition_key is None else partition_key
        parts = [*asset_key.path, f"{stem}{FORMATS[file_format]}"]
        for part in parts:
            # NB: asset keys and partition keys come from code, but a path must never leave base;
            # fullmatch, since `$` would let a trailing newline through.
            if not _SAFE_PART.fullmatch(part):
                raise OutputError(f"Cannot use {part!r} in a file path below {self.base_path!r}.")
        return UPath(self.base_path).joinpath(*parts)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        try:
            self._write_files(context, obj)
        except InferCostError as error:
            raise dg.Failure(
                description=f"{error} Make {self.base_path!r} writable (free space, permissions, "
                "or another base_path via INFERCOST_OUTPUT), then materialize the month again."
            ) from error

    def _write_files(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        partition = context.asset_partition_key if context.has_asset_partitions else None
        layout = _layout_of(obj)
        written: dict[str, Any] = {}
        for file_format in self.format_list():
            path = self.file_path(context.asset_key, partition, file_format)
            content = pieces(obj, layout, file_format)
            if layout is not None:
                # The metadata goes first: a data file is never visible without its description.
                description = metadata(layout, file_format, len(obj), billing_month=partition)
                _write(path.with_name(metadata_name(path.name)), description)
            file = _write(path, content)
            context.log.info(f"wrote {path} ({len(obj)} rows, {file.size} bytes)")
            written[f"path_{file_format}"] = dg.MetadataValue.path(str(path))
            written[f"sha256_{file_format}"] = file.sha256
            written[f"bytes_{file_format}"] = file.size
        context.add_output_metadata(written)

    def load_input(self, context: dg.InputContext) -> Any:
        """A frame for one month; a dict month -> frame when the input spans several months.

        Annotate a downstream input as `dict[str, pd.DataFrame]` to receive the dict form even
        when the range holds a single month.
        """
        asset_key = context.asset_key
        file_format = self.format_list()[0]
        if not context.has_asset_partitions:
            return _read(self.file_path(asset_key, None, file_format), asset_key, None, file_format)
        keys = list(context.asset_partition_keys)
        if len(keys) == 1 and not _is_dict_type(context):
            path = self.file_path(asset_key, keys[0], file_format)
            return _read(path, asset_key, keys[0], file_format)
        return {
            key: _read(self.file_path(asset_key, key, file_format), asset_key, key, file_format)
            for key in keys
        }


def _layout_of(frame: pd.DataFrame) -> str | None:
    """The layout a frame is in: as the asset marked it, else recognised by its columns."""
    marked = frame.attrs.get("layout")
    if isinstance(marked, str) and marked in LAYOUTS:
        return marked
    columns = tuple(str(name) for name in frame.columns)
    return next((name for name, layout in LAYOUTS.items() if layout.names == columns), None)


def _is_dict_type(context: dg.InputContext) -> bool:
    typing_type = getattr(context.dagster_type, "typing_type", None)
    return typing_type is dict or getattr(typing_type, "__origin__", None) is dict


def _write(path: UPath, content: bytes | Iterator[bytes | memoryview]) -> Written:
    """Write a file atomically: pieces stream into a local file; an object store gets one put."""
    if path.protocol in _LOCAL_PROTOCOLS:
        remove_stale_temporaries(os.path.dirname(path.path), f"{TEMP_PREFIX}{path.name}-")
        return write_atomically(path.path, content)
    data = content if isinstance(content, bytes) else b"".join(content)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # An object store makes a single upload visible whole or not at all.
        path.write_bytes(data)
    except OSError as error:
        raise OutputError(
            f"Cannot write {path}: {error}; the previous file is unchanged."
        ) from error
    return Written(len(data), hashlib.sha256(data).hexdigest())


def _read(path: UPath, asset_key: dg.AssetKey, partition: str | None, file_format: str) -> Any:
    try:
        content = path.read_bytes()
    except FileNotFoundError as error:
        what = f"month {partition} of {asset_key.to_user_string()}"
        raise dg.Failure(
            description=f"Cannot load {what}: {path} does not exist; materialize that month "
            "first (or backfill the range)."
        ) from error
    return decode(content, file_format)
