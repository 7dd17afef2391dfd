"""Building one billing month from the capture files that can hold its periods.

These steps keep this cheap at scale (thousands of files, millions of captured states):

1. Only captures taken within 31 days of the month (the longest period) are listed, plus those
   that the month's late-capture markers name (captures taken long before or after the periods
   they hold, such as an old dump imported today; one more listing). Each file's footer header
   tells whether any report period in it reaches the month; files that cannot contribute are
   closed without reading a column.
2. The index columns of the other files are read in parallel, filtered to the month and reduced
   to the latest state per (uid, period) every few hundred thousand rows, so memory holds the
   winners so far plus one batch, never the whole month.
3. CostProfile versions are chosen from the headers, which name each file's profiles.
4. Only the chosen rows are decoded from JSON, each file opened once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pyarrow as pa

from infercost_focus.captures._format import SCHEMA, CaptureHeader, read_index, read_objects
from infercost_focus.captures._layout import (
    CaptureFile,
    list_captures,
    list_markers,
    marked_capture,
    month_bounds,
    month_window,
)
from infercost_focus.captures._select import (
    SCAN_COLUMNS,
    latest_states,
    month_candidates,
    overlapping,
)
from infercost_focus.captures._storage import Storage

logger = logging.getLogger(__name__)

# Candidate rows gathered before they are reduced to the latest state per (uid, period).
_REDUCE_EVERY = 250_000

_EMPTY_INDEX = SCHEMA.empty_table().select(SCAN_COLUMNS)

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
_Position = tuple[int, int]  # (file number among those listed for the month, row)
_Objects = dict[_Position, tuple[str | None, str | None, datetime | None, Any]]


@dataclass(frozen=True)
class MonthStates:
    """The last captured state of every (UsageReport uid, period) overlapping one month.

    `usage_reports` come sorted by (namespace, name, periodStart). `cost_profiles` hold one
    version per (namespace, name): the last one captured up to the capture of the latest chosen
    state, or the earliest one after it for a profile that did not exist yet. `captures_read`
    counts the capture files that could hold a state of the month and were read;
    `first_capture` and `last_capture` are the oldest and newest of them.
    """

    month: str
    usage_reports: list[dict[str, Any]]
    cost_profiles: list[dict[str, Any]]
    captures_read: int
    first_capture: datetime | None
    last_capture: datetime | None


@dataclass
class _Scan:
    states: pa.Table  # the latest state per (uid, period), with its file and row
    headers: list[CaptureHeader]  # one per file listed for the month
    read: list[CaptureFile]  # the files whose index columns were read


def read_month(storage: Storage, month: str, workers: int) -> MonthStates:
    started = time.monotonic()
    start, end = month_bounds(month)
    window = list_captures(storage, *month_window(month))

    with ThreadPoolExecutor(workers, thread_name_prefix="capture-read") as pool:
        run = _Runner(pool, ahead=4 * workers)
        marked = _marked_captures(storage, run, month, window)
        captures = sorted([*window, *marked])
        scan = _scan(storage, run, captures, start, end)
        state_positions = list(zip(*_columns(scan.states, "file", "row"), strict=True))
        profile_positions = _cost_profiles(scan, captures)
        objects = _decode(storage, run, captures, [*state_positions, *profile_positions])

    # Reports in (namespace, name, periodStart) order; profiles come in (namespace, name) order.
    reports = []
    for uid, position in zip(scan.states["uid"].to_pylist(), state_positions, strict=True):
        namespace, name, period_start, obj = objects[position]
        reports.append(((namespace or "", name or "", period_start, uid), obj))
    reports.sort(key=lambda item: item[0])

    logger.info(
        "Read month %s from %d of %d capture files (%d named by late-capture markers): "
        "%d UsageReport states, %d CostProfiles, in %.1f s.",
        month, len(scan.read), len(captures), len(marked), len(reports), len(profile_positions),
        time.monotonic() - started,
    )  # fmt: skip
    return MonthStates(
        month=month,
        usage_reports=[obj for _, obj in reports],
        cost_profiles=[objects[position][3] for position in profile_positions],
        captures_read=len(scan.read),
        first_capture=scan.read[0].captured_at if scan.read else None,
        last_capture=scan.read[-1].captured_at if scan.read else None,
    )


def _marked_captures(
    storage: Storage, run: _Runner, month: str, window: list[CaptureFile]
) -> list[CaptureFile]:
    """The captures the month's late-capture markers name, less those already in the window."""
    seen = {capture.path for capture in window}
    marked = []
    for capture in run(
        lambda marker: marked_capture(storage, marker), list_markers(storage, month)
    ):
        if capture.path not in seen:
            seen.add(capture.path)
            marked.append(capture)
    return marked


