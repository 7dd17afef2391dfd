"""Storage faults: killed writers, concurrent captures, a full disk, a directory refused.

Each fault must leave the previous good state readable, no temporary file that a later run trips
over, and a message naming the path. Killed writers are real child processes stopped with SIGKILL
at a known point: a write patched inside the child only, which writes half its bytes, says
`ready` and waits to be killed.
"""

import errno
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

import infercost_focus.captures._storage as capture_storage
from infercost_focus.captures import CaptureStore
from infercost_focus.cli import main
from infercost_focus.core.csv_writer import write_atomically
from infercost_focus.core.jsonio import dumps_exact
from infercost_focus.core.leftovers import STALE_AFTER_SECONDS, remove_stale_temporaries
from infercost_focus.errors import CaptureStoreError, OutputError
from infercost_focus.pipeline.io_managers import FocusCsvIOManager
from infercost_focus_tests.builders import usage_report
from infercost_focus_tests.dagster_support import focus_file, materialize_month

PROJECT = Path(__file__).resolve().parent.parent
CAPTURED_AT = datetime(2026, 4, 20, 10, 5, tzinfo=UTC)
READY_TIMEOUT = 60.0

# A file object for the child: half the bytes, flushed, then `ready` and a wait to be killed.
_STUCK_FILE = """
import sys, time

class StuckFile:
    def __init__(self, file):
        self.file = file
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.file.close()
    def fileno(self):
        return self.file.fileno()
    def flush(self):
        self.file.flush()
    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        print("ready", flush=True)
        time.sleep(600)
"""

_KILLED_CAPTURE = (
    _STUCK_FILE
    + """
from datetime import datetime, UTC
import infercost_focus.captures._storage as storage
from infercost_focus.captures import CaptureStore
from infercost_focus_tests.builders import usage_report

storage.open = lambda path, mode: StuckFile(open(path, mode))
newer = usage_report(cost="20", end="2026-04-20T11:00:00Z")
CaptureStore(sys.argv[1]).write(datetime(2026, 4, 20, 11, 5, tzinfo=UTC), [newer], [], "child")
"""
)

_KILLED_MONTH_FILE = (
    _STUCK_FILE
    + """
import os
from infercost_focus.core.csv_writer import write_atomically

real_fdopen = os.fdopen
os.fdopen = lambda handle, mode: StuckFile(real_fdopen(handle, mode))
write_atomically(sys.argv[1], b"BilledCost\\n" + b"2.5\\n" * 1_000_000)
"""
)

_CONCURRENT_CAPTURE = """
import os, sys, time
from datetime import datetime, UTC
from infercost_focus.captures import CaptureStore
from infercost_focus_tests.builders import usage_report

root, name, go = sys.argv[1:]
store = CaptureStore(root)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
report = usage_report(name, uid=f"uid-{name}")
store.write(datetime(2026, 4, 20, 10, 5, tzinfo=UTC), [report], [], name)
"""


def _child(code: str, *arguments: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *arguments],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=PROJECT,
    )


def _wait_until_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    readable, _, _ = select.select([child.stdout], [], [], READY_TIMEOUT)
    if not readable:
        child.kill()
        pytest.fail("the child process never reached the point where it should be killed")
    assert child.stdout.readline().strip() == "ready"


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


def _temporaries(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob(".tmp-*"))


def _age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def _costs(store: CaptureStore) -> list[str]:
    return [
        str(s["status"]["estimatedCostUSD"]) for s in store.month_states("2026-04").usage_reports
    ]


@pytest.fixture
def store_with_a_capture(tmp_path: Path) -> CaptureStore:
    store = CaptureStore(tmp_path / "store")
    store.write(CAPTURED_AT, [usage_report(cost="12.5")], [], "first")
    return store


# Killed writers.


def test_a_capture_killed_mid_write_leaves_the_previous_state_and_an_ignored_temporary_file(
    tmp_path: Path, store_with_a_capture: CaptureStore
) -> None:
    root = tmp_path / "store"
    child = _child(_KILLED_CAPTURE, str(root))
    _wait_until_ready(child)
    _kill(child)

    # Half a capture lies in a temporary file; readers see the previous state only.
    (leftover,) = _temporaries(root)
    assert leftover.stat().st_size > 0
    assert _costs(store_with_a_capture) == ["12.5"]
    assert store_with_a_capture.captures() == [CAPTURED_AT]

    # A later capture lands; a young leftover stays (its writer might still be alive) ...
    later = datetime(2026, 4, 20, 12, 5, tzinfo=UTC)
    store_with_a_capture.write(
        later, [usage_report(cost="30", end="2026-04-20T12:00:00Z")], [], "t"
    )
    assert _costs(store_with_a_capture) == ["30"]
    assert _temporaries(root) == [leftover]

    # ... and one older than the limit goes with the next write to its folder.
    _age(leftover, STALE_AFTER_SECONDS + 60)
    store_with_a_capture.write(
        later, [usage_report(cost="31", end="2026-04-20T12:01:00Z")], [], "t"
    )
    assert _temporaries(root) == []
    assert _costs(store_with_a_capture) == ["31"]


