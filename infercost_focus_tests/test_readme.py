"""The README's demo examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "Examples, all runnable as written on the demo data:"


def _demo_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(re.escape(MARKER) + r"\s*```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "the README lost its block of demo examples"
    return [
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ]


def test_the_readme_has_demo_examples_with_both_awk_pipelines() -> None:
    examples = _demo_examples()
    assert sum(line.startswith("awk ") for line in examples) == 2
    assert any("--captures" in line for line in examples)


@pytest.mark.slow
def test_every_demo_example_in_the_readme_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for line in _demo_examples():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        if line.startswith("awk "):
            assert len(done.stdout.splitlines()) >= 5, (line, done.stdout)
        elif "--out" not in line and "fill-demo" not in line:
            assert done.stdout.count("\n") >= 2, (line, done.stdout[:500])
