"""Where capture files live, and the markers that lead a month to captures taken far from it.

Below the store root:

- `captures/YYYY/MM/DD/<capture time>-<random>.parquet`: one file per capture, in the folder of
  its capture day (UTC).
- `late/YYYY-MM/<capture file name>`: a marker for a capture taken outside the window of capture
  times that a month's read lists (31 days either side of the month, see `month_window`) although
  it holds a report period overlapping that month, for example an old `kubectl get -o json` dump
  imported today. It holds the capture file's path below the root, and is written after it.

Every path component is built from the capture time, a random suffix and a month, never from an
object's namespace or name, so a UsageReport called `../../etc` cannot steer a write. Names sort
in capture time order, and anything that does not match the pattern (temporary files from an
interrupted write start with `.tmp-`) is neither a capture nor a marker.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from infercost_focus.captures._storage import Storage
from infercost_focus.errors import CaptureStoreError

logger = logging.getLogger(__name__)

CAPTURES_DIR = "captures"
LATE_DIR = "late"
# A state is captured while its period is current, and no period lasts longer than a month.
LONGEST_PERIOD = timedelta(days=31)
# More than a marker ever holds (a path of about 60 characters); a read stops there.
_MARKER_SIZE_LIMIT = 1024

_NAME = re.compile(r"(?P<stamp>\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{12}\.parquet")
_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")


@dataclass(frozen=True, order=True)
class CaptureFile:
    """One capture file: its capture time (from its name) and its path below the store root.

    `marker` is the path of the late-capture marker that named the file, when a read found it so.
    """

    captured_at: datetime
    path: str
    marker: str | None = field(default=None, compare=False)


def as_utc(value: datetime, what: str) -> datetime:
    """`value` in UTC; naive times are refused because a capture store spans machines."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CaptureStoreError(
            f"Cannot use the naive time {value.isoformat()!r} as {what}; "
            "pass a timezone-aware datetime such as datetime.now(timezone.utc)."
        )
    return value.astimezone(UTC)


def new_capture_path(captured_at: datetime) -> str:
    """A fresh path for a capture taken at `captured_at` (UTC); unique thanks to 48 random bits."""
    at = captured_at
    stamp = (
        f"{at.year:04d}{at.month:02d}{at.day:02d}T"
        f"{at.hour:02d}{at.minute:02d}{at.second:02d}.{at.microsecond:06d}Z"
    )
    return f"{_day_folder(at)}/{stamp}-{secrets.token_hex(6)}.parquet"


def _day_folder(at: datetime) -> str:
    return f"{CAPTURES_DIR}/{at.year:04d}/{at.month:02d}/{at.day:02d}"


def capture_time(name: str) -> datetime | None:
    """The capture time a file name carries, or None when the name is not a capture's."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The instants `[start, end)` of a billing month written `YYYY-MM`."""
    match = _MONTH.fullmatch(month)
    if match is None or not 1 <= int(match["month"]) <= 12 or int(match["year"]) < 1:
        raise CaptureStoreError(
            f"Cannot read the month {month!r} from the capture store; write it as YYYY-MM, "
            "for example '2026-04'."
        )
    year, number = int(match["year"]), int(match["month"])
    start = datetime(year, number, 1, tzinfo=UTC)
    if year == 9999 and number == 12:
        raise CaptureStoreError(
            f"Cannot read the month {month!r}: it is the last one a date holds."
        )
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_window(month: str) -> tuple[datetime, datetime]:
    """The capture times `[low, high)` a read of `month` lists: 31 days either side of it."""
    start, end = month_bounds(month)
    return _shifted(start, -LONGEST_PERIOD), _shifted(end, LONGEST_PERIOD)


def marker_months(
    captured_at: datetime, spans: Iterable[tuple[datetime, datetime]]
) -> tuple[list[str], int]:
    """The months a capture needs a marker for, and how many spans were too long to mark.

    `spans` are the capture's selectable report periods, `(periodStart, periodEnd)` as
    `IndexEntry.reach` gives them. A month needs a marker when a span overlaps it (by the rule of
    `_select.overlapping`) and `captured_at` lies outside its `month_window`. A span longer than
    `LONGEST_PERIOD` is malformed for a UsageReport and could reach thousands of months, so it is
    not marked; the count of such spans reaching beyond the capture's own window is returned.
    """
    low, high = _shifted(captured_at, -LONGEST_PERIOD), _shifted(captured_at, LONGEST_PERIOD)
    months: set[str] = set()
    too_long = 0
    for start, end in set(spans):
        if end - start > LONGEST_PERIOD:
            if start < low or end > high:
                too_long += 1
            continue
        year, month = start.year, start.month
        while (year, month) < (9999, 12):  # `month_bounds` refuses the last month a date holds
            first = datetime(year, month, 1, tzinfo=UTC)
            if first > start and first >= end:
                break
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
            after = datetime(year, month, 1, tzinfo=UTC)
            # `captured_at` is in the window [first - 31 days, after + 31 days) of this month
            # exactly when first <= high and low < after.
            if first > high or after <= low:
                months.add(f"{first.year:04d}-{first.month:02d}")
    return sorted(months), too_long