def test_a_month_file_write_killed_midway_leaves_the_previous_file_and_a_later_write_works(
    tmp_path: Path,
) -> None:
    month = tmp_path / "focus" / "2026-04.csv"
    write_atomically(month, b"BilledCost\n1.5\n")
    child = _child(_KILLED_MONTH_FILE, str(month))
    _wait_until_ready(child)
    _kill(child)

    (leftover,) = _temporaries(month.parent)
    assert leftover.stat().st_size > 0
    assert month.read_bytes() == b"BilledCost\n1.5\n"

    write_atomically(month, b"BilledCost\n2.5\n")
    assert month.read_bytes() == b"BilledCost\n2.5\n"
    assert _temporaries(month.parent) == [leftover]
    _age(leftover, STALE_AFTER_SECONDS + 60)
    assert remove_stale_temporaries(month.parent) == [leftover]


def test_two_captures_in_two_processes_at_once_both_land(tmp_path: Path) -> None:
    root = tmp_path / "store"
    go = tmp_path / "go"
    children = [_child(_CONCURRENT_CAPTURE, str(root), name, str(go)) for name in ("one", "two")]
    for child in children:
        _wait_until_ready(child)
    go.touch()
    assert [child.wait(timeout=60) for child in children] == [0, 0]

    store = CaptureStore(root)
    assert store.captures() == [CAPTURED_AT, CAPTURED_AT]
    names = [s["metadata"]["name"] for s in store.month_states("2026-04").usage_reports]
    assert names == ["one", "two"]
    assert _temporaries(root) == []


def test_a_stale_temporary_file_of_a_month_is_removed_by_the_next_write(tmp_path: Path) -> None:
    folder = tmp_path / "focus" / "focus"
    folder.mkdir(parents=True)
    stale = folder / ".tmp-2026-02.csv-abc123"
    young = folder / ".tmp-2026-02.csv-def456"
    other = folder / ".tmp-2026-03.csv-abc123"
    for path in (stale, young, other):
        path.write_bytes(b"half a file")
    _age(stale, STALE_AFTER_SECONDS + 60)
    _age(other, STALE_AFTER_SECONDS + 60)

    manager = FocusCsvIOManager(base_path=str(tmp_path / "focus"))
    dg.materialize([focus], partition_key="2026-02", resources={"focus_io_manager": manager})

    assert not stale.exists()
    assert young.exists()  # its writer may still be running
    assert other.exists()  # another month's, removed when that month is written
    assert (folder / "2026-02.csv").read_text() == "BilledCost\n2026.02\n"


