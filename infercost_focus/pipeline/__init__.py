"""The Dagster layer: partitions, resources, IO managers, assets, checks, jobs and schedules.

Thin shells around the domain core; `infercost_focus.definitions` assembles them.
"""
