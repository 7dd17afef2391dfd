"""Captures: UsageReport and CostProfile states kept while current, read back per month."""

from infercost_focus.captures.store import CaptureBuilder, CaptureInfo, CaptureStore, MonthStates

__all__ = ["CaptureBuilder", "CaptureInfo", "CaptureStore", "MonthStates"]