def test_only_temporary_files_can_be_removed_as_stale(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only temporary files"):
        remove_stale_temporaries(tmp_path, "2026-")


@dg.asset(
    partitions_def=dg.MonthlyPartitionsDefinition(start_date="2026-01", fmt="%Y-%m"),
    io_manager_key="focus_io_manager",
)
def focus(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return pa.table({"BilledCost": [context.partition_key.replace("-", ".")]}).to_pandas(
        types_mapper=pd.ArrowDtype
    )


# A full disk and a refused directory.


def _no_space(*_: Any, **__: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullDiskFile:
    """A file whose writes fail as on a full disk; closing it closes the real one."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def __enter__(self) -> "_FullDiskFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_disk_open(path: Any, mode: str) -> _FullDiskFile:
    return _FullDiskFile(open(path, mode))  # the wrapper closes it on exit


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atomic write (month files, metadata, captures) fails with ENOSPC on its first write."""
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda handle, mode: _FullDiskFile(real_fdopen(handle, mode)))
    monkeypatch.setattr(capture_storage, "open", _full_disk_open, raising=False)


def _chmod_blocks_writes() -> bool:
    """Whether a read-only directory refuses writes here (it does not for root)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            Path(folder, "probe").touch()
        except PermissionError:
            return True
        finally:
            os.chmod(folder, 0o755)
        return False


@pytest.fixture
def refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Makes a directory refuse new files: by chmod where that works, else (as root) by patching
    the calls that create files in it to fail with EACCES, as a read-only directory would."""
    made_read_only: list[Path] = []
    patched: list[Path] = []
    if not _chmod_blocks_writes():
        real_mkstemp = tempfile.mkstemp
        real_open = open

        def mkstemp(*args: Any, dir: Any = None, **kwargs: Any) -> Any:
            if dir is not None and Path(dir) in patched:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
            return real_mkstemp(*args, dir=dir, **kwargs)

        def open_file(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if any(Path(path).is_relative_to(folder) for folder in patched):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, mode, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(capture_storage, "open", open_file, raising=False)

    def refuse(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if _chmod_blocks_writes():
            folder.chmod(0o555)
            made_read_only.append(folder)
        else:
            patched.append(folder)

    yield refuse
    for folder in made_read_only:
        folder.chmod(0o755)


@pytest.mark.usefixtures("full_disk")
def test_a_full_disk_keeps_the_previous_month_file_and_names_the_path(tmp_path: Path) -> None:
    month = tmp_path / "2026-04.csv"
    month.write_bytes(b"previous")

    with pytest.raises(OutputError) as raised:
        write_atomically(month, b"new")

    assert str(month) in str(raised.value)
    assert "No space left on device" in str(raised.value)
    assert month.read_bytes() == b"previous"
    assert _temporaries(tmp_path) == []


def test_a_full_disk_keeps_the_previous_captures_and_names_the_capture_file(
    tmp_path: Path, store_with_a_capture: CaptureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture_storage, "open", _full_disk_open, raising=False)
    root = tmp_path / "store"

    with pytest.raises(CaptureStoreError) as raised:
        store_with_a_capture.write(CAPTURED_AT, [usage_report(cost="99")], [], "full")

    assert str(root / "captures" / "2026" / "04" / "20") in str(raised.value)
    assert "No space left on device" in str(raised.value)
    assert _costs(store_with_a_capture) == ["12.5"]
    assert _temporaries(root) == []


def test_a_refused_output_directory_keeps_the_previous_file_and_names_the_path(
    tmp_path: Path, refused: Callable[[Path], None]
) -> None:
    month = tmp_path / "out" / "2026-04.csv"
    month.parent.mkdir()
    month.write_bytes(b"previous")
    refused(month.parent)

    with pytest.raises(OutputError) as raised:
        write_atomically(month, b"new")

    assert str(month) in str(raised.value) and "Permission denied" in str(raised.value)
    assert month.read_bytes() == b"previous"
    assert _temporaries(tmp_path) == []


def test_a_refused_capture_store_keeps_the_previous_captures_and_names_the_file(
    tmp_path: Path, store_with_a_capture: CaptureStore, refused: Callable[[Path], None]
) -> None:
    root = tmp_path / "store"
    refused(root / "captures" / "2026" / "04" / "20")

    with pytest.raises(CaptureStoreError) as raised:
        store_with_a_capture.write(CAPTURED_AT, [usage_report(cost="99")], [], "refused")

    assert str(root) in str(raised.value) and "Permission denied" in str(raised.value)
    assert _costs(store_with_a_capture) == ["12.5"]
    assert _temporaries(root) == []


def test_an_output_path_below_a_regular_file_is_refused_with_its_path(tmp_path: Path) -> None:
    # NB: unlike chmod, this refuses root too: no directory can be made below a file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")

    with pytest.raises(OutputError, match="directory cannot be used") as raised:
        write_atomically(blocker / "2026-04.csv", b"new")
    assert str(blocker / "2026-04.csv") in str(raised.value)

    with pytest.raises(CaptureStoreError, match="Cannot write the capture file") as caught:
        CaptureStore(blocker).write(CAPTURED_AT, [usage_report()], [], "test")
    assert str(blocker) in str(caught.value)
    assert blocker.read_text() == "a file"


# The same faults as users meet them: the command and a Dagster materialization.


def _export(tmp_path: Path, out: Path) -> int:
    dump = tmp_path / "dump.json"
    dump.write_text(dumps_exact({"kind": "List", "items": [usage_report()]}))
    return main(["export", "focus", "--input", str(dump), "--out", str(out)])


def test_the_command_on_a_full_disk_prints_one_error_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "focus.csv"
    assert _export(tmp_path, out) == 0
    previous = out.read_bytes()
    capsys.readouterr()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda handle, mode: _FullDiskFile(real_fdopen(handle, mode)))

    assert _export(tmp_path, out) == 1

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(out) in errors[0] and "No space left on device" in errors[0]
    assert out.read_bytes() == previous
    assert _temporaries(tmp_path) == []


def test_the_command_with_a_refused_directory_prints_one_error_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], refused: Callable[[Path], None]
) -> None:
    out = tmp_path / "out" / "focus.csv"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    refused(out.parent)

    assert _export(tmp_path, out) == 1

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(out) in errors[0] and "Permission denied" in errors[0]
    assert out.read_bytes() == b"previous"


def test_a_materialization_on_a_full_disk_fails_with_the_path_and_keeps_the_month_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CaptureStore(tmp_path / "captures").write(CAPTURED_AT, [usage_report()], [], "test")
    names = ["usage_reports_monthly", "focus_monthly"]
    assert materialize_month(tmp_path, "2026-04", names=names).success
    month = focus_file(tmp_path, "2026-04")
    previous = month.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda handle, mode: _FullDiskFile(real_fdopen(handle, mode)))

    result = materialize_month(tmp_path, "2026-04", names=names, raise_on_error=False)

    assert not result.success
    failure = result.failure_data_for_node("focus_monthly")
    assert failure is not None and failure.error is not None
    message = failure.error.to_string()
    assert "No space left on device" in message and str(month.parent) in message
    assert "materialize the month again" in message
    assert month.read_bytes() == previous
    assert _temporaries(month.parent) == []
