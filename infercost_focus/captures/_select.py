"""Choosing states from index columns with whole-column Arrow operations, never row by row.

A month's candidates are the UsageReport rows whose period overlaps the month; the state kept for
each (uid, period) is the one with the greatest (last_updated, captured_at), ties going to the
later file and row so that the choice never depends on reading order. The same "last row of
each key after sorting" step picks CostProfile versions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.captures._format import COST_PROFILE, TIMESTAMP, USAGE_REPORT

STATE_KEY = ["uid", "period"]
PROFILE_KEY = ["namespace", "name"]

# A state without lastUpdated loses to every state that has one.
_NEVER = pa.scalar(datetime(1, 1, 1, tzinfo=UTC), TIMESTAMP)


def month_candidates(index: pa.Table, file_number: int, start: datetime, end: datetime) -> pa.Table:
    """The UsageReport states of one file whose period overlaps `[start, end)`.

    Columns: uid, period, last_updated (never null), captured_at, file, row. The overlap rule is
    `IndexEntry.reach` applied to columns: an empty period counts when it starts in the month.
    """
    period_start = index["period_start"]
    period_end = pc.coalesce(index["period_end"], period_start)
    selectable = pc.and_(
        pc.and_(pc.equal(index["kind"], USAGE_REPORT), pc.is_valid(index["uid"])),
        pc.and_(pc.is_valid(index["period"]), pc.greater_equal(period_end, period_start)),
    )
    overlaps = pc.and_(
        pc.less(period_start, pa.scalar(end, TIMESTAMP)),
        pc.or_(
            pc.greater(period_end, pa.scalar(start, TIMESTAMP)),
            pc.greater_equal(period_start, pa.scalar(start, TIMESTAMP)),
        ),
    )
    mask = pc.and_(selectable, overlaps)
    states = pa.table(
        {
            "uid": index["uid"],
            "period": index["period"],
            "last_updated": pc.fill_null(index["last_updated"], _NEVER),
            "captured_at": index["captured_at"],
        }
    )
    return _numbered(states, file_number).filter(mask)


def profile_candidates(index: pa.Table, file_number: int) -> pa.Table:
    """The CostProfiles of one file that have a namespace and a name."""
    mask = pc.and_(
        pc.equal(index["kind"], COST_PROFILE),
        pc.and_(pc.is_valid(index["namespace"]), pc.is_valid(index["name"])),
    )
    profiles = index.select(["namespace", "name", "captured_at"])
    return _numbered(profiles, file_number).filter(mask)


def latest_states(candidates: pa.Table) -> pa.Table:
    """For each (uid, period), the row with the greatest (last_updated, captured_at)."""
    order = ["last_updated", "captured_at", "file", "row"]
    return _last_per_key(candidates, STATE_KEY, [(column, "ascending") for column in order])


def profiles_as_of(candidates: pa.Table, as_of: datetime) -> pa.Table:
    """For each (namespace, name), the last version captured at or before `as_of`.

    A profile first captured after `as_of` contributes its earliest version instead.
    """
    order = ["captured_at", "file", "row"]
    captured_at = candidates["captured_at"]
    moment = pa.scalar(as_of, TIMESTAMP)

    before = candidates.filter(pc.less_equal(captured_at, moment))
    latest = _last_per_key(before, PROFILE_KEY, [(column, "ascending") for column in order])

    after = candidates.filter(pc.greater(captured_at, moment))
    earliest = _last_per_key(after, PROFILE_KEY, [(column, "descending") for column in order])
    only_later = earliest.join(latest.select(PROFILE_KEY), PROFILE_KEY, join_type="left anti")
    return pa.concat_tables([latest, only_later.select(latest.column_names)])


def _numbered(table: pa.Table, file_number: int) -> pa.Table:
    rows = table.num_rows
    table = table.append_column("file", pa.array([file_number] * rows, pa.int32()))
    return table.append_column("row", pa.array(range(rows), pa.int32()))


def _last_per_key(table: pa.Table, key: list[str], order: list[tuple[str, str]]) -> pa.Table:
    """Sort by `key` then `order`, and keep the last row of each run of equal keys."""
    if table.num_rows <= 1:
        return table
    ordered = table.sort_by([(column, "ascending") for column in key] + order).combine_chunks()
    first, *others = key
    ends = _changes(ordered[first])
    for column in others:
        ends = pc.or_(ends, _changes(ordered[column]))
    last = pa.chunked_array([*ends.chunks, pa.array([True])], pa.bool_())
    return ordered.filter(last)


def _changes(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """True at each position whose successor differs: the last row of a run."""
    return pc.not_equal(values.slice(0, len(values) - 1), values.slice(1))
