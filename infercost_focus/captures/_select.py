"""Choosing states from index columns with whole-column Arrow operations, never row by row.

A month's candidates are the UsageReport rows whose period overlaps the month; the state kept for
each (uid, period) is the one with the greatest (last_updated, captured_at), ties going to the
later file and row so that the choice never depends on reading order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
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


def overlapping(start: datetime, end: datetime) -> pc.Expression:
    """Selectable UsageReport rows whose period overlaps `[start, end)`.

    This is `IndexEntry.reach` as an Arrow expression: uid, period and start present, a missing
    end read as the start, an end before the start ruled out; an empty period counts when it
    starts in the range.
    """
    period_start = pc.field("period_start")
    period_end = pc.coalesce(pc.field("period_end"), period_start)
    month_start, month_end = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
    selectable = (
        (pc.field("kind") == USAGE_REPORT)
        & pc.field("uid").is_valid()
        & pc.field("period").is_valid()
        & (period_end >= period_start)
    )
    overlaps = (period_start < month_end) & (
        (period_end > month_start) | (period_start >= month_start)
    )
    return selectable & overlaps


def month_candidates(index: pa.Table, file_number: int, rows: pc.Expression) -> pa.Table:
    """The rows of one file's index that `rows` selects, as state candidates.

    Columns: uid, period, last_updated (never null), captured_at, file, row.
    """
    count = index.num_rows
    numbered = index.append_column("file", pa.array(np.full(count, file_number, np.int32)))
    numbered = numbered.append_column("row", pa.array(np.arange(count, dtype=np.int32)))
    picked = numbered.filter(rows)
    return pa.table(
        {
            "uid": picked["uid"],
            "period": picked["period"],
            "last_updated": pc.fill_null(picked["last_updated"], _NEVER),
            "captured_at": picked["captured_at"],
            "file": picked["file"],
            "row": picked["row"],
        }
    )


def latest_states(candidates: pa.Table) -> pa.Table:
    """For each (uid, period), the row with the greatest (last_updated, captured_at)."""
    if candidates.num_rows <= 1:
        return candidates
    candidates = candidates.combine_chunks()

    # Sorting integer codes is several times faster than sorting the strings themselves.
    uid = pc.dictionary_encode(candidates["uid"]).combine_chunks().indices
    period = pc.dictionary_encode(candidates["period"]).combine_chunks().indices
    keys = pa.table(
        {
            "uid": uid,
            "period": period,
            **{name: candidates[name] for name in ("last_updated", "captured_at", "file", "row")},
        }
    )
    order = pc.sort_indices(keys, [(name, "ascending") for name in keys.column_names])

    # Sorted so, the latest state of a (uid, period) is the last row of its run.
    ends = pc.or_(_changes(pc.take(uid, order)), _changes(pc.take(period, order)))
    return candidates.take(pc.filter(order, pa.concat_arrays([ends, pa.array([True])])))


def _changes(values: pa.Array) -> pa.Array:
    """True at each position whose successor differs: the last row of a run."""
    return pc.not_equal(values.slice(0, len(values) - 1), values.slice(1))
