"""The export as one function: objects in, a FOCUS frame and its report of problems out."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from infercost_focus.core.charges import build_charges
from infercost_focus.core.layouts import INFERCOST, RenderOptions, get_layout
from infercost_focus.core.parsing import parse_objects
from infercost_focus.core.resources import DEMO_LABEL, UsageReport
from infercost_focus.errors import RejectedObject

SOURCE_TAG = "infercost.io/source"


def is_demo(objects: Iterable[Any]) -> bool:
    """Whether the objects come from the built-in demo cluster (its objects carry a label)."""
    for obj in objects:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        if isinstance(labels, dict) and labels.get(DEMO_LABEL) == "true":
            return True
    return False


def source_tags(objects: Iterable[Any]) -> dict[str, str]:
    """Tags every row gets: demo data says so, so that it is never taken for real spend."""
    return {SOURCE_TAG: "demo"} if is_demo(objects) else {}


@dataclass
class Export:
    """A rendered FOCUS frame with what was set aside on the way."""

    frame: pd.DataFrame
    layout: str
    reports: int  # report periods with rows in the frame
    rejects: list[RejectedObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Every UsageReport state read from the input (before filters), for the schema check.
    usage_reports: list[UsageReport] = field(default_factory=list)


def export_focus(
    objects: Iterable[Any],
    *,
    namespace: str | None = None,
    period: str | None = None,
    billing_month: str | None = None,
    layout_name: str = INFERCOST,
    options: RenderOptions | None = None,
) -> Export:
    """Parse, filter, transform and render `objects` (UsageReports and CostProfiles) in a layout.

    `billing_month` (`2026-04`) keeps the rows billed in that month: the part of a period that
    crosses into a neighbouring month stays out.
    """
    chosen = get_layout(layout_name)
    with _collector_paused():
        parsed = parse_objects(objects)
        reports = [
            report
            for report in parsed.usage_reports
            if (namespace is None or report.namespace == namespace)
            and (period is None or report.period == period)
        ]
        profiles = {(profile.namespace, profile.name): profile for profile in parsed.cost_profiles}
        charges = build_charges(reports, profiles)
        if billing_month is not None:
            start = pd.Timestamp(f"{billing_month}-01T00:00:00Z")
            charges = charges.billed_in(np.datetime64(start.value // 1_000_000_000, "s"))
        frame = chosen.render(charges, options or RenderOptions())
        report_periods = charges.report_periods
    return Export(
        layout=layout_name,
        frame=frame,
        reports=report_periods,
        rejects=[*parsed.rejects, *charges.rejects],
        warnings=[*parsed.warnings, *charges.warnings],
        usage_reports=parsed.usage_reports,
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the export runs.

    NB: the export creates millions of objects that hold no reference cycles (parsed entries,
    integers, strings), and every few thousand of them the collector walks all live containers
    again, the caller's objects included: at a million rows that was a third of the export's
    time. Nothing here relies on the collector; it resumes as it was when the export ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