def marker_path(month: str, capture_path: str) -> str:
    """The marker leading a read of `month` to the capture file at `capture_path`."""
    return f"{LATE_DIR}/{month}/{capture_path.rsplit('/', 1)[-1]}"


def list_markers(storage: Storage, month: str) -> list[str]:
    """The paths of the markers of `month` (one listing), in capture time order."""
    folder = f"{LATE_DIR}/{month}"
    found = []
    for name in storage.names(folder):
        if capture_time(name) is not None:
            found.append(f"{folder}/{name}")
        elif not name.startswith("."):
            logger.warning("Ignoring %s: its name is not a marker's.", f"{folder}/{name}")
    return sorted(found)


def marked_capture(storage: Storage, marker: str) -> CaptureFile:
    """The capture file a marker names; an error naming the marker when it is not one."""
    where = storage.describe(marker)
    name = marker.rsplit("/", 1)[-1]
    at = capture_time(name)
    if at is None:
        raise CaptureStoreError(f"Cannot read the marker {where}: its name is not a capture's.")
    try:
        with storage.open(marker) as file:
            data = file.read(_MARKER_SIZE_LIMIT + 1)
        target = bytes(data).decode("utf-8").strip()
    except Exception as error:
        raise CaptureStoreError(
            f"Cannot read the late-capture marker {where} ({type(error).__name__}: {error}). "
            "If it is damaged, delete it and write its capture again."
        ) from error
    # The target follows from the marker's name; anything else would let a file steer reads.
    expected = f"{_day_folder(at)}/{name}"
    if target != expected:
        raise CaptureStoreError(
            f"The late-capture marker {where} should hold {expected!r} but holds "
            f"{target[:100]!r}. Put that path back in it, or delete it and write its capture again."
        )
    return CaptureFile(at, expected, marker)


def list_captures(
    storage: Storage, start: datetime | None = None, end: datetime | None = None
) -> list[CaptureFile]:
    """Capture files taken in `[start, end)` (open ends when None), oldest first.

    Year, month and day folders outside the range are not listed, so a query for one month costs
    a few dozen listings however long the store has been kept.
    """
    found: list[CaptureFile] = []
    for folder, day in _day_folders(storage, start, end):
        for name in storage.names(folder):
            at = capture_time(name)
            if at is None:
                if not name.startswith("."):
                    logger.warning("Ignoring %s: its name is not a capture's.", f"{folder}/{name}")
                continue
            if at.date() != day:
                logger.warning("Ignoring %s: it is in the folder of another day.", name)
                continue
            if (start is None or at >= start) and (end is None or at < end):
                found.append(CaptureFile(at, f"{folder}/{name}"))
    return sorted(found)


def _day_folders(
    storage: Storage, start: datetime | None, end: datetime | None
) -> Iterator[tuple[str, date]]:
    def wanted(first: date, after: date) -> bool:
        # The folder holds captures of [first, after); skip it when that misses [start, end).
        return (end is None or _midnight(first) < end) and (
            start is None or _midnight(after) > start
        )

    for year in _numbers(storage.names(CAPTURES_DIR), 4, 1, 9998):
        if not wanted(date(year, 1, 1), date(year + 1, 1, 1)):
            continue
        year_folder = f"{CAPTURES_DIR}/{year:04d}"
        for month in _numbers(storage.names(year_folder), 2, 1, 12):
            first = date(year, month, 1)
            if not wanted(first, (first + timedelta(days=31)).replace(day=1)):
                continue
            month_folder = f"{year_folder}/{month:02d}"
            for number in _numbers(storage.names(month_folder), 2, 1, 31):
                try:
                    day = date(year, month, number)
                except ValueError:
                    continue
                if wanted(day, day + timedelta(days=1)):
                    yield f"{month_folder}/{number:02d}", day


def _numbers(names: list[str], width: int, low: int, high: int) -> list[int]:
    picked = {int(n) for n in names if len(n) == width and n.isascii() and n.isdigit()}
    return sorted(n for n in picked if low <= n <= high)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _shifted(at: datetime, delta: timedelta) -> datetime:
    """`at + delta`, held at the first or last instant a datetime can hold."""
    try:
        return at + delta
    except OverflowError:
        bound = datetime.max if delta > timedelta(0) else datetime.min
        return bound.replace(tzinfo=UTC)
