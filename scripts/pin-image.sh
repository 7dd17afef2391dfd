#!/usr/bin/env bash
# Write deploy/constraints.txt: every Python package of the container image at an exact version.
#
# It resolves, in a throwaway Python 3.11 environment (the image's Python), the project with its
# `k8s` extra plus each fsspec package the Dockerfile can add (s3fs, gcsfs, adlfs), so that
# whichever the image installs, it gets the versions resolved here together. Run it after a change
# of dependencies in pyproject.toml, then rebuild the image; test_deploy.py checks that the pins
# still satisfy pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip setuptools
# A copy of the source, so that the build leaves nothing behind in the work tree.
mkdir "$work/src"
cp -R pyproject.toml README.md infercost_focus "$work/src/"
"$work/venv/bin/python" -m pip install --quiet "$work/src[k8s]" s3fs gcsfs adlfs
{
    echo "# The container image's Python packages, exactly pinned: written by scripts/pin-image.sh"
    echo "# (Python $("$work/venv/bin/python" -c 'import platform; print(platform.python_version())')); do not edit by hand."
    "$work/venv/bin/python" -m pip freeze --all --exclude pip --exclude infercost-focus
} >deploy/constraints.txt
echo "wrote deploy/constraints.txt ($(grep -vc '^#' deploy/constraints.txt) packages)"
