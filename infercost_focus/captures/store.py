"""The capture store: every capture of UsageReports and CostProfiles, kept as immutable files.

A UsageReport's status shows only its current period and is overwritten at rollover, so a
scheduled job writes what the cluster shows every few minutes, and a month is later built from
the last captured state of each (report uid, period). Files are never rewritten; two captures
taken at the same instant get different names.

A month is read from the captures taken within 31 days of it, plus the captures that a small
marker file, written next to the capture by `write`, names for that month: those of a capture
taken long before or after report periods it holds (say an old `kubectl get -o json` dump
imported today). See `_layout` for where everything lives.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from upath import UPath

from infercost_focus.captures._format import COST_PROFILE, USAGE_REPORT, CaptureBuilder
from infercost_focus.captures._layout import (
    as_utc,
    list_captures,
    marker_path,
    new_capture_path,
)
from infercost_focus.captures._month import MonthStates, read_month
from infercost_focus.captures._storage import LocalStorage, open_storage
from infercost_focus.errors import CaptureStoreError

logger = logging.getLogger(__name__)

__all__ = ["CaptureBuilder", "CaptureInfo", "CaptureStore", "MonthStates"]


@dataclass(frozen=True)
class CaptureInfo:
    """What one call to `CaptureStore.write` stored."""

    path: str
    captured_at: datetime
    usage_reports: int
    cost_profiles: int
    source: str


class CaptureStore:
    """Captures below `root`: a local folder or an fsspec URL (s3://, gs://, az://, memory://).

    A missing root is an empty store; it is created by the first write.
    """

    def __init__(self, root: str | os.PathLike[str] | UPath, *, workers: int | None = None) -> None:
        self._storage = open_storage(root)
        # Local reads are bound by CPU (decompression); remote ones by round trips.
        local = isinstance(self._storage, LocalStorage)
        self._workers = workers or (min(4, 2 * (os.cpu_count() or 1)) if local else 16)

    @property
    def root(self) -> str:
        return self._storage.describe("")

    def __repr__(self) -> str:
        return f"CaptureStore({self.root!r})"

    def write(
        self,
        captured_at: datetime,
        usage_reports: list[dict[str, Any]],
        cost_profiles: list[dict[str, Any]],
        source: str,
    ) -> CaptureInfo:
        """Store one capture as a new file; objects of any shape are kept verbatim.

        When report periods in it overlap months whose reads would not list a capture taken at
        `captured_at` (more than 31 days away), a marker per such month is written after the file.
        """
        capture = self.begin(captured_at, source)
        capture.add(USAGE_REPORT, usage_reports)
        capture.add(COST_PROFILE, cost_profiles)
        return self.commit(capture)

    def begin(self, captured_at: datetime, source: str) -> CaptureBuilder:
        """A capture to fill page by page (`add`), then to store with `commit`."""
        return CaptureBuilder(as_utc(captured_at, "the capture time"), source)

    def commit(self, capture: CaptureBuilder) -> CaptureInfo:
        """Store a capture filled page by page as a new file, as `write` does."""
        at, source = capture.captured_at, capture.source
        data = capture.encode()
        far_months, too_long = capture.marker_months()

        path = new_capture_path(at)
        where = self._storage.describe(path)
        try:
            self._storage.put(path, data)
        except Exception as error:
            raise CaptureStoreError(
                f"Cannot write the capture file {where} ({type(error).__name__}: {error}). "
                "Check that the capture store exists and is writable; nothing was stored."
            ) from error
        logger.info(
            "Wrote capture %s from %s: %d UsageReports, %d CostProfiles, %d bytes.",
            where, source, capture.usage_reports, capture.cost_profiles, len(data),
        )  # fmt: skip
        if too_long:
            logger.warning(
                "Capture %s holds %d report periods longer than 31 days that reach beyond the "
                "months read near its capture time; reads of those far months will miss them.",
                where, too_long,
            )  # fmt: skip
        self._write_markers(path, far_months)
        return CaptureInfo(where, at, capture.usage_reports, capture.cost_profiles, source)

    def _write_markers(self, path: str, months: list[str]) -> None:
        """Markers leading the reads of `months` to the capture file at `path`."""
        where = self._storage.describe(path)
        for month in months:
            marker = marker_path(month, path)
            try:
                self._storage.put(marker, path.encode())
            except Exception as error:
                raise CaptureStoreError(
                    f"Wrote the capture file {where}, but cannot write its late-capture marker "
                    f"{self._storage.describe(marker)} ({type(error).__name__}: {error}), so "
                    f"month_states({month!r}) will not read it. Check that the store is writable "
                    "and write the capture again; states captured twice are still counted once."
                ) from error
        if months:
            logger.info(
                "Capture %s holds report periods of %s, more than 31 days from its capture time; "
                "wrote a late-capture marker for each of those months.",
                where, ", ".join(months),
            )  # fmt: skip

    def month_states(self, month: str) -> MonthStates:
        """The last captured state of every (uid, period) whose period overlaps `month`.

        `month` is written `YYYY-MM`. A store without captures for it gives an empty result with
        `captures_read == 0`; a damaged capture file, or a late-capture marker that does not lead
        to one, raises `CaptureStoreError` naming it.
        """
        return read_month(self._storage, month, self._workers)

    def captures(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[datetime]:
        """The times of the captures taken in `[start, end)`, oldest first, one per file."""
        low = None if start is None else as_utc(start, "the start of the range")
        high = None if end is None else as_utc(end, "the end of the range")
        return [capture.captured_at for capture in list_captures(self._storage, low, high)]
