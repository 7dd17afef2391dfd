#!/usr/bin/env bash
# Set up the project's virtual environments (if needed) and run every check and test:
# ruff (format and lint), mypy --strict on the package, then pytest, slow tests included.
#
# Two environments: .venv (the project, Python 3.11+) and .validator-venv (the FinOps
# Foundation's focus-validator, which needs Python 3.12; FOCUS_VALIDATOR_PYTHON chooses it).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ ! -x .validator-venv/bin/focus-validator ]; then
    validator_python=${FOCUS_VALIDATOR_PYTHON:-}
    for candidate in /root/.pyenv/versions/3.12.1/bin/python3 python3.12; do
        if [ -z "$validator_python" ] && command -v "$candidate" >/dev/null 2>&1; then
            validator_python=$candidate
        fi
    done
    if [ -z "$validator_python" ]; then
        echo "error: focus-validator needs Python 3.12; set FOCUS_VALIDATOR_PYTHON" >&2
        exit 1
    fi
    rm -rf .validator-venv
    "$validator_python" -m venv .validator-venv
    .validator-venv/bin/python -m pip install --quiet --upgrade pip
    .validator-venv/bin/python -m pip install --quiet "focus-validator==2.2.*" "pyarrow<21"
fi

.venv/bin/ruff format --check infercost_focus infercost_focus_tests benchmarks
.venv/bin/ruff check infercost_focus infercost_focus_tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
