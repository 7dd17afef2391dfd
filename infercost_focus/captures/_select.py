"""Choosing states from index columns with whole-column Arrow operations, never row by row.

A month's candidates are the UsageReport rows whose period overlaps the month; the state kept for
each (uid, period) is the one with the greatest (last_updated, captured_at), ties going to the
later file and row so that the choice never depends on reading order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from infercost_focus.captures._format import TIMESTAMP, USAGE_REPORT

STATE_KEY = ["uid", "period"]
# The index columns a month scan reads.
SCAN_COLUMNS = [
    "kind",
    "uid",
    "period",
    "period_start",
    "period_end",
    "last_updated",
    "captured_at",
]

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


def latest_states(candidates: pa.Table) -> pa.Table:
    """For each (uid, period), the row with the greatest (last_updated, captured_at)."""
    if candidates.num_rows <= 1:
        return candidates
    order = [*STATE_KEY, "last_updated", "captured_at", "file", "row"]
    ordered = candidates.sort_by([(column, "ascending") for column in order]).combine_chunks()

    # Sorted so, the latest state of a (uid, period) is the last row of its run.
    ends = pc.or_(_changes(ordered["uid"]), _changes(ordered["period"]))
    return ordered.filter(pa.chunked_array([*ends.chunks, pa.array([True])], pa.bool_()))


def _numbered(table: pa.Table, file_number: int) -> pa.Table:
    rows = table.num_rows
    table = table.append_column("file", pa.array([file_number] * rows, pa.int32()))
    return table.append_column("row", pa.array(range(rows), pa.int32()))


def _changes(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """True at each position whose successor differs: the last row of a run."""
    return pc.not_equal(values.slice(0, len(values) - 1), values.slice(1))
