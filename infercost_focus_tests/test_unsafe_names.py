"""Object names never become file paths: hostile names are captured and exported, nothing more.

Capture files are named after the capture time and a random suffix, month files after the asset
and the month; the IO manager refuses any path part that could leave its base folder.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from infercost_focus.captures import CaptureStore
from infercost_focus.cli import main
from infercost_focus.errors import OutputError
from infercost_focus.pipeline.io_managers import FocusCsvIOManager
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/abs",
    "a/b",
    "..",
    ".",
    "nul\x00byte",
    "back\\slash\\..\\..",
    "C:\\Windows\\system32",
    "~root",
    "x" * 300,
]
CAPTURED_AT = datetime(2026, 4, 20, 10, 5, tzinfo=UTC)


def _hostile_objects() -> list[dict]:
    objects: list[dict] = []
    for number, name in enumerate(HOSTILE_NAMES):
        objects.append(
            usage_report(
                name,
                name,
                uid=f"uid-{number}",
                profile=name,
                by_model=[model_entry(name, 10, 5, "1.5", namespace=name)],
            )
        )
        objects.append(cost_profile(name, name, gpu_model=name))
    return objects


def _tree(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*"))


def test_hostile_names_are_captured_only_below_the_store_root(tmp_path: Path) -> None:
    root = tmp_path / "store"
    objects = _hostile_objects()
    reports = [obj for obj in objects if obj["kind"] == "UsageReport"]
    profiles = [obj for obj in objects if obj["kind"] == "CostProfile"]

    CaptureStore(root).write(CAPTURED_AT, reports, profiles, "../../source")

    assert list(tmp_path.iterdir()) == [root]
    for path in _tree(root):
        assert path.resolve().is_relative_to(root.resolve())
        assert not path.is_symlink()
    files = [path.relative_to(root) for path in _tree(root) if path.is_file()]
    assert len(files) == 1 and files[0].parts[:4] == ("captures", "2026", "04", "20")
    states = CaptureStore(root).month_states("2026-04")
    assert sorted(s["metadata"]["name"] for s in states.usage_reports) == sorted(HOSTILE_NAMES)


def test_hostile_names_are_exported_from_the_store_as_cells_not_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "store"
    objects = _hostile_objects()
    reports = [obj for obj in objects if obj["kind"] == "UsageReport"]
    profiles = [obj for obj in objects if obj["kind"] == "CostProfile"]
    CaptureStore(root).write(CAPTURED_AT, reports, profiles, "test")
    out = tmp_path / "out" / "2026-04.csv"

    code = main(
        [
            *("export", "focus", "--captures", str(root)),
            *("--billing-month", "2026-04", "--out", str(out)),
        ]
    )

    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "2026-04.csv",
        "2026-04.csv.metadata.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert sorted(json.loads(row["Tags"])["report"] for row in rows) == sorted(HOSTILE_NAMES)
    assert {row["x-InferGpuModel"] for row in rows} == set(HOSTILE_NAMES)


UNSAFE_PARTS = [
    "..",
    ".",
    "",
    "../2026-01",
    "a/b",
    "/abs",
    "back\\slash",
    "nul\x00",
    ".hidden",
    "-rf",
    "2026-01\n",
    "~",
]


@pytest.mark.parametrize("part", UNSAFE_PARTS)
def test_the_io_manager_refuses_an_unsafe_partition_key(tmp_path: Path, part: str) -> None:
    manager = FocusCsvIOManager(base_path=str(tmp_path))
    with pytest.raises(OutputError, match="Cannot use"):
        manager.file_path(dg.AssetKey(["focus_monthly"]), part)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("part", UNSAFE_PARTS)
def test_the_io_manager_refuses_an_unsafe_asset_key_part(tmp_path: Path, part: str) -> None:
    manager = FocusCsvIOManager(base_path=str(tmp_path))
    with pytest.raises(OutputError, match="Cannot use"):
        manager.file_path(dg.AssetKey(["focus", part]), "2026-01")


def test_every_accepted_path_stays_below_the_base(tmp_path: Path) -> None:
    manager = FocusCsvIOManager(base_path=str(tmp_path / "base"))
    for parts, partition in (
        (["focus_monthly"], "2026-04"),
        (["group", "focus_1_2_monthly"], "2026-12"),
        (["a..b"], "x.y"),
    ):
        for file_format in ("csv", "csv.gz", "parquet"):
            path = Path(manager.file_path(dg.AssetKey(parts), partition, file_format).path)
            assert path.resolve().is_relative_to((tmp_path / "base").resolve())
