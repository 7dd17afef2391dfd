#!/usr/bin/env bash
# Set up the project's virtual environment (if needed) and run every check and test:
# ruff (format and lint), mypy --strict on the package, then pytest, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

.venv/bin/ruff format --check infercost_focus infercost_focus_tests benchmarks
.venv/bin/ruff check infercost_focus infercost_focus_tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