def _scan(
    storage: Storage, run: _Runner, captures: list[CaptureFile], start: datetime, end: datetime
) -> _Scan:
    in_month = overlapping(start, end)

    def candidates(number: int) -> tuple[CaptureHeader, pa.Table | None]:
        header, index = read_index(storage, captures[number], SCAN_COLUMNS, start, end)
        return header, None if index is None else month_candidates(index, number, in_month)

    headers: list[CaptureHeader] = []
    read: list[CaptureFile] = []
    states = [month_candidates(_EMPTY_INDEX, 0, in_month)]
    pending_rows = 0
    for number, (header, found) in enumerate(run(candidates, range(len(captures)))):
        headers.append(header)
        if found is None:
            continue
        read.append(captures[number])
        states.append(found)
        pending_rows += found.num_rows
        if pending_rows >= _REDUCE_EVERY:
            states, pending_rows = [latest_states(pa.concat_tables(states))], 0
    return _Scan(latest_states(pa.concat_tables(states)), headers, read)


def _cost_profiles(scan: _Scan, captures: list[CaptureFile]) -> list[_Position]:
    """Per (namespace, name), the version captured last up to the last chosen state's capture.

    A profile first captured after that moment contributes its earliest version instead.
    """
    if scan.states.num_rows == 0:
        return []
    as_of = max(scan.states["captured_at"].to_pylist())
    latest: dict[tuple[str, str], _Position] = {}
    earliest_after: dict[tuple[str, str], _Position] = {}
    for number, (capture, header) in enumerate(zip(captures, scan.headers, strict=True)):
        for key, row in header.cost_profile_rows.items():
            if capture.captured_at <= as_of:
                latest[key] = (number, row)
            else:
                earliest_after.setdefault(key, (number, row))
    chosen = earliest_after | latest
    return [chosen[key] for key in sorted(chosen)]


def _decode(
    storage: Storage, run: _Runner, captures: list[CaptureFile], positions: list[_Position]
) -> _Objects:
    """The objects at the given positions, reading each file once."""
    rows_by_file: dict[int, list[int]] = {}
    for file, row in positions:
        rows_by_file.setdefault(file, []).append(row)

    def decode(file: int) -> _Objects:
        rows = rows_by_file[file]
        found = read_objects(storage, captures[file], rows)
        return {(file, row): item for row, item in zip(rows, found, strict=True)}

    objects: _Objects = {}
    for decoded in run(decode, sorted(rows_by_file)):
        objects.update(decoded)
    return objects


class _Runner:
    """Work over items in a thread pool, results in order, with a bounded number in flight."""

    def __init__(self, pool: ThreadPoolExecutor, ahead: int) -> None:
        self._pool = pool
        self._ahead = ahead

    def __call__(
        self, work: Callable[[_Item], _Result], items: Iterable[_Item]
    ) -> Iterator[_Result]:
        futures: deque[Future[_Result]] = deque()
        try:
            for item in items:
                futures.append(self._pool.submit(work, item))
                if len(futures) >= self._ahead:
                    yield futures.popleft().result()
            while futures:
                yield futures.popleft().result()
        finally:
            for future in futures:
                future.cancel()


def _columns(table: pa.Table, *names: str) -> list[list[Any]]:
    return [table[name].to_pylist() for name in names]
