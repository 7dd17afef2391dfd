"""The two places a capture store can live: a local folder, or any fsspec filesystem.

Both offer the same four operations on paths relative to the store root, with `/` separators.
A local write goes to a `.tmp-` file in the target folder and is renamed into place, so a reader
never sees half a file; on an object store (s3://, gs://, az://, memory://) one put is atomic.
A write also removes the `.tmp-` files an interrupted write left in its folder over an hour ago.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pyarrow as pa
from upath import UPath

from infercost_focus.core.leftovers import TEMP_PREFIX, remove_stale_temporaries

_LOCAL_PROTOCOLS = ("", "file", "local")


class Storage(ABC):
    """Files below one root, addressed by relative paths."""

    @abstractmethod
    def names(self, folder: str) -> list[str]:
        """Names of the entries in `folder`; an empty list when the folder does not exist."""

    @abstractmethod
    def put(self, path: str, data: bytes) -> None:
        """Create the file `path` holding `data`, all at once."""

    @abstractmethod
    def open(self, path: str) -> AbstractContextManager[Any]:
        """A seekable binary file that pyarrow can read."""

    @abstractmethod
    def describe(self, path: str) -> str:
        """The full path or URL of `path`, for messages."""


def open_storage(root: str | os.PathLike[str] | UPath) -> Storage:
    upath = root if isinstance(root, UPath) else UPath(root)
    if upath.protocol in _LOCAL_PROTOCOLS:
        return LocalStorage(Path(upath.path).absolute())
    return FsspecStorage(upath)


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self._root = root

    def names(self, folder: str) -> list[str]:
        try:
            return os.listdir(self._root / folder)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def put(self, path: str, data: bytes) -> None:
        final = self._root / path
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(TEMP_PREFIX + final.name)
        try:
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        _sync_folder(final.parent)
        remove_stale_temporaries(final.parent)

    def open(self, path: str) -> AbstractContextManager[Any]:
        return pa.OSFile(str(self._root / path))  # type: ignore[no-any-return]

    def describe(self, path: str) -> str:
        return str(self._root / path) if path else str(self._root)


class FsspecStorage(Storage):
    def __init__(self, root: UPath) -> None:
        self._fs = root.fs
        self._base = root.path.rstrip("/")
        self._url = str(root).rstrip("/")

    def names(self, folder: str) -> list[str]:
        full = self._full(folder)
        # NB: fsspec filesystems cache listings; a store read twice in one process must see
        # the captures written in between.
        self._fs.invalidate_cache(full)
        try:
            entries = self._fs.ls(full, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries]

    def put(self, path: str, data: bytes) -> None:
        full = self._full(path)
        try:
            self._fs.pipe_file(full, data)
        except FileNotFoundError:
            # Filesystems with real folders (not object stores) need the parents first.
            self._fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
            self._fs.pipe_file(full, data)

    def open(self, path: str) -> AbstractContextManager[Any]:
        return self._fs.open(self._full(path), "rb")  # type: ignore[no-any-return]

    def describe(self, path: str) -> str:
        return f"{self._url}/{path}" if path else self._url

    def _full(self, path: str) -> str:
        return f"{self._base}/{path}" if path else self._base


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder itself is flushed; not every OS allows it.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
