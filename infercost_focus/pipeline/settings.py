"""Settings read from the environment, so a deployment configures the location without code."""

import os
from typing import TypeVar

import dagster as dg

from infercost_focus.errors import InferCostError

T = TypeVar("T")

SOURCE = "INFERCOST_SOURCE"
KUBECONFIG = "INFERCOST_KUBECONFIG"
CONTEXT = "INFERCOST_CONTEXT"
NAMESPACE = "INFERCOST_NAMESPACE"
REQUEST_TIMEOUT = "INFERCOST_REQUEST_TIMEOUT"
INPUT_PATHS = "INFERCOST_INPUT_PATHS"
CAPTURES = "INFERCOST_CAPTURES"
OUTPUT = "INFERCOST_OUTPUT"
FORMATS = "INFERCOST_FORMATS"
REGION = "INFERCOST_REGION"
START_MONTH = "INFERCOST_START_MONTH"
CAPTURE_CRON = "INFERCOST_CAPTURE_CRON"
MONTHLY_CRON = "INFERCOST_MONTHLY_CRON"

DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_CAPTURES = ".infercost/captures"
DEFAULT_OUTPUT = ".infercost/focus"
DEFAULT_START_MONTH = "2025-10"
DEFAULT_CAPTURE_CRON = "*/15 * * * *"
DEFAULT_MONTHLY_CRON = "0 6 2 * *"


def env_or(name: str, default: T) -> dg.EnvVar | T:
    """`EnvVar(name)` when the variable is set (resolved at run time), otherwise `default`."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def env_text(name: str, default: str) -> str:
    """A setting needed when the definitions load (partitions, cron strings)."""
    return os.environ.get(name) or default


def env_seconds(name: str, default: float) -> float:
    """Positive seconds, read when the definitions load: Dagster has no EnvVar for floats."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise InferCostError(
            f"{name} must be a positive number of seconds, not {text!r}; set it to e.g. 30."
        )
    return seconds
