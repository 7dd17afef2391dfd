"""A realistic dataset with the export's edge cases, for layout, writer and validator tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infercost_focus.sources.demo import demo_cluster_at
from infercost_focus_tests.builders import cloud_entry, cost_profile, model_entry, usage_report

# 2 May 2026: weekly periods that began in April are current, so month splits appear too.
DEMO_MOMENT = datetime(2026, 5, 2, 18, 0, tzinfo=UTC)


def edge_case_objects() -> list[dict[str, Any]]:
    """Objects for every case the export must get right, in the namespace `edge`."""
    huge = 2**53 + 1
    return [
        # A week crossing the month boundary, with names that need quoting or neutralising.
        usage_report(
            "crossing-week",
            "edge",
            period="2026-W18",
            start="2026-04-27T00:00:00Z",
            end="2026-05-04T00:00:00Z",
            schedule="weekly",
            by_model=[
                model_entry("mixtral, 8x7b", 700_001, 3, "7.000001", namespace="edge"),
                model_entry('say "hi"', 10, 10, "0.3", namespace="edge-b"),
                model_entry("模型-ü", 5, 0, "0.05", namespace="edge"),
                model_entry("=cmd|' /C calc'!A0", 1, 1, "0.01", namespace="edge"),
            ],
            cloud=[cloud_entry("openai", "gpt-4o", "33.3", "25"), cloud_entry("x", "y", "1", "0")],
        ),
        # No breakdown: one row from the totals.
        usage_report(
            "rollup", "edge", by_model=[], input_tokens=1_000, output_tokens=24, cost="0.5"
        ),
        # A CostProfile that does not exist.
        usage_report("orphan", "edge", profile="missing-pool"),
        # Huge token counts and a tiny cost.
        usage_report(
            "huge",
            "edge-b",
            by_model=[model_entry("m", huge, huge, "0.00000000000000001")],
            cloud=[cloud_entry("p", "m", "0.00000000000000003", "0.00000000000000002")],
        ),
        # The breakdown leaves part of the totals uncovered; no cloud comparison.
        usage_report(
            "partial",
            "edge",
            by_model=[model_entry("m", 100, 0, "1")],
            input_tokens=150,
            output_tokens=10,
            cost="1.5",
            cloud=[],
        ),
        # A report that was never reconciled, and a malformed one.
        {**usage_report("fresh", "edge"), "status": None},
        {**usage_report("broken", "edge"), "status": {"period": "2026-05", "periodStart": "x"}},
        # Same-named profiles in two namespaces.
        cost_profile(namespace="edge"),
        cost_profile(namespace="edge-b", gpu_model="H100", gpu_count=4),
    ]


def realistic_objects() -> list[dict[str, Any]]:
    """The demo cluster on 2 May 2026 plus the edge cases."""
    reports, profiles = demo_cluster_at(DEMO_MOMENT)
    return [*reports, *profiles, *edge_case_objects()]
