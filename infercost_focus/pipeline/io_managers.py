"""The FOCUS file IO manager: one CSV per asset and billing month, `<base>/<asset>/<YYYY-MM>.csv`.

The base is a local directory or an fsspec URL (`s3://`, `gs://`, `az://`, `memory://`). A file
is replaced whole and atomically: locally through a temporary file renamed over the target, on an
object store through a single upload. The bytes depend only on the frame, so materializing a
month again from the same captures gives the same file.
"""

import hashlib
import io
import re
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
from pydantic import Field
from upath import UPath

from infercost_focus.core.csv_writer import csv_bytes, write_atomically
from infercost_focus.errors import OutputError

_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_LOCAL_PROTOCOLS = ("", "file", "local")


class FocusCsvIOManager(dg.ConfigurableIOManager):
    """Writes and reads FOCUS frames as CSV files, one per partition."""

    base_path: str = Field(
        default=".infercost/focus",
        description="directory or fsspec URL under which <asset>/<YYYY-MM>.csv files are kept",
    )

    def file_path(self, asset_key: dg.AssetKey, partition_key: str | None) -> UPath:
        parts = [*asset_key.path, f"{partition_key}.csv" if partition_key else "all.csv"]
        for part in parts:
            # NB: asset keys and partition keys come from code, but a path must never leave base.
            if not _SAFE_PART.match(part):
                raise OutputError(f"Cannot use {part!r} in a file path below {self.base_path!r}.")
        return UPath(self.base_path).joinpath(*parts)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self.file_path(context.asset_key, partition)
        content = csv_bytes(obj)
        _write(path, content)
        context.log.info(f"wrote {path} ({len(obj)} rows, {len(content)} bytes)")
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(str(path)),
                "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        """A frame for one month; a dict month → frame when the input spans several months.

        Annotate a downstream input as `dict[str, pd.DataFrame]` to receive the dict form even
        when the range holds a single month.
        """
        asset_key = context.asset_key
        if not context.has_asset_partitions:
            return _read(self.file_path(asset_key, None), asset_key, None)
        keys = list(context.asset_partition_keys)
        if len(keys) == 1 and not _is_dict_type(context):
            return _read(self.file_path(asset_key, keys[0]), asset_key, keys[0])
        return {key: _read(self.file_path(asset_key, key), asset_key, key) for key in keys}


def _is_dict_type(context: dg.InputContext) -> bool:
    typing_type = getattr(context.dagster_type, "typing_type", None)
    return typing_type is dict or getattr(typing_type, "__origin__", None) is dict


def _write(path: UPath, content: bytes) -> None:
    if path.protocol in _LOCAL_PROTOCOLS:
        write_atomically(path.path, content)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # An object store makes a single upload visible whole or not at all.
        path.write_bytes(content)
    except OSError as error:
        raise OutputError(
            f"Cannot write {path}: {error}; the previous file is unchanged."
        ) from error


def _read(path: UPath, asset_key: dg.AssetKey, partition: str | None) -> pd.DataFrame:
    try:
        content = path.read_bytes()
    except FileNotFoundError as error:
        what = f"month {partition} of {asset_key.to_user_string()}"
        raise dg.Failure(
            description=f"Cannot load {what}: {path} does not exist; materialize that month "
            "first (or backfill the range)."
        ) from error
    frame = pd.read_csv(
        io.BytesIO(content), dtype=str, keep_default_na=False, na_filter=False, engine="c"
    )
    return frame.astype(pd.ArrowDtype(pa.string()))
