"""Files in each format: gzip and Parquet bytes, Parquet types and nulls, the metadata file."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from infercost_focus.core.csv_writer import csv_bytes
from infercost_focus.core.export import export_focus
from infercost_focus.core.layouts import FOCUS_12, FOCUS_12_COLUMNS, INFERCOST
from infercost_focus.core.writers import decode, encode, metadata, metadata_name
from infercost_focus.errors import OutputError
from infercost_focus_tests.builders import model_entry, usage_report
from infercost_focus_tests.edge_cases import edge_case_objects


@pytest.fixture(scope="module", params=[INFERCOST, FOCUS_12])
def layout_frame(request: pytest.FixtureRequest) -> tuple[str, pd.DataFrame]:
    return request.param, export_focus(edge_case_objects(), layout_name=request.param).frame


def test_gzip_csv_is_the_csv_text_and_the_same_bytes_every_time(
    layout_frame: tuple[str, pd.DataFrame],
) -> None:
    layout, frame = layout_frame
    first = encode(frame, layout, "csv.gz")
    assert first == encode(frame, layout, "csv.gz")
    assert gzip.decompress(first) == csv_bytes(frame)


def test_parquet_is_the_same_bytes_every_time(layout_frame: tuple[str, pd.DataFrame]) -> None:
    layout, frame = layout_frame
    assert encode(frame, layout, "parquet") == encode(frame, layout, "parquet")


def test_parquet_columns_are_typed_decimals_timestamps_and_integers() -> None:
    frame = export_focus(edge_case_objects(), layout_name=FOCUS_12).frame
    table = pq.read_table(io.BytesIO(encode(frame, FOCUS_12, "parquet")))
    assert table.column_names == list(FOCUS_12_COLUMNS)
    schema = table.schema
    assert pa.types.is_decimal(schema.field("BilledCost").type)
    assert pa.types.is_decimal(schema.field("ListUnitPrice").type)
    assert schema.field("ChargePeriodStart").type.tz == "UTC"
    assert schema.field("x_InferTokensInput").type == pa.int64()
    assert schema.field("Tags").type == pa.string()
    # Exact values and real nulls.
    costs = table.column("BilledCost").to_pylist()
    assert sum(costs, Decimal(0)) == sum(map(Decimal, frame["BilledCost"]))
    assert Decimal("0.00000000000000001") in costs
    assert table.column("InvoiceId").null_count == len(frame)
    assert 2**53 + 1 in table.column("x_InferTokensInput").to_pylist()


def test_empty_cells_of_the_infercost_layout_are_nulls_in_typed_parquet_columns() -> None:
    frame = export_focus(edge_case_objects()).frame
    table = pq.read_table(io.BytesIO(encode(frame, INFERCOST, "parquet")))
    orphan = frame.index[frame["x-InferCostProfile"] == "missing-pool"][0]
    assert table.column("x-InferGpuCount")[orphan].as_py() is None
    assert table.column("ChargeClass")[orphan].as_py() == ""  # text keeps the layout's ""


def test_a_token_count_beyond_int64_cannot_go_to_parquet_and_says_why() -> None:
    frame = export_focus([usage_report(by_model=[model_entry("m", 2**70, 0, "1")])]).frame
    with pytest.raises(OutputError, match=r"UsageQuantity as integer in Parquet.*write CSV"):
        encode(frame, INFERCOST, "parquet")
    assert str(2**70) in csv_bytes(frame).decode()


def test_each_format_reads_back_as_the_same_text(layout_frame: tuple[str, pd.DataFrame]) -> None:
    layout, frame = layout_frame
    for file_format in ("csv", "csv.gz"):
        back = decode(encode(frame, layout, file_format), file_format)
        assert back.astype(object).fillna("").equals(frame.astype(object).fillna(""))


def test_the_metadata_file_describes_version_generator_time_and_columns() -> None:
    document = json.loads(metadata(FOCUS_12, "parquet", 12, billing_month="2026-04"))
    assert document["FocusVersion"] == "1.2"
    assert document["DataGenerator"]["Name"] == "infercost-focus"
    assert document["CreationDate"].endswith("Z")
    assert (document["Rows"], document["BillingMonth"], document["Format"]) == (
        12,
        "2026-04",
        "parquet",
    )
    columns = {c["ColumnName"]: c for c in document["Schema"]}
    assert list(columns) == list(FOCUS_12_COLUMNS)
    assert columns["BilledCost"] == {
        "ColumnName": "BilledCost",
        "DataType": "Decimal",
        "Nullable": False,
        "CustomColumn": False,
    }
    assert columns["x_InferGpuModel"]["CustomColumn"] is True
    assert columns["PricingUnit"]["AllowedValues"] == ["1000000 Tokens"]
    assert metadata_name("2026-04.csv.gz") == "2026-04.csv.gz.metadata.json"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown format 'xlsx'"):
        encode(pd.DataFrame(), INFERCOST, "xlsx")
