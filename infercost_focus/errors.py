"""The project's own exceptions: every failure a user can act on is one of these."""

from __future__ import annotations


class InferCostError(Exception):
    """Base of every error this project raises on purpose; its message is meant for the user."""


class InputError(InferCostError):
    """An input file or stream cannot be read or parsed as Kubernetes objects."""


class ClusterError(InferCostError):
    """The Kubernetes API could not be reached, refused access, or does not serve InferCost."""


class CaptureStoreError(InferCostError):
    """The capture store cannot be read or written."""


class OutputError(InferCostError):
    """An output file cannot be written."""


class RejectedObject(InferCostError):
    """One UsageReport or CostProfile is malformed; the others carry on without it.

    `ref` is `namespace/name` (or a best effort when those are missing) and `field` the dotted path
    of the offending field, so the message can name both.
    """

    def __init__(self, kind: str, ref: str, field: str, problem: str) -> None:
        self.kind = kind
        self.ref = ref
        self.field = field
        self.problem = problem
        super().__init__(f"{kind} {ref}: {field}: {problem}")
