"""The container image: its Dockerfile, its build context and its pinned versions, without Docker.

No Docker engine can run here, so the Dockerfile is parsed (dockerfile-parse) and checked for what
the Helm chart and the cluster rely on; the build context is checked by applying .dockerignore's
rules as docker applies them.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from infercost_focus_tests.deploy_support import (
    CONSTRAINTS,
    ROOT,
    VALUES,
    dockerfile,
    image_user,
    instructions,
    load_values,
    pins,
)

MODULE = "infercost_focus.definitions"
PORT = 4000


@pytest.fixture(scope="module")
def parsed() -> DockerfileParser:
    return dockerfile()


def _copies(parsed: DockerfileParser) -> dict[str, str]:
    """Each COPY source and where it lands in the image."""
    copies: dict[str, str] = {}
    for value in instructions(parsed, "COPY"):
        *sources, destination = shlex.split(value)
        for source in sources:
            assert not source.startswith("--"), f"COPY {value}: copies from outside the context"
            landed = destination + source.rsplit("/", 1)[-1] if destination.endswith("/") else None
            copies[source] = landed or destination
    return copies


def test_the_image_is_built_on_a_pinned_slim_python_3_11(parsed: DockerfileParser) -> None:
    assert not parsed.is_multistage
    pattern = r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?"
    assert re.fullmatch(pattern, parsed.baseimage), parsed.baseimage


def test_the_image_runs_as_the_non_root_user_the_pods_run_as(parsed: DockerfileParser) -> None:
    uid, gid = image_user()
    assert uid != 0 and gid != 0
    assert "useradd --uid 10001 --gid 10001" in " ".join(instructions(parsed, "RUN"))
    [deployment] = load_values()["dagster-user-deployments"]["deployments"]
    pod = deployment["podSecurityContext"]
    assert (pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"]) == (True, uid, gid)


def test_the_image_serves_the_code_location_on_port_4000(parsed: DockerfileParser) -> None:
    assert instructions(parsed, "EXPOSE") == [str(PORT)]
    # NB: the chart gives its whole command as container args; an ENTRYPOINT would prefix them.
    assert instructions(parsed, "ENTRYPOINT") == []
    [cmd] = instructions(parsed, "CMD")
    command = json.loads(cmd)
    assert command[:3] == ["dagster", "code-server", "start"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options == {"--host": "0.0.0.0", "--port": str(PORT), "--module-name": MODULE}


def test_the_image_installs_the_project_from_the_build_context_at_pinned_versions(
    parsed: DockerfileParser,
) -> None:
    copies = _copies(parsed)
    assert sorted(copies) == [
        "README.md",
        "deploy/constraints.txt",
        "infercost_focus",
        "pyproject.toml",
    ]
    for source in copies:
        assert (ROOT / source).exists(), source
        assert not _excluded_by_dockerignore(source), f"{source} is left out of the build context"
    assert instructions(parsed, "ADD") == []

    runs = " ".join(instructions(parsed, "RUN"))
    assert not re.search(r"https?://|git\+|--index-url|--extra-index-url|--find-links", runs)
    installs = re.findall(r"pip install ([^&]*)", runs)
    assert len(installs) == 2
    for install in installs:
        assert f"--constraint {copies['deploy/constraints.txt']}" in install, install
    project = copies["pyproject.toml"].removesuffix("/pyproject.toml")
    assert f'"{project}[k8s]"' in installs[-1]


@pytest.mark.parametrize(
    ("package", "accepted"),
    [("", True), ("s3fs", True), ("gcsfs", True), ("adlfs", True), ("requests", False)],
)
def test_the_fsspec_build_argument_accepts_only_the_object_store_packages(
    parsed: DockerfileParser, package: str, accepted: bool
) -> None:
    guard = re.search(r'case "\$FSSPEC_PACKAGE" in .*? esac', " ".join(instructions(parsed, "RUN")))
    assert guard is not None
    done = subprocess.run(
        ["sh", "-c", guard.group(0)],
        env={"FSSPEC_PACKAGE": package, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert (done.returncode == 0) is accepted, done.stderr


# --- The build context ---------------------------------------------------------------------------


def _dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression (`**` crosses folders, `*` does not)."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


def _excluded_by_dockerignore(path: str) -> bool:
    """Whether docker leaves `path` out: the last pattern matching it or a folder above decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in _dockerignore_patterns():
        regex = _glob_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not pattern.startswith("!")
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".validator-venv/bin/focus-validator",
        ".infercost/captures/2026/04/capture.parquet",
        ".dagster_home/dagster.yaml",
        ".git/HEAD",
        ".mypy_cache/3.11/cache.db",
        "infercost_focus/__pycache__/cli.cpython-311.pyc",
        "infercost_focus_tests/data/k8s/crds.yaml",
        "benchmarks/generator.py",
        "deploy/helm/values.yaml",
        "infercost_focus.egg-info/PKG-INFO",
        "build/lib/infercost_focus/cli.py",
    ],
)
def test_the_build_context_leaves_out_environments_state_caches_and_tests(path: str) -> None:
    assert _excluded_by_dockerignore(path)


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "README.md", "infercost_focus/definitions.py", "deploy/constraints.txt"],
)
def test_the_build_context_keeps_what_the_image_installs(path: str) -> None:
    assert not _excluded_by_dockerignore(path)


# --- Pinned versions -----------------------------------------------------------------------------


def test_the_pins_satisfy_every_dependency_of_the_project_and_its_k8s_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["k8s"]]
    pinned = pins()
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not pinned in {CONSTRAINTS.name}"
        assert pinned[name] in requirement.specifier, f"{name}=={pinned[name]} breaks {text!r}"
    for package in ("s3fs", "gcsfs", "adlfs", "setuptools"):
        assert package in pinned, f"{package}, which the Dockerfile may install, is not pinned"


def test_the_dagster_libraries_are_pinned_to_the_same_dagster_release() -> None:
    pinned = pins()
    dagster = pinned["dagster"]
    assert (dagster.major, dagster.minor) == (1, 13)
    # The libraries number their releases 0.(minor + 16).micro beside dagster 1.minor.micro.
    library = Version(f"0.{dagster.minor + 16}.{dagster.micro}")
    assert pinned["dagster-k8s"] == library
    assert pinned["dagster-postgres"] == library
    assert pinned["kubernetes"] < Version("37")


def test_the_chart_version_in_the_values_and_the_readme_is_the_pinned_dagster() -> None:
    dagster = str(pins()["dagster"])
    for text in (VALUES.read_text(), (ROOT / "README.md").read_text()):
        assert set(re.findall(r"dagster/dagster --version (\S+)", text)) == {dagster}
    assert f"chart, version {dagster}" in VALUES.read_text()
