"""Building one billing month from the capture files that can hold its periods.

Three steps keep this cheap at scale (thousands of files, millions of captured states):

1. Only captures taken within 31 days of the month (the longest period) are listed, and each
   file's footer header tells whether any report period in it reaches the month; files that
   cannot contribute are closed without reading a column.
2. The index columns of the other files are read in parallel, filtered to the month and reduced
   to the latest state per (uid, period) every few hundred thousand rows, so memory holds the
   winners so far plus one batch, never the whole month.
3. Only the winning rows are decoded from JSON, each file opened once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pyarrow as pa

from infercost_focus.captures._format import SCHEMA, read_index, read_objects
from infercost_focus.captures._layout import CaptureFile, list_captures, month_bounds
from infercost_focus.captures._select import (
    latest_states,
    month_candidates,
    profile_candidates,
    profiles_as_of,
)
from infercost_focus.captures._storage import Storage

logger = logging.getLogger(__name__)

# A state is captured while its period is current, and no period lasts longer than a month.
LONGEST_PERIOD = timedelta(days=31)
# Candidate rows gathered before they are reduced to the latest state per (uid, period).
_REDUCE_EVERY = 250_000

_EMPTY_INDEX = SCHEMA.empty_table()

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
_Objects = dict[tuple[int, int], tuple[str | None, str | None, datetime | None, Any]]


@dataclass(frozen=True)
class MonthStates:
    """The last captured state of every (UsageReport uid, period) overlapping one month."""

    month: str
    usage_reports: list[dict[str, Any]]
    cost_profiles: list[dict[str, Any]]
    captures_read: int
    first_capture: datetime | None
    last_capture: datetime | None


@dataclass
class _Scan:
    states: pa.Table
    profiles: pa.Table
    read: list[CaptureFile]


def read_month(storage: Storage, month: str, workers: int) -> MonthStates:
    started = time.monotonic()
    start, end = month_bounds(month)
    window = list_captures(storage, start - LONGEST_PERIOD, end + LONGEST_PERIOD)

    with ThreadPoolExecutor(workers, thread_name_prefix="capture-read") as pool:
        run = _Runner(pool, ahead=4 * workers)
        scan = _scan(storage, run, window, start, end)

        # CostProfiles as the cluster had them when the last chosen state was captured.
        if scan.states.num_rows == 0:
            profiles = scan.profiles.slice(0, 0)
        else:
            as_of = max(scan.states["captured_at"].to_pylist())
            profiles = profiles_as_of(scan.profiles, as_of)

        positions = [table.select(["file", "row"]) for table in (scan.states, profiles)]
        objects = _decode(storage, run, window, pa.concat_tables(positions))

    # Sort reports as (namespace, name, periodStart) and profiles as (namespace, name).
    reports = []
    for uid, file, row in zip(*_columns(scan.states, "uid", "file", "row"), strict=True):
        namespace, name, period_start, obj = objects[file, row]
        reports.append(((namespace or "", name or "", period_start, uid), obj))
    reports.sort(key=lambda item: item[0])
    cost_profiles = sorted(
        (objects[file, row] for file, row in zip(*_columns(profiles, "file", "row"), strict=True)),
        key=lambda item: (item[0] or "", item[1] or ""),
    )

    logger.info(
        "Read month %s from %d of %d capture files in its window: %d UsageReport states, "
        "%d CostProfiles, in %.1f s.",
        month, len(scan.read), len(window), len(reports), len(cost_profiles),
        time.monotonic() - started,
    )  # fmt: skip
    return MonthStates(
        month=month,
        usage_reports=[obj for _, obj in reports],
        cost_profiles=[item[3] for item in cost_profiles],
        captures_read=len(scan.read),
        first_capture=scan.read[0].captured_at if scan.read else None,
        last_capture=scan.read[-1].captured_at if scan.read else None,
    )


def _scan(
    storage: Storage,
    run: _Runner,
    window: list[CaptureFile],
    start: datetime,
    end: datetime,
) -> _Scan:
    def candidates(number: int) -> tuple[pa.Table, pa.Table] | None:
        _, index = read_index(storage, window[number], start, end)
        if index is None:
            return None
        return month_candidates(index, number, start, end), profile_candidates(index, number)

    states: list[pa.Table] = []
    profiles: list[pa.Table] = []
    read: list[CaptureFile] = []
    pending_rows = 0
    for number, found in enumerate(run(candidates, range(len(window)))):
        if found is None:
            continue
        read.append(window[number])
        states.append(found[0])
        profiles.append(found[1])
        pending_rows += found[0].num_rows
        if pending_rows >= _REDUCE_EVERY:
            states, pending_rows = [latest_states(pa.concat_tables(states))], 0

    if not read:
        empty = month_candidates(_EMPTY_INDEX, 0, start, end)
        return _Scan(empty, profile_candidates(_EMPTY_INDEX, 0), read)
    return _Scan(latest_states(pa.concat_tables(states)), pa.concat_tables(profiles), read)


def _decode(
    storage: Storage, run: _Runner, window: list[CaptureFile], picked: pa.Table
) -> _Objects:
    """The objects at the picked (file, row) positions, reading each file once."""
    rows_by_file: dict[int, list[int]] = {}
    for file, row in zip(*_columns(picked, "file", "row"), strict=True):
        rows_by_file.setdefault(file, []).append(row)

    def decode(file: int) -> _Objects:
        rows = rows_by_file[file]
        found = read_objects(storage, window[file], rows)
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
