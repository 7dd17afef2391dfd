"""Captures: UsageReport and CostProfile states kept while current, read back per month."""

from infercost_focus.captures.store import CaptureInfo, CaptureStore, MonthStates

__all__ = ["CaptureInfo", "CaptureStore", "MonthStates"]
