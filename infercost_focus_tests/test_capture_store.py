"""The capture store: immutable capture files, read back as the last state per (uid, period)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from upath import UPath

from infercost_focus.captures import CaptureStore
from infercost_focus.core.jsonio import loads_exact
from infercost_focus.errors import CaptureStoreError

CAPTURE_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.parquet")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def usage_report(
    name: str,
    *,
    period: str,
    start: str,
    end: str,
    updated: str | None = None,
    namespace: str = "team-a",
    uid: str | None = None,
    cost: str = "1.5",
) -> dict[str, Any]:
    return {
        "apiVersion": "finops.infercost.ai/v1alpha1",
        "kind": "UsageReport",
        "metadata": {"namespace": namespace, "name": name, "uid": uid or f"uid-{name}"},
        "spec": {"costProfileRef": "gpu-pool"},
        "status": {
            "period": period,
            "periodStart": start,
            "periodEnd": end,
            "lastUpdated": updated or end,
            "totalCost": Decimal(cost),
        },
    }


def cost_profile(namespace: str, name: str, rate: str) -> dict[str, Any]:
    return {
        "apiVersion": "finops.infercost.ai/v1alpha1",
        "kind": "CostProfile",
        "metadata": {"namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}"},
        "spec": {"hourlyRate": Decimal(rate)},
    }


def costs(states: list[dict[str, Any]]) -> list[tuple[str, str, Decimal]]:
    return [
        (s["metadata"]["name"], s["status"]["period"], s["status"]["totalCost"]) for s in states
    ]


def capture_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def store(tmp_path: Path) -> CaptureStore:
    return CaptureStore(tmp_path / "store")


def test_round_trip_keeps_decimals_and_huge_integers_exact(store: CaptureStore) -> None:
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    report["status"]["totalCost"] = Decimal("12345678901234567890.000000000000000001")
    report["status"]["inputTokens"] = 2**64 + 7
    report["status"]["byModel"] = [{"model": "llama", "cost": Decimal("0.1")}]
    store.write(at("2026-04-20T10:05:00Z"), [report], [], "test")

    (state,) = store.month_states("2026-04").usage_reports

    assert state == report
    assert state["status"]["totalCost"] == Decimal("12345678901234567890.000000000000000001")
    assert state["status"]["inputTokens"] == 2**64 + 7
    assert isinstance(state["status"]["byModel"][0]["cost"], Decimal)


def test_write_returns_what_it_stored_and_records_the_source(store: CaptureStore) -> None:
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-02T00:00:00Z"
    )
    profiles = [cost_profile("team-a", "gpu-pool", "2.5")]

    info = store.write(
        datetime(2026, 4, 2, 2, 0, tzinfo=UTC), [report], profiles, "kubernetes:prod"
    )

    assert (info.usage_reports, info.cost_profiles, info.source) == (1, 1, "kubernetes:prod")
    assert info.captured_at == at("2026-04-02T02:00:00Z")
    assert Path(info.path).is_file()
    header = pq.ParquetFile(info.path).schema_arrow.metadata[b"infercost.capture"]
    assert json.loads(header)["source"] == "kubernetes:prod"


def test_previous_month_keeps_its_final_state_after_the_rollover(store: CaptureStore) -> None:
    april = dict(period="2026-04", start="2026-04-01T00:00:00Z")
    store.write(
        at("2026-04-30T12:00:00Z"),
        [usage_report("chat", **april, end="2026-04-30T11:55:00Z", cost="900")],
        [],
        "test",
    )
    store.write(
        at("2026-04-30T23:50:00Z"),
        [usage_report("chat", **april, end="2026-04-30T23:45:00Z", cost="990")],
        [],
        "test",
    )
    may = usage_report(
        "chat", period="2026-05", start="2026-05-01T00:00:00Z", end="2026-05-01T00:10:00Z", cost="3"
    )
    store.write(at("2026-05-01T00:15:00Z"), [may], [], "test")

    april_states = store.month_states("2026-04")
    may_states = store.month_states("2026-05")

    assert costs(april_states.usage_reports) == [("chat", "2026-04", Decimal("990"))]
    assert costs(may_states.usage_reports) == [("chat", "2026-05", Decimal("3"))]
    assert april_states.last_capture == at("2026-04-30T23:50:00Z")


def test_latest_state_of_a_period_wins(store: CaptureStore) -> None:
    for hour, cost in ((8, "10"), (9, "11"), (10, "12")):
        end = f"2026-04-20T{hour:02d}:00:00Z"
        report = usage_report(
            "chat", period="2026-04", start="2026-04-01T00:00:00Z", end=end, cost=cost
        )
        store.write(at(end) + timedelta(minutes=5), [report], [], "test")

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [("chat", "2026-04", Decimal("12"))]
    assert states.captures_read == 3
    assert states.first_capture == at("2026-04-20T08:05:00Z")


def test_older_state_written_later_does_not_win(store: CaptureStore) -> None:
    newer = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-20T10:00:00Z",
        cost="12",
    )
    older = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-20T08:00:00Z",
        cost="10",
    )
    store.write(at("2026-04-20T10:05:00Z"), [newer], [], "live")
    store.write(at("2026-04-20T11:00:00Z"), [older], [], "late kubectl dump")

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [("chat", "2026-04", Decimal("12"))]


def test_state_without_last_updated_loses_to_one_with_it(store: CaptureStore) -> None:
    dated = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-20T10:00:00Z",
        cost="12",
    )
    undated = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-20T11:00:00Z",
        cost="13",
    )
    del undated["status"]["lastUpdated"]
    store.write(at("2026-04-20T10:05:00Z"), [dated], [], "test")
    store.write(at("2026-04-20T11:05:00Z"), [undated], [], "test")

    assert costs(store.month_states("2026-04").usage_reports) == [
        ("chat", "2026-04", Decimal("12"))
    ]


def test_weekly_period_crossing_a_month_boundary_belongs_to_both_months(
    store: CaptureStore,
) -> None:
    # ISO week 18 of 2026 runs from Monday 27 April to Sunday 3 May.
    week = dict(period="2026-W18", start="2026-04-27T00:00:00Z")
    store.write(
        at("2026-04-28T00:00:00Z"),
        [usage_report("batch", **week, end="2026-04-27T23:55:00Z", cost="5")],
        [],
        "test",
    )
    store.write(
        at("2026-05-03T23:58:00Z"),
        [usage_report("batch", **week, end="2026-05-03T23:55:00Z", cost="35")],
        [],
        "test",
    )

    april = store.month_states("2026-04")
    may = store.month_states("2026-05")

    assert costs(april.usage_reports) == [("batch", "2026-W18", Decimal("35"))]
    assert costs(may.usage_reports) == [("batch", "2026-W18", Decimal("35"))]
    assert store.month_states("2026-06").usage_reports == []


def test_states_come_sorted_by_namespace_name_and_period_start(store: CaptureStore) -> None:
    days = [("2026-04-11", "2026-04-12"), ("2026-04-10", "2026-04-11")]
    for day, next_day in days:
        reports = [
            usage_report(
                name,
                namespace=namespace,
                uid=f"{namespace}-{name}",
                period=day,
                start=f"{day}T00:00:00Z",
                end=f"{next_day}T00:00:00Z",
            )
            for namespace, name in (("team-b", "alpha"), ("team-a", "zeta"), ("team-a", "alpha"))
        ]
        store.write(at(f"{next_day}T00:01:00Z"), reports, [], "test")

    states = store.month_states("2026-04").usage_reports

    order = [
        (s["metadata"]["namespace"], s["metadata"]["name"], s["status"]["period"]) for s in states
    ]
    assert order == [
        ("team-a", "alpha", "2026-04-10"),
        ("team-a", "alpha", "2026-04-11"),
        ("team-a", "zeta", "2026-04-10"),
        ("team-a", "zeta", "2026-04-11"),
        ("team-b", "alpha", "2026-04-10"),
        ("team-b", "alpha", "2026-04-11"),
    ]


def test_malformed_objects_are_kept_verbatim_but_never_selected(store: CaptureStore) -> None:
    good = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    backwards = usage_report(
        "backwards", period="2026-04", start="2026-04-20T00:00:00Z", end="2026-04-10T00:00:00Z"
    )
    no_uid = usage_report(
        "no-uid", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    del no_uid["metadata"]["uid"]
    weird: list[Any] = [
        {"metadata": {"name": 5, "namespace": ["x"]}, "status": "broken"},
        {
            "metadata": {"name": "bad-time", "uid": "u-bad"},
            "status": {"period": "2026-04", "periodStart": "yesterday"},
        },
        {"status": {"periodStart": "2026-04-01T00:00:00", "period": "2026-04"}},  # no offset
        ["not", "an", "object"],
        None,
    ]
    objects = [good, backwards, no_uid, *weird]
    info = store.write(at("2026-04-20T10:05:00Z"), objects, [{"spec": None}], "test")

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [("chat", "2026-04", Decimal("1.5"))]
    assert states.cost_profiles == []
    stored = pq.read_table(info.path)
    assert [loads_exact(text) for text in stored["object"].to_pylist()] == [
        *objects,
        {"spec": None},
    ]
    assert stored["name"].to_pylist()[3:] == [None, "bad-time", None, None, None, None]
    assert stored["period_start"].to_pylist()[4:] == [None, None, None, None, None]


def test_concurrent_writes_at_the_same_instant_both_land(store: CaptureStore) -> None:
    instant = at("2026-04-20T10:00:00Z")
    start = threading.Barrier(8)
    infos = []

    def capture(number: int) -> None:
        report = usage_report(
            f"r{number}", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T09:59:00Z"
        )
        start.wait()
        infos.append(store.write(instant, [report], [], f"writer {number}"))

    threads = [threading.Thread(target=capture, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({info.path for info in infos}) == 8
    assert store.captures() == [instant] * 8
    assert len(store.month_states("2026-04").usage_reports) == 8


def test_leftover_temporary_file_is_ignored(store: CaptureStore, tmp_path: Path) -> None:
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    info = store.write(at("2026-04-20T10:05:00Z"), [report], [], "test")
    crashed = Path(info.path).with_name(".tmp-20260420T103000.000000Z-0123456789ab.parquet")
    crashed.write_bytes(b"PAR1 half a capture")

    states = store.month_states("2026-04")

    assert len(states.usage_reports) == 1
    assert states.captures_read == 1
    assert store.captures() == [at("2026-04-20T10:05:00Z")]


def test_corrupt_capture_file_raises_an_error_naming_it(store: CaptureStore) -> None:
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    info = store.write(at("2026-04-20T10:05:00Z"), [report], [], "test")
    corrupt = Path(info.path).with_name("20260420T103000.000000Z-0123456789ab.parquet")
    corrupt.write_bytes(b"not parquet at all")

    with pytest.raises(CaptureStoreError, match=re.escape(str(corrupt))):
        store.month_states("2026-04")


def test_missing_store_reads_as_empty(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "never-written")

    states = store.month_states("2026-04")

    assert (states.usage_reports, states.cost_profiles, states.captures_read) == ([], [], 0)
    assert states.first_capture is None and states.last_capture is None
    assert store.captures() == []


def test_month_without_captures_reads_no_files(store: CaptureStore) -> None:
    report = usage_report(
        "chat", period="2026-01", start="2026-01-01T00:00:00Z", end="2026-01-20T10:00:00Z"
    )
    store.write(at("2026-01-20T10:05:00Z"), [report], [], "test")

    states = store.month_states("2026-04")

    assert (states.usage_reports, states.captures_read) == ([], 0)


def test_month_must_be_written_as_year_and_month(store: CaptureStore) -> None:
    with pytest.raises(CaptureStoreError, match=r"'2026-4'.*YYYY-MM"):
        store.month_states("2026-4")
    with pytest.raises(CaptureStoreError, match="YYYY-MM"):
        store.month_states("2026-13")


def test_naive_capture_time_is_refused(store: CaptureStore) -> None:
    with pytest.raises(CaptureStoreError, match="timezone-aware"):
        store.write(datetime(2026, 4, 20, 10, 0), [], [], "test")


def test_captures_lists_the_times_in_a_range(store: CaptureStore) -> None:
    times = [
        at("2026-03-31T23:59:59Z"),
        at("2026-04-01T00:00:00Z"),
        at("2026-04-30T23:59:59.5Z"),
        at("2026-05-01T00:00:00Z"),
    ]
    for instant in reversed(times):
        store.write(instant, [], [], "test")

    assert store.captures() == times
    assert store.captures(at("2026-04-01T00:00:00Z"), at("2026-05-01T00:00:00Z")) == times[1:3]
    assert store.captures(start=at("2026-04-15T00:00:00Z")) == times[2:]


def test_cost_profiles_with_the_same_name_in_two_namespaces_stay_apart(store: CaptureStore) -> None:
    reports = [
        usage_report(
            "chat",
            namespace=namespace,
            period="2026-04",
            start="2026-04-01T00:00:00Z",
            end="2026-04-20T10:00:00Z",
        )
        for namespace in ("team-a", "team-b")
    ]
    profiles = [
        cost_profile("team-b", "gpu-pool", "3.1"),
        cost_profile("team-a", "gpu-pool", "2.5"),
    ]
    store.write(at("2026-04-20T10:05:00Z"), reports, profiles, "test")

    found = store.month_states("2026-04").cost_profiles

    rates = [
        (p["metadata"]["namespace"], p["metadata"]["name"], p["spec"]["hourlyRate"]) for p in found
    ]
    assert rates == [("team-a", "gpu-pool", Decimal("2.5")), ("team-b", "gpu-pool", Decimal("3.1"))]


def test_cost_profiles_are_taken_as_of_the_last_contributing_capture(store: CaptureStore) -> None:
    april = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-30T23:55:00Z"
    )
    may = usage_report(
        "chat", period="2026-05", start="2026-05-01T00:00:00Z", end="2026-05-01T09:55:00Z"
    )
    store.write(at("2026-04-10T00:00:00Z"), [], [cost_profile("team-a", "gpu-pool", "1")], "test")
    store.write(
        at("2026-04-30T23:58:00Z"), [april], [cost_profile("team-a", "gpu-pool", "2")], "test"
    )
    later = [cost_profile("team-a", "gpu-pool", "3"), cost_profile("team-a", "new-pool", "4")]
    store.write(at("2026-05-01T10:00:00Z"), [may], later, "test")
    store.write(at("2026-05-02T10:00:00Z"), [], [cost_profile("team-a", "new-pool", "5")], "test")

    found = store.month_states("2026-04").cost_profiles

    rates = [(p["metadata"]["name"], p["spec"]["hourlyRate"]) for p in found]
    # gpu-pool as captured with the final April state; new-pool from its earliest capture.
    assert rates == [("gpu-pool", Decimal("2")), ("new-pool", Decimal("4"))]


def test_object_names_never_influence_paths(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    hostile = usage_report(
        "../../etc",
        namespace="../../..",
        uid="../uid",
        period="../2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-20T10:00:00Z",
    )
    store.write(
        at("2026-04-20T10:05:00Z"), [hostile], [cost_profile("/etc", "../passwd", "1")], "../source"
    )

    assert list(tmp_path.iterdir()) == [root]
    (written,) = capture_files(root)
    assert written.relative_to(root).parts[:4] == ("captures", "2026", "04", "20")
    assert CAPTURE_NAME.fullmatch(written.name)
    assert store.month_states("2026-04").usage_reports == [hostile]


def test_file_url_is_a_local_store(tmp_path: Path) -> None:
    store = CaptureStore(f"file://{tmp_path}/store")
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )

    info = store.write(at("2026-04-20T10:05:00Z"), [report], [], "test")

    assert Path(info.path).parent == tmp_path / "store/captures/2026/04/20"
    assert CaptureStore(tmp_path / "store").month_states("2026-04").usage_reports == [report]


@pytest.fixture
def memory_root() -> Iterator[UPath]:
    root = UPath(f"memory://capture-store-tests/{uuid.uuid4().hex}")
    yield root
    if root.exists():
        root.fs.rm(root.path, recursive=True)


def test_memory_filesystem_works_as_a_remote_store(memory_root: UPath) -> None:
    store = CaptureStore(memory_root)
    april = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-30T23:55:00Z",
        cost="0.3",
    )
    info = store.write(
        at("2026-04-30T23:58:00Z"), [april], [cost_profile("team-a", "gpu-pool", "2")], "test"
    )
    (
        memory_root / "captures/2026/04/30/.tmp-20260430T235900.000000Z-0123456789ab.parquet"
    ).write_bytes(b"x")

    states = store.month_states("2026-04")

    assert info.path.startswith(str(memory_root) + "/captures/2026/04/30/")
    assert costs(states.usage_reports) == [("chat", "2026-04", Decimal("0.3"))]
    assert len(states.cost_profiles) == 1
    assert store.captures() == [at("2026-04-30T23:58:00Z")]
    assert CaptureStore(f"{memory_root}/elsewhere").month_states("2026-04").captures_read == 0


def test_many_reports_over_many_captures_keep_one_state_per_period(store: CaptureStore) -> None:
    # 200 reports (half monthly, half daily) captured every 15 minutes from 28 April 12:00 to
    # 1 May 14:45: 300 captures. Not timed; the benchmark in benchmarks/ measures speed.
    first = at("2026-04-28T12:00:00Z")
    for number in range(300):
        instant = first + timedelta(minutes=15 * number)
        updated = instant - timedelta(minutes=1)
        day = updated.replace(hour=0, minute=0, second=0, microsecond=0)
        stamp = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        reports = [
            usage_report(
                f"monthly-{r:03d}",
                period=f"{day:%Y-%m}",
                start=f"{day:%Y-%m}-01T00:00:00Z",
                end=stamp,
                cost=str(number),
            )
            for r in range(100)
        ] + [
            usage_report(
                f"daily-{r:03d}",
                period=f"{day:%Y-%m-%d}",
                start=f"{day:%Y-%m-%d}T00:00:00Z",
                end=stamp,
                cost=str(number),
            )
            for r in range(100)
        ]
        store.write(instant, reports, [cost_profile("team-a", "gpu-pool", "2")], "test")

    april = store.month_states("2026-04")
    may = store.month_states("2026-05")

    # April: 100 monthly states and 100 daily states for each of 28, 29 and 30 April.
    assert len(april.usage_reports) == 400
    assert len(may.usage_reports) == 200
    assert april.captures_read == 241 and may.captures_read == 59
    final_april = {
        s["status"]["totalCost"] for s in april.usage_reports if s["status"]["period"] == "2026-04"
    }
    assert final_april == {Decimal(240)}
    assert len(april.cost_profiles) == len(may.cost_profiles) == 1


def test_a_capture_written_months_after_its_period_is_found_for_that_month(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    april = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-30T23:45:00Z"
    )
    # ISO week 18 of 2026 runs from Monday 27 April to Sunday 3 May.
    week = usage_report(
        "batch", period="2026-W18", start="2026-04-27T00:00:00Z", end="2026-05-03T23:55:00Z"
    )
    info = store.write(at("2026-12-03T09:00:00Z"), [april, week], [], "files")

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [
        ("batch", "2026-W18", Decimal("1.5")),
        ("chat", "2026-04", Decimal("1.5")),
    ]
    assert states.usage_reports == [week, april]
    assert states.captures_read == 1
    assert states.last_capture == at("2026-12-03T09:00:00Z")
    assert store.month_states("2026-05").usage_reports == [week]
    assert store.month_states("2026-06").usage_reports == []
    name = Path(info.path).name
    markers = sorted(path.relative_to(root).as_posix() for path in (root / "late").rglob("*"))
    assert markers == [
        "late/2026-04",
        f"late/2026-04/{name}",
        "late/2026-05",
        f"late/2026-05/{name}",
    ]
    assert (root / "late/2026-04" / name).read_text() == f"captures/2026/12/03/{name}"


def test_a_capture_written_months_before_its_period_is_found_for_that_month(
    store: CaptureStore,
) -> None:
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    store.write(at("2026-01-05T00:00:00Z"), [report], [], "clock off by months")

    assert store.month_states("2026-04").usage_reports == [report]


def test_the_newest_state_wins_between_a_late_and_an_on_time_capture(store: CaptureStore) -> None:
    april = dict(period="2026-04", start="2026-04-01T00:00:00Z")
    store.write(
        at("2026-04-20T10:05:00Z"),
        [
            usage_report("live-newer", **april, end="2026-04-20T10:00:00Z", cost="12"),
            usage_report("dump-newer", **april, end="2026-04-20T10:00:00Z", cost="12"),
        ],
        [],
        "live",
    )
    store.write(
        at("2026-12-03T09:00:00Z"),
        [
            usage_report("live-newer", **april, end="2026-04-20T08:00:00Z", cost="10"),
            usage_report("dump-newer", **april, end="2026-04-30T23:45:00Z", cost="990"),
        ],
        [],
        "files",
    )

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [
        ("dump-newer", "2026-04", Decimal("990")),
        ("live-newer", "2026-04", Decimal("12")),
    ]
    assert states.captures_read == 2


def test_an_on_time_capture_writes_no_marker(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    april = dict(period="2026-04", start="2026-04-01T00:00:00Z")
    store.write(
        at("2026-04-20T10:05:00Z"),
        [usage_report("chat", **april, end="2026-04-20T10:00:00Z")],
        [],
        "t",
    )
    # The final state of April, captured just after the rollover, and a week across two months.
    store.write(
        at("2026-05-01T00:15:00Z"),
        [
            usage_report("chat", **april, end="2026-04-30T23:45:00Z"),
            usage_report(
                "batch", period="2026-W18", start="2026-04-27T00:00:00Z", end="2026-05-01T00:10:00Z"
            ),
        ],
        [],
        "t",
    )
    # A state captured 31 days after its month still lies in the month's window.
    store.write(
        at("2026-05-31T23:59:00Z"),
        [usage_report("late-job", **april, end="2026-04-30T23:45:00Z")],
        [],
        "t",
    )

    assert len(store.month_states("2026-04").usage_reports) == 3
    assert not (root / "late").exists()


def test_a_marker_whose_capture_is_gone_raises_an_error_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-30T23:45:00Z"
    )
    info = store.write(at("2026-12-03T09:00:00Z"), [report], [], "files")
    Path(info.path).unlink()
    marker = root / "late/2026-04" / Path(info.path).name

    with pytest.raises(CaptureStoreError, match=re.escape(str(marker))):
        store.month_states("2026-04")


def test_a_marker_naming_another_file_raises_an_error_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-30T23:45:00Z"
    )
    info = store.write(at("2026-12-03T09:00:00Z"), [report], [], "files")
    marker = root / "late/2026-04" / Path(info.path).name
    marker.write_text("../../etc/passwd")

    with pytest.raises(CaptureStoreError, match=re.escape(str(marker))):
        store.month_states("2026-04")


def test_a_marker_for_a_capture_in_the_window_does_not_count_it_twice(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = CaptureStore(root)
    report = usage_report(
        "chat", period="2026-04", start="2026-04-01T00:00:00Z", end="2026-04-20T10:00:00Z"
    )
    info = store.write(at("2026-04-20T10:05:00Z"), [report], [], "test")
    name = Path(info.path).name
    (root / "late/2026-04").mkdir(parents=True)
    (root / "late/2026-04" / name).write_text(f"captures/2026/04/20/{name}")
    (root / "late/2026-04" / f".tmp-{name}").write_text("half a marker")

    states = store.month_states("2026-04")

    assert states.usage_reports == [report]
    assert states.captures_read == 1


def test_memory_filesystem_works_with_a_late_capture(memory_root: UPath) -> None:
    store = CaptureStore(memory_root)
    april = usage_report(
        "chat",
        period="2026-04",
        start="2026-04-01T00:00:00Z",
        end="2026-04-30T23:45:00Z",
        cost="0.3",
    )
    info = store.write(
        at("2026-12-03T09:00:00Z"), [april], [cost_profile("team-a", "gpu-pool", "2")], "files"
    )
    name = info.path.rsplit("/", 1)[-1]
    (memory_root / "late/2026-04/.tmp-20261203T100000.000000Z-0123456789ab.parquet").write_bytes(
        b"x"
    )

    states = store.month_states("2026-04")

    assert costs(states.usage_reports) == [("chat", "2026-04", Decimal("0.3"))]
    assert len(states.cost_profiles) == 1
    assert states.captures_read == 1
    assert (memory_root / "late/2026-04" / name).read_text() == f"captures/2026/12/03/{name}"
