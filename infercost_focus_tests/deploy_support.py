"""Shared pieces of the deployment tests: the files under deploy/, the image's user and pins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from dockerfile_parse import DockerfileParser
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
KUBERNETES = DEPLOY / "kubernetes"
CONSTRAINTS = DEPLOY / "constraints.txt"
DOCKERFILE = ROOT / "Dockerfile"

# The oldest Kubernetes release still commonly run, and the newest the schemas know.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]


def documents(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML file of one or more documents."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def validate(manifest: dict[str, Any]) -> None:
    """Validate against the OpenAPI schemas, refusing fields the schemas do not know."""
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)


def load_values() -> dict[str, Any]:
    values = yaml.safe_load(VALUES.read_text())
    assert isinstance(values, dict)
    return values


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    """A user deployment's env as names and values (the chart takes a map or a list of EnvVars)."""
    env = deployment.get("env") or {}
    if isinstance(env, list):
        return {item["name"]: item["value"] for item in env}
    return dict(env)


def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE), env_replace=False)


def instructions(parsed: DockerfileParser, name: str) -> list[str]:
    """The values of every instruction `name` (RUN, COPY, ...), in order."""
    return [item["value"] for item in parsed.structure if item["instruction"] == name]


def image_user() -> tuple[int, int]:
    """The uid and gid the image runs as (its last USER instruction)."""
    uid, gid = instructions(dockerfile(), "USER")[-1].split(":")
    return int(uid), int(gid)


def pins() -> dict[str, Version]:
    """deploy/constraints.txt as package name -> pinned version."""
    pinned: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = Version(version)
    return pinned
