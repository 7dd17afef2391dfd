"""Shared pieces of the Dagster tests: resources on temporary paths and a materialize helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from infercost_focus.definitions import defs
from infercost_focus.pipeline.io_managers import FocusCsvIOManager
from infercost_focus.pipeline.resources import CaptureStoreResource, InferCostSource

MONTHLY_ASSETS = ["usage_reports_monthly", "focus_monthly", "focus_1_2_monthly"]


def resources(tmp_path: Path, formats: str = "csv", **source: Any) -> dict[str, Any]:
    return {
        "source": InferCostSource(**(source or {"kind": "demo"})),
        "capture_store": CaptureStoreResource(path=str(tmp_path / "captures")),
        "focus_io_manager": FocusCsvIOManager(base_path=str(tmp_path / "focus"), formats=formats),
    }


def assets(*names: str) -> list[Any]:
    return [defs.get_assets_def(name) for name in names]


def materialize_month(
    tmp_path: Path,
    month: str,
    *,
    names: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    formats: str = "csv",
    **source: Any,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets(*(names or MONTHLY_ASSETS)),
        partition_key=month,
        resources=resources(tmp_path, formats, **source),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def focus_file(
    tmp_path: Path, month: str, asset: str = "focus_monthly", suffix: str = ".csv"
) -> Path:
    return tmp_path / "focus" / asset / f"{month}{suffix}"
