"""infercost-focus: FOCUS cost files from InferCost UsageReports and CostProfiles."""

__version__ = "0.1.0"
