"""Dagster resources: where UsageReports come from, and where captures are kept."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg
from pydantic import Field

from infercost_focus.captures import CaptureStore
from infercost_focus.errors import InferCostError

SOURCE_KINDS = ("demo", "kubernetes", "files")


@dataclass(frozen=True)
class SourceSnapshot:
    """What a source showed at one moment."""

    source: str
    description: str
    usage_reports: list[dict[str, Any]]
    cost_profiles: list[dict[str, Any]]

    @property
    def is_demo(self) -> bool:
        return self.source == "demo"


class InferCostSource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where UsageReports and CostProfiles are read: a cluster, kubectl dumps, or the demo."""

    kind: str = Field(
        default="demo",
        description="demo (the built-in simulated cluster), kubernetes, or files (kubectl dumps)",
    )
    kubeconfig: str | None = Field(default=None, description="kubeconfig path (kubernetes)")
    context: str | None = Field(default=None, description="kubeconfig context (kubernetes)")
    namespace: str | None = Field(default=None, description="only this namespace (kubernetes)")
    paths: str = Field(default="", description="files: comma-separated dump files or directories")
    request_timeout: float = Field(default=30.0, description="seconds per Kubernetes request")

    def read(self, at: datetime, log: logging.Logger | Any) -> SourceSnapshot:
        """The objects the source shows now (`at` is used by the demo, which can show any time)."""
        if self.kind == "demo":
            from infercost_focus.sources.demo import demo_cluster_at

            reports, profiles = demo_cluster_at(at)
            return SourceSnapshot(
                "demo", f"demo cluster at {at:%Y-%m-%dT%H:%M:%SZ}", reports, profiles
            )
        if self.kind == "files":
            from infercost_focus.sources.files import read_inputs

            paths = [path.strip() for path in self.paths.split(",") if path.strip()]
            if not paths:
                raise InferCostError(
                    "The files source has no paths; set INFERCOST_INPUT_PATHS to kubectl dumps."
                )
            objects = read_inputs(paths)
            return SourceSnapshot(
                "files",
                f"kubectl dumps {', '.join(paths)}",
                [o for o in objects if o.get("kind") == "UsageReport"],
                [o for o in objects if o.get("kind") == "CostProfile"],
            )
        if self.kind == "kubernetes":
            from infercost_focus.sources.kubernetes import connect

            client = connect(
                self.kubeconfig, self.context, request_timeout=self.request_timeout, logger=log
            )
            cluster = client.fetch(self.namespace)
            where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
            return SourceSnapshot(
                "kubernetes",
                f"Kubernetes API {client.host}, {where}",
                cluster.usage_reports,
                cluster.cost_profiles,
            )
        raise InferCostError(
            f"Unknown source {self.kind!r}; set INFERCOST_SOURCE to one of "
            f"{', '.join(SOURCE_KINDS)}."
        )


class CaptureStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The capture store: a local directory or an fsspec URL (s3://, gs://, az://)."""

    path: str = Field(default=".infercost/captures", description="directory or URL of captures")

    def open(self) -> CaptureStore:
        return CaptureStore(self.path)
