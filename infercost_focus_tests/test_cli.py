"""`infercost export focus` as users run it: the installed command, its flags, output and errors."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from infercost_focus.cli import main
from infercost_focus.core.jsonio import dumps_exact
from infercost_focus.core.layouts import INFERCOST_COLUMNS
from infercost_focus_tests.builders import cost_profile, model_entry, usage_report

INFERCOST = str(Path(sys.executable).parent / "infercost")
DEMO_AT = "2026-04-20T12:00:00Z"


def _dump(path: Path, *objects: dict) -> str:
    path.write_text(dumps_exact({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    return str(path)


def _run(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INFERCOST, *arguments], input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_the_installed_command_exports_demo_data_and_both_awk_pipelines_work(
    tmp_path: Path,
) -> None:
    out = tmp_path / "focus.csv"
    done = _run("export", "focus", "--demo", "--at", DEMO_AT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "exported" in done.stderr and "FOCUS rows" in done.stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) > 10

    by_namespace = subprocess.run(
        ["awk", "-F,", "NR>1 {by_ns[$29]+=$1} END {for (n in by_ns) print n, by_ns[n]}", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected: dict[str, Decimal] = {}
    for row in rows:
        expected[row["SubAccountId"]] = expected.get(row["SubAccountId"], 0) + Decimal(
            row["BilledCost"]
        )
    awk_sums = dict(line.split(" ") for line in by_namespace.strip().splitlines())
    assert set(awk_sums) == set(expected)
    for namespace, total in expected.items():
        assert abs(Decimal(awk_sums[namespace]) - total) < Decimal("0.01")

    by_model = subprocess.run(
        [
            "awk",
            "-F,",
            'NR>1 && $27 != "" {tokens[$27]+=$19} END {for (m in tokens) print m, tokens[m]}',
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    models = {row["SkuId"] for row in rows if row["SkuId"]}
    assert {line.split(" ")[0] for line in by_model.strip().splitlines()} == models


@pytest.mark.slow
def test_stdout_is_the_default_and_kubectl_json_can_come_from_stdin() -> None:
    dump = dumps_exact({"kind": "List", "items": [usage_report(), cost_profile()]})
    done = _run("export", "focus", "--input", "-", "--region", "eu-west-1", stdin=dump)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [row["Region"] for row in rows] == ["eu-west-1"]
    assert list(rows[0]) == list(INFERCOST_COLUMNS)


@pytest.mark.slow
def test_an_unreadable_input_is_an_error_line_without_traceback(tmp_path: Path) -> None:
    done = _run(
        "export",
        "focus",
        "--input",
        str(tmp_path / "missing.yaml"),
        "--out",
        str(tmp_path / "out.csv"),
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: Cannot read input")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_an_unreachable_cluster_is_an_error_line_without_traceback(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: secret-token-value}}]\n"
    )
    done = _run("export", "focus", "--kubeconfig", str(kubeconfig), "--request-timeout", "2")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    assert "secret-token-value" not in done.stderr


def test_filters_keep_one_namespace_and_one_period(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    dump = _dump(
        tmp_path / "dump.json",
        usage_report(namespace="team-a", period="2026-04"),
        usage_report(namespace="team-b", period="2026-04"),
        usage_report(
            name="march",
            namespace="team-a",
            period="2026-03",
            start="2026-03-01T00:00:00Z",
            end="2026-04-01T00:00:00Z",
        ),
    )
    assert main(["export", "focus", "-i", dump, "-n", "team-a", "--period", "2026-04"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsysbinary.readouterr().out.decode())))
    assert [(r["SubAccountId"], r["ResourceId"]) for r in rows] == [
        ("team-a", "team-a/chat-monthly/llama-3-70b")
    ]


def test_nothing_matched_writes_the_header_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "empty.csv"
    dump = _dump(tmp_path / "dump.json", usage_report())
    assert main(["export", "focus", "-i", dump, "--period", "1999-01", "-o", str(out)]) == 0
    assert out.read_text() == ",".join(INFERCOST_COLUMNS) + "\n"
    assert "warning: no UsageReport matching period='1999-01'" in capsys.readouterr().err


def test_rejected_objects_are_summarised_on_stderr_and_the_rest_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = usage_report(name="broken")
    broken["status"]["inputTokens"] = -3
    unreconciled = usage_report(name="new")
    del unreconciled["status"]
    dump = _dump(tmp_path / "dump.json", broken, unreconciled, usage_report(name="fine"))
    out = tmp_path / "out.csv"
    assert main(["export", "focus", "-i", dump, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "rejected 1 objects" in err
    assert "UsageReport team-a/broken: status.inputTokens: must not be negative" in err
    assert "team-a/new has no status.period yet" in err
    assert [r["ResourceId"] for r in csv.DictReader(out.open())] == ["team-a/fine/llama-3-70b"]
    assert main(["export", "focus", "-i", dump, "-o", str(out), "--fail-on-reject"]) == 3


def test_the_same_input_gives_byte_identical_files(tmp_path: Path) -> None:
    dump = _dump(
        tmp_path / "dump.json",
        usage_report(by_model=[model_entry(f"m{i}", i, i, f"0.{i}") for i in range(1, 9)]),
        cost_profile(),
    )
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    assert main(["export", "focus", "-i", dump, "-o", str(first)]) == 0
    assert main(["export", "focus", "-i", dump, "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_at_without_demo_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "focus", "--at", DEMO_AT]) == 1
    assert "error: --at only applies to --demo" in capsys.readouterr().err


def test_input_and_demo_cannot_be_combined(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["export", "focus", "--demo", "--input", "x.json"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_closed_period_is_exported_from_the_capture_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "captures")
    assert (
        main(
            [
                "captures",
                "fill-demo",
                "--captures",
                store,
                "--from",
                "2026-03",
                "--to",
                "2026-04",
                "--every-hours",
                "12",
            ]
        )
        == 0
    )
    out = tmp_path / "w14.csv"
    assert (
        main(["export", "focus", "--captures", store, "--period", "2026-W14", "-o", str(out)]) == 0
    )
    rows = list(csv.DictReader(out.open(newline="")))
    assert rows and all('"period":"2026-W14"' in row["Tags"] for row in rows)
    # The week of 30 March to 5 April is split at the end of March.
    assert {row["BillingPeriodStart"][:7] for row in rows} == {"2026-03", "2026-04"}
    assert "captured the demo cluster" in capsys.readouterr().err


def test_the_capture_store_needs_a_month_to_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "focus", "--captures", "/nonexistent"]) == 1
    assert "--captures needs --period or --billing-month" in capsys.readouterr().err


def test_a_bad_billing_month_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "focus", "--demo", "--billing-month", "April"])
    assert "'April' is not a month" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("layout", "file_format", "suffix"),
    [
        ("infercost", "csv.gz", ".csv.gz"),
        ("focus-1.2", "csv", ".csv"),
        ("focus-1.2", "parquet", ".parquet"),
    ],
)
def test_layout_and_format_are_chosen_and_described_by_a_metadata_file(
    tmp_path: Path, layout: str, file_format: str, suffix: str
) -> None:
    import json

    from infercost_focus.core.layouts import LAYOUTS
    from infercost_focus.core.writers import decode

    out = tmp_path / f"focus{suffix}"
    arguments = [
        "export",
        "focus",
        "--demo",
        "--at",
        DEMO_AT,
        "--layout",
        layout,
        "--format",
        file_format,
        "--out",
        str(out),
        "--region",
        "eu-west-1",
    ]
    assert main(arguments) == 0
    frame = decode(out.read_bytes(), file_format)
    assert list(frame.columns) == list(LAYOUTS[layout].names)
    assert len(frame) > 10
    description = json.loads((tmp_path / f"focus{suffix}.metadata.json").read_text())
    assert (description["Layout"], description["Format"], description["Rows"]) == (
        layout,
        file_format,
        len(frame),
    )


def test_the_conformant_layout_takes_the_platform_and_billing_account(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    arguments = [
        "export",
        "focus",
        "--demo",
        "--at",
        DEMO_AT,
        "--layout",
        "focus-1.2",
        "--provider-name",
        "Acme AI",
        "--billing-account-id",
        "eu-1",
        "--billing-account-name",
        "Acme EU",
    ]
    assert main(arguments) == 0
    rows = list(csv.DictReader(io.StringIO(capsysbinary.readouterr().out.decode())))
    assert {(r["ProviderName"], r["PublisherName"], r["InvoiceIssuerName"]) for r in rows} == {
        ("Acme AI", "Acme AI", "Acme AI")
    }
    assert {(r["BillingAccountId"], r["BillingAccountName"]) for r in rows} == {("eu-1", "Acme EU")}


def test_parquet_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "focus", "--demo", "--format", "parquet"]) == 1
    assert "Cannot write Parquet to a terminal or pipe; give --out FILE." in capsys.readouterr().err
