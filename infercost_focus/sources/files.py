"""kubectl dumps as a source: `kubectl get usagereports,costprofiles -A -o json` (or `-o yaml`).

Accepts a `List` (or `UsageReportList`, ...), single objects, and multi-document YAML, from files,
directories (every `.json`, `.yaml` and `.yml` file below, in name order) or standard input (`-`).
Numbers keep their exact value: non-integer numbers are read as `Decimal`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from infercost_focus.core.jsonio import loads_exact
from infercost_focus.core.resources import GROUP
from infercost_focus.errors import InputError

logger = logging.getLogger(__name__)

_SUFFIXES = (".json", ".yaml", ".yml")


class _ExactLoader(yaml.SafeLoader):
    """YAML's safe loader, reading floats as `Decimal` so that `0.1` stays 0.1."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    value = str(loader.construct_scalar(node)).replace("_", "").lower()
    if value in (".inf", "+.inf"):
        return Decimal("Infinity")
    if value == "-.inf":
        return Decimal("-Infinity")
    if value == ".nan":
        return Decimal("NaN")
    return Decimal(value)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def read_inputs(paths: Iterable[str], stdin: BinaryIO | None = None) -> list[dict[str, Any]]:
    """Every InferCost object in `paths`; `-` reads standard input."""
    objects: list[dict[str, Any]] = []
    for path in paths:
        for name, content in _documents(path, stdin):
            objects.extend(_infercost_objects(_parse(name, content), name))
    return objects


def _documents(path: str, stdin: BinaryIO | None) -> Iterator[tuple[str, bytes]]:
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        yield "<stdin>", stream.read()
        return
    location = Path(path)
    try:
        if location.is_dir():
            files = sorted(
                child
                for child in location.rglob("*")
                if child.is_file() and child.suffix.lower() in _SUFFIXES
            )
            if not files:
                logger.warning("no .json, .yaml or .yml files in %s", location)
            for child in files:
                yield str(child), child.read_bytes()
        else:
            yield str(location), location.read_bytes()
    except FileNotFoundError as error:
        raise InputError(
            f"Cannot read input {path!r}: no such file or directory; pass the path of a "
            "`kubectl get usagereports,costprofiles -A -o json` dump, or - for stdin."
        ) from error
    except OSError as error:
        raise InputError(f"Cannot read input {path!r}: {error.strerror}.") from error


def _parse(name: str, content: bytes) -> list[Any]:
    """The documents of one input: JSON when it parses as JSON, YAML otherwise."""
    text = content.decode("utf-8-sig", errors="strict") if content else ""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = loads_exact(text)
        except ValueError as error:
            raise InputError(f"Cannot parse {name} as JSON: {error}.") from error
        return [document]
    try:
        return [doc for doc in yaml.load_all(text, Loader=_ExactLoader) if doc is not None]
    except yaml.YAMLError as error:
        raise InputError(f"Cannot parse {name} as JSON or YAML: {error}.") from error


def _infercost_objects(documents: list[Any], name: str) -> Iterator[dict[str, Any]]:
    """Objects of the finops.infercost.ai group, unwrapping `List` documents."""
    for document in documents:
        if isinstance(document, list):
            yield from _infercost_objects(document, name)
            continue
        if not isinstance(document, dict):
            raise InputError(
                f"Cannot read {name}: expected Kubernetes objects, found a "
                f"{type(document).__name__}."
            )
        items = document.get("items")
        if isinstance(items, list) and str(document.get("kind", "")).endswith("List"):
            yield from _infercost_objects(items, name)
            continue
        api_version = document.get("apiVersion")
        if isinstance(api_version, str) and api_version.split("/")[0] == GROUP:
            yield document
        else:
            logger.debug("skipping %s object in %s", document.get("kind"), name)
