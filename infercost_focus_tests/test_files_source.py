"""kubectl dumps as input: JSON lists, YAML documents, directories and standard input."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from infercost_focus.core.jsonio import dumps_exact
from infercost_focus.errors import InputError
from infercost_focus.sources.files import read_inputs
from infercost_focus_tests.builders import cost_profile, usage_report


def _kubectl_list(*items: dict) -> str:
    return dumps_exact(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": list(items),
            "metadata": {"resourceVersion": ""},
        }
    )


def test_a_kubectl_json_list_yields_every_infercost_object(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(_kubectl_list(usage_report(), cost_profile()))
    objects = read_inputs([str(dump)])
    assert [obj["kind"] for obj in objects] == ["UsageReport", "CostProfile"]


def test_json_numbers_keep_their_exact_value(tmp_path: Path) -> None:
    report = usage_report(cost="0.30000000000000004")
    report["status"]["inputTokens"] = 2**64 + 1
    dump = tmp_path / "dump.json"
    dump.write_text(_kubectl_list(report))
    (read,) = read_inputs([str(dump)])
    assert read["status"]["estimatedCostUSD"] == Decimal("0.30000000000000004")
    assert read["status"]["inputTokens"] == 2**64 + 1


def test_multi_document_yaml_with_floats_reads_them_as_exact_decimals(tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text(
        "apiVersion: finops.infercost.ai/v1alpha1\nkind: CostProfile\n"
        "metadata: {name: p, namespace: a}\nspec: {electricity: {ratePerKWh: 0.1}}\n"
        "---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"
        "---\n"
        "apiVersion: finops.infercost.ai/v1alpha1\nkind: UsageReport\n"
        "metadata: {name: r, namespace: a}\n"
    )
    objects = read_inputs([str(dump)])
    assert [obj["kind"] for obj in objects] == ["CostProfile", "UsageReport"]
    assert objects[0]["spec"]["electricity"]["ratePerKWh"] == Decimal("0.1")


def test_a_yaml_list_from_kubectl_is_unwrapped(tmp_path: Path) -> None:
    dump = tmp_path / "dump.yml"
    dump.write_text(yaml.safe_dump(json.loads(_kubectl_list(cost_profile()))))
    assert [obj["kind"] for obj in read_inputs([str(dump)])] == ["CostProfile"]


def test_a_directory_is_read_file_by_file_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.json").write_text(dumps_exact(usage_report(name="b")))
    (tmp_path / "sub" / "a.yaml").write_text(dumps_exact(usage_report(name="a")))
    (tmp_path / "notes.txt").write_text("ignored")
    names = [obj["metadata"]["name"] for obj in read_inputs([str(tmp_path)])]
    assert names == ["b", "a"]  # "b.json" sorts before "sub/a.yaml"


def test_standard_input_is_read_for_a_dash() -> None:
    stdin = io.BytesIO(_kubectl_list(usage_report()).encode())
    assert len(read_inputs(["-"], stdin=stdin)) == 1


def test_a_missing_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot read input '.*missing.json': no such file"):
        read_inputs([str(tmp_path / "missing.json")])


def test_broken_json_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text('{"items": [')
    with pytest.raises(InputError, match=r"Cannot parse .*dump.json as JSON"):
        read_inputs([str(dump)])
