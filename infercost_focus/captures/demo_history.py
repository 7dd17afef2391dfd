"""A capture history of the demo cluster, so past months can be built on a fresh machine."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from infercost_focus.captures.store import CaptureStore
from infercost_focus.sources.demo import DEMO_SOURCE_NAME, demo_capture_times, demo_cluster_at

logger = logging.getLogger(__name__)


def fill_demo_history(
    store: CaptureStore,
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(hours=6),
    log: logging.Logger | None = None,
) -> int:
    """Capture the demo cluster every `every` in [start, end), plus each period's last instant.

    The last instants make every period's final state part of the history, as the 15-minute
    captures of a real deployment do. Returns the number of captures written.
    """
    log = log or logger
    moments = demo_capture_times(start, end, every)
    for moment in moments:
        reports, profiles = demo_cluster_at(moment)
        store.write(moment, reports, profiles, source=DEMO_SOURCE_NAME)
    log.info(f"captured the demo cluster {len(moments)} times from {start} to {end}")
    return len(moments)
