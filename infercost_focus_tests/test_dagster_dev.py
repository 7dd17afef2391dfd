"""End to end: `dagster dev` on loopback; a month and backfills launched through its API and CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infercost_focus.captures import CaptureStore
from infercost_focus.captures.demo_history import fill_demo_history

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
DEADLINE = 420.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Dagster:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, query: str, **variables: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def location(self) -> str:
        data = self.query(
            "{ workspaceOrError { ... on Workspace { locationEntries { name "
            "locationOrLoadError { __typename } } } } }"
        )
        (entry,) = data["workspaceOrError"]["locationEntries"]
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        return str(entry["name"])


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[tuple[_Dagster, Path, dict[str, str]]]:
    # Two past months of demo captures, as a fresh machine gets them from the demo history job.
    fill_demo_history(
        CaptureStore(tmp_path / "captures"),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 5, 8, tzinfo=UTC),
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INFERCOST_CAPTURES": str(tmp_path / "captures"),
        "INFERCOST_OUTPUT": str(tmp_path / "focus"),
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = _Dagster(f"http://127.0.0.1:{port}")
    try:
        _wait(lambda: _answers(client), "dagster dev to answer", process, tmp_path)
        yield client, tmp_path, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _answers(client: _Dagster) -> bool:
    try:
        client.location()
    except (OSError, AssertionError, KeyError, ValueError):
        return False
    return True


def _wait(done: Any, what: str, process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if done():
            return
        time.sleep(2)
    log = (tmp_path / "dagster-dev.log").read_text()[-4000:]
    pytest.fail(f"gave up waiting for {what}; dagster dev log ends with:\n{log}")


LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""

RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
BACKFILL_STATUS = (
    "query($id: String!) { partitionBackfillOrError(backfillId: $id) "
    "{ ... on PartitionBackfill { status } } }"
)


def test_a_month_and_backfills_from_the_ui_and_the_command_line_run_through_dagster_dev(
    dagster_dev: tuple[_Dagster, Path, dict[str, str]],
) -> None:
    client, tmp_path, env = dagster_dev
    location = client.location()
    repository = {"repositoryLocationName": location, "repositoryName": "__repository__"}

    # One month, as the Launchpad launches it.
    launched = client.query(
        LAUNCH_RUN,
        params={
            "selector": {**repository, "jobName": "monthly_focus"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-04"}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    # A backfill of two months of the assets, as the UI's "Materialize" on partitions does.
    backfill = client.query(
        LAUNCH_BACKFILL,
        params={
            "assetSelection": [{"path": ["usage_reports_monthly"]}, {"path": ["focus_monthly"]}],
            "partitionNames": ["2026-02", "2026-03"],
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill

    def run_status() -> str:
        return str(client.query(RUN_STATUS, id=run_id)["runOrError"]["status"])

    def backfill_status() -> str:
        data = client.query(BACKFILL_STATUS, id=backfill["backfillId"])
        return str(data["partitionBackfillOrError"]["status"])

    process_stub = _Alive()
    _wait(
        lambda: run_status() in ("SUCCESS", "FAILURE", "CANCELED"),
        "the month's run",
        process_stub,
        tmp_path,
    )  # type: ignore[arg-type]
    assert run_status() == "SUCCESS"
    _wait(
        lambda: (
            backfill_status()
            in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")
        ),
        "the backfill",
        process_stub,
        tmp_path,
    )  # type: ignore[arg-type]
    assert backfill_status() in ("COMPLETED", "COMPLETED_SUCCESS")

    # A backfill from the command line, queued on the same instance for the daemon to launch.
    done = subprocess.run(
        [
            DAGSTER,
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "monthly_focus",
            "--partitions",
            "2026-01",
            "--noprompt",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    january = tmp_path / "focus" / "focus_monthly" / "2026-01.csv"
    _wait(january.exists, "the command-line backfill", process_stub, tmp_path)  # type: ignore[arg-type]

    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        content = (tmp_path / "focus" / "focus_monthly" / f"{month}.csv").read_text()
        lines = content.splitlines()
        assert lines[0].startswith("BilledCost,EffectiveCost,ListCost,ContractedCost,")
        assert len(lines) > 100
        assert all(f",{month}-01T00:00:00Z," in line for line in lines[1:])


class _Alive:
    """Stands in for the process in waits that only poll the API."""

    def poll(self) -> None:
        return None
