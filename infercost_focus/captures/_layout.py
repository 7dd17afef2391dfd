"""Where capture files live: `captures/YYYY/MM/DD/<capture time>-<random>.parquet` under the root.

Every path component is built from the capture time and a random suffix, never from an object's
namespace or name, so a UsageReport called `../../etc` cannot steer a write. Names sort in capture
time order, and anything that does not match the pattern (temporary files from an interrupted
write start with `.tmp-`) is not a capture.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from infercost_focus.captures._storage import Storage
from infercost_focus.errors import CaptureStoreError

logger = logging.getLogger(__name__)

CAPTURES_DIR = "captures"

_NAME = re.compile(r"(?P<stamp>\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{12}\.parquet")
_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")


@dataclass(frozen=True, order=True)
class CaptureFile:
    """One capture file: its capture time (from its name) and its path below the store root."""

    captured_at: datetime
    path: str


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
    folder = f"{CAPTURES_DIR}/{at.year:04d}/{at.month:02d}/{at.day:02d}"
    return f"{folder}/{stamp}-{secrets.token_hex(6)}.parquet"


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
