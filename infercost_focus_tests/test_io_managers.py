"""The FOCUS CSV IO manager: paths, object-store URLs, loading one month or several."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from upath import UPath

from infercost_focus.errors import OutputError
from infercost_focus.pipeline.io_managers import FocusCsvIOManager


def _frame(value: str) -> pd.DataFrame:
    return pa.table({"BilledCost": [value], "Tags": ['{"a":"b,c"}']}).to_pandas(
        types_mapper=pd.ArrowDtype
    )


@dg.asset(
    partitions_def=dg.MonthlyPartitionsDefinition(start_date="2026-01", fmt="%Y-%m"),
    io_manager_key="focus_io_manager",
)
def focus(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return _frame(context.partition_key.replace("-", "."))


def test_a_partition_is_written_to_base_asset_month_csv(tmp_path: Path) -> None:
    manager = FocusCsvIOManager(base_path=str(tmp_path))
    dg.materialize([focus], partition_key="2026-02", resources={"focus_io_manager": manager})
    assert (tmp_path / "focus" / "2026-02.csv").read_text() == (
        'BilledCost,Tags\n2026.02,"{""a"":""b,c""}"\n'
    )


def test_an_fsspec_url_works_as_the_base_path() -> None:
    manager = FocusCsvIOManager(base_path="memory://infercost-test/focus")
    dg.materialize([focus], partition_key="2026-03", resources={"focus_io_manager": manager})
    path = UPath("memory://infercost-test/focus/focus/2026-03.csv")
    assert path.read_text().startswith("BilledCost,Tags\n2026.03,")


def test_a_path_part_that_could_leave_the_base_is_refused(tmp_path: Path) -> None:
    manager = FocusCsvIOManager(base_path=str(tmp_path))
    with pytest.raises(OutputError, match=r"Cannot use '\.\.'"):
        manager.file_path(dg.AssetKey(["..", "etc"]), "2026-01")
    with pytest.raises(OutputError, match="Cannot use"):
        manager.file_path(dg.AssetKey(["focus"]), "../../2026-01")


def test_a_downstream_asset_reads_back_the_same_cells(tmp_path: Path) -> None:
    seen: dict[str, pd.DataFrame] = {}

    @dg.asset(partitions_def=focus.partitions_def, io_manager_key="focus_io_manager")
    def reader(focus: pd.DataFrame) -> None:
        seen["frame"] = focus

    manager = FocusCsvIOManager(base_path=str(tmp_path))
    dg.materialize(
        [focus, reader], partition_key="2026-01", resources={"focus_io_manager": manager}
    )
    assert seen["frame"].to_dict("records") == [{"BilledCost": "2026.01", "Tags": '{"a":"b,c"}'}]


def test_loading_a_month_that_was_never_written_says_what_to_do(tmp_path: Path) -> None:
    @dg.asset(partitions_def=focus.partitions_def, io_manager_key="focus_io_manager")
    def reader(focus: pd.DataFrame) -> None:
        pass

    manager = FocusCsvIOManager(base_path=str(tmp_path))
    result = dg.materialize(
        [focus, reader],
        selection=[reader],
        partition_key="2026-01",
        resources={"focus_io_manager": manager},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("reader")
    assert failure is not None
    assert "materialize that month first" in str(failure.error)
