"""The gate: the FinOps Foundation's focus-validator accepts the conformant layout.

The validator (PyPI `focus-validator` 2.2, Python 3.12) lives in a virtual environment of its own,
`.validator-venv`, that `scripts/test.sh` creates; `INFERCOST_FOCUS_VALIDATOR` points elsewhere.
Its exit code is 0 even when rules fail, so the JUnit report it writes is read instead.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd
import pytest

from infercost_focus.core.export import export_focus, source_tags
from infercost_focus.core.layouts import FOCUS_12, RenderOptions
from infercost_focus.core.writers import encode
from infercost_focus_tests.edge_cases import realistic_objects

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = Path(
    os.environ.get(
        "INFERCOST_FOCUS_VALIDATOR", ROOT / ".validator-venv" / "bin" / "focus-validator"
    )
)
# The capabilities an on-prem inference platform has; conditional rules apply only to these.
APPLICABILITY = ",".join(
    [
        "USAGE_MEASUREMENT_SUPPORTED",
        "UNIT_PRICING_SUPPORTED",
        "SUB_ACCOUNT_SUPPORTED",
        "BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED",
        "RESOURCE_TYPE_ASSIGNMENT_SUPPORTED",
        "REGION_SUPPORTED",
        "TAGGING_SUPPORTED",
        "ACCOUNT_NAMING_SUPPORTED",
        "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",
    ]
)
# InvoiceId-C-004-C (null when there is no invoice) and InvoiceId-C-005-C (not null when there
# is one) cannot both pass in this validator: exactly one of them may fail.
UNAVOIDABLE = {"InvoiceId-C-004-C", "InvoiceId-C-005-C"}

pytestmark = pytest.mark.slow


def _validate(data_file: Path, tmp_path: Path) -> tuple[list[str], int, int]:
    """(failed rule ids, tests run, tests skipped) of one validator run."""
    if not VALIDATOR.exists():
        pytest.fail(
            f"{VALIDATOR} is missing: run ./scripts/test.sh, which installs focus-validator into "
            ".validator-venv, or set INFERCOST_FOCUS_VALIDATOR."
        )
    python = VALIDATOR.parent / "python"
    site = subprocess.run(
        [
            str(python),
            "-c",
            "import focus_validator, os; "
            "print(os.path.dirname(os.path.dirname(focus_validator.__file__)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    report = tmp_path / f"{data_file.name}.xml"
    done = subprocess.run(
        [
            str(VALIDATOR),
            "--data-file",
            str(data_file),
            "--validate-version",
            "1.2",
            "--block-download",
            "--applicability-criteria",
            APPLICABILITY,
            "--output-type",
            "unittest",
            "--output-destination",
            str(report),
        ],
        # NB: the validator loads currency_codes.csv by a path relative to its site-packages.
        cwd=site,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    root = ElementTree.parse(report).getroot()
    failed = [
        str(case.get("name", "")).split(" ")[0]
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return failed, int(root.get("tests", 0)), int(root.get("skipped", 0))


@pytest.fixture(scope="module")
def conformant() -> pd.DataFrame:
    objects = realistic_objects()
    options = RenderOptions(region="eu-west-1", extra_tags=source_tags(objects))
    return export_focus(objects, layout_name=FOCUS_12, options=options).frame


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_the_conformant_layout_passes_the_foundations_validator(
    conformant: pd.DataFrame, file_format: str, tmp_path: Path
) -> None:
    data_file = tmp_path / f"focus.{file_format}"
    data_file.write_bytes(encode(conformant, FOCUS_12, file_format))
    failed, tests, skipped = _validate(data_file, tmp_path)
    assert tests - skipped >= 200, "too few rules ran for the result to mean anything"
    assert len(failed) == 1 and set(failed) <= UNAVOIDABLE, failed


def test_the_gate_fails_a_file_that_breaks_focus_rules(
    conformant: pd.DataFrame, tmp_path: Path
) -> None:
    broken = conformant.copy()
    broken["ChargeCategory"] = "Consumption"
    broken["BillingCurrency"] = "usd"
    data_file = tmp_path / "broken.csv"
    data_file.write_bytes(encode(broken, FOCUS_12, "csv"))
    failed, _, _ = _validate(data_file, tmp_path)
    assert any(rule.startswith("ChargeCategory-") for rule in failed), failed
    assert any(rule.startswith("BillingCurrency-") for rule in failed), failed
