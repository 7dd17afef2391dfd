"""Dagster resources: where UsageReports come from, and where captures are kept."""

import logging
from typing import Any

import dagster as dg
from pydantic import Field

from infercost_focus.captures import CaptureBuilder, CaptureStore
from infercost_focus.core.resources import COST_PROFILE, USAGE_REPORT
from infercost_focus.errors import InferCostError

SOURCE_KINDS = ("demo", "kubernetes", "files")


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

    def capture(self, capture: CaptureBuilder, log: logging.Logger | Any) -> str:
        """Put what the source shows now into `capture`; returns a description of the source.

        A cluster is listed page by page straight into the capture, so the capture job needs the
        memory of a page, not of the cluster. The demo shows the capture's own instant.
        """
        if self.kind == "demo":
            from infercost_focus.sources.demo import demo_cluster_at

            reports, profiles = demo_cluster_at(capture.captured_at)
            capture.add(USAGE_REPORT, reports)
            capture.add(COST_PROFILE, profiles)
            return f"demo cluster at {capture.captured_at:%Y-%m-%dT%H:%M:%SZ}"
        if self.kind == "files":
            from infercost_focus.sources.files import read_inputs

            paths = [path.strip() for path in self.paths.split(",") if path.strip()]
            if not paths:
                raise InferCostError(
                    "The files source has no paths; set INFERCOST_INPUT_PATHS to kubectl dumps."
                )
            objects = read_inputs(paths)
            capture.add(USAGE_REPORT, [o for o in objects if o.get("kind") == USAGE_REPORT])
            capture.add(COST_PROFILE, [o for o in objects if o.get("kind") == COST_PROFILE])
            return f"kubectl dumps {', '.join(paths)}"
        if self.kind == "kubernetes":
            from infercost_focus.sources.kubernetes import connect

            with connect(
                self.kubeconfig, self.context, request_timeout=self.request_timeout, logger=log
            ) as client:
                client.stream(capture, self.namespace)
                where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
                return f"Kubernetes API {client.host}, {where}"
        raise InferCostError(
            f"Unknown source {self.kind!r}; set INFERCOST_SOURCE to one of "
            f"{', '.join(SOURCE_KINDS)}."
        )


class CaptureStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The capture store: a local directory or an fsspec URL (s3://, gs://, az://)."""

    path: str = Field(default=".infercost/captures", description="directory or URL of captures")

    def open(self) -> CaptureStore:
        return CaptureStore(self.path)
