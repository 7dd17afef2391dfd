"""Where the time of one month goes, phase by phase, in one process.

The export's own phases (parse, transform, render, write), then the work the Dagster asset
`focus_monthly` adds around the same export: the blocking schema check and the asset's metadata.
Each phase is timed on the wall clock and split into user and system CPU time; minor page faults
count the fresh memory it touched. The resident memory after each phase, and the peak so far,
show what each step keeps and what it needs on the way (the input objects are held throughout).

    python -m benchmarks.phases --rows 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from benchmarks import measure
from infercost_focus.core import writers
from infercost_focus.core.charges import build_charges
from infercost_focus.core.csv_writer import write_atomically
from infercost_focus.core.layouts import RenderOptions, get_layout
from infercost_focus.core.parsing import parse_objects
from infercost_focus.core.validation import check_frame
from infercost_focus.pipeline.assets.monthly import _frame_metadata

T = TypeVar("T")


def phases(objects: list[dict[str, Any]], month: str, layout: str) -> list[dict[str, Any]]:
    timed: list[dict[str, Any]] = []

    def phase(name: str, work: Callable[[], T]) -> T:
        before, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = work()
        after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - began
        timed.append(
            {
                "phase": name,
                "seconds": seconds,
                "user": after.ru_utime - before.ru_utime,
                "system": after.ru_stime - before.ru_stime,
                "page_faults": after.ru_minflt - before.ru_minflt,
                "resident_after": measure.resident(),
                "peak_so_far": measure.peak_rss(),
            }
        )
        return result

    # The export, as `export_focus` runs it (with the collector paused, as it does).
    gc.disable()
    parsed = phase("parse_objects", lambda: parse_objects(objects))
    profiles = {(profile.namespace, profile.name): profile for profile in parsed.cost_profiles}
    charges = phase("build_charges", lambda: build_charges(parsed.usage_reports, profiles))
    in_month = charges.billed_in(np.datetime64(f"{month}-01T00:00:00", "s"))
    frame = phase("render", lambda: get_layout(layout).render(in_month, RenderOptions()))
    gc.enable()
    with tempfile.TemporaryDirectory(prefix="infercost-phases-") as scratch:
        target = Path(scratch) / "month.csv"
        phase(
            "write the CSV file",
            lambda: write_atomically(target, writers.pieces(frame, layout, "csv")),
        )

    # What the Dagster asset does besides the export.
    reports = parsed.usage_reports
    phase(
        "asset: check_frame",
        lambda: check_frame(frame, layout, reports=reports, billing_month=month),
    )
    quantity = get_layout(layout).roles["quantity"]
    phase("asset: metadata", lambda: _frame_metadata(frame, quantity, 0, [], [], False))
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--layout", default="infercost")
    parser.add_argument("--input", type=Path, help="the pickled input (else it is generated)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(phases(measure.objects(args), args.month, args.layout)))


if __name__ == "__main__":
    main()
