"""How the Kubernetes source meets a failing API server, through the real client over HTTPS.

Each test has an emulator of its own (see `k8s_emulator`) told to fail on purpose, and a client
whose waits between attempts are recorded instead of slept. Only this module retries requests,
so the emulator's request counts are exact.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import kmock
import kubernetes
import pyarrow.parquet as pq
import pytest

from infercost_focus import definitions
from infercost_focus.captures import CaptureStore
from infercost_focus.core.parsing import parse_objects
from infercost_focus.errors import ClusterError, InferCostError
from infercost_focus.pipeline import settings
from infercost_focus.sources import kubernetes as source
from infercost_focus.sources.kubernetes import connect
from infercost_focus_tests import dagster_support, k8s_emulator
from infercost_focus_tests.k8s_emulator import (
    COST_PROFILES,
    GROUP,
    USAGE_REPORTS,
    VERSION,
    EmulatorServer,
    Fault,
    TLSFiles,
)

TEAM = "team-a"
REPORT_NAMES = (
    "chat-daily",
    "rag-daily",
    "code-assist-daily",
    "summarize-daily",
    "translate-daily",
)
LISTING = f"list usagereports.{GROUP} in all namespaces"
USAGE_REPORT_LIST = kmock.action.LIST, kmock.resource(GROUP, VERSION, USAGE_REPORTS)
UNAVAILABLE = Fault(status=503)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return k8s_emulator.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(tls: TLSFiles) -> Iterator[EmulatorServer]:
    with EmulatorServer(tls, token="faults-emulator-token") as emulator_server:
        yield emulator_server


@pytest.fixture
def kubeconfig(server: EmulatorServer, tls: TLSFiles, tmp_path: Path) -> str:
    path = k8s_emulator.write_kubeconfig(
        tmp_path / "kubeconfig", server=server.url, ca_cert=tls.ca_cert, token=server.token
    )
    return str(path)


@pytest.fixture
def seeded(server: EmulatorServer, kubeconfig: str) -> EmulatorServer:
    """The emulator with the InferCost CRDs, five UsageReports in team-a and one CostProfile."""
    _seed(kubeconfig)
    return server


@pytest.fixture
def sleeps() -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    return []


def _seed(kubeconfig: str) -> None:
    api = kubernetes.config.new_client_from_config(config_file=kubeconfig, persist_config=False)
    try:
        # The CRDs stay: the emulator goes away with the test, so no cleanup is registered.
        k8s_emulator.install_crds(api, contextlib.ExitStack())
        for index, name in enumerate(REPORT_NAMES):
            k8s_emulator.create_object(api, k8s_emulator.usage_report(TEAM, name, index))
        k8s_emulator.create_object(
            api, k8s_emulator.cost_profile(TEAM, "a100-pool", "A100-80GB", 120000)
        )
    finally:
        api.last_response = None
        api.rest_client.pool_manager.clear()
        api.close()


def _lists(server: EmulatorServer, plural: str = USAGE_REPORTS) -> list[kmock.Request]:
    """The list requests the emulator saw for one InferCost resource."""
    return [r for r in server.requests(plural) if r.action == kmock.action.LIST]


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if " failed, attempt " in m]


def _attempt_of(line: str) -> str:
    """`attempt 2/5` from a line that logs a failed attempt."""
    return line.split(" failed, ")[1].split(":")[0]


def _names(objects: list[Any]) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in objects)


# --- Refusals: no retries ------------------------------------------------------------------------


def test_rejected_credentials_fail_at_once_without_retrying(
    seeded: EmulatorServer, tls: TLSFiles, tmp_path: Path, sleeps: list[float]
) -> None:
    stale = k8s_emulator.write_kubeconfig(
        tmp_path / "stale", server=seeded.url, ca_cert=tls.ca_cert, token="stale-token"
    )

    with connect(str(stale), sleep=sleeps.append) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    assert "rejected the credentials" in str(error.value) and "401" in str(error.value)
    assert "attempt" not in str(error.value)
    assert len(_lists(seeded)) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("namespace", "where"), [(None, "in all namespaces"), (TEAM, f"in namespace {TEAM!r}")]
)
def test_forbidden_list_names_what_was_refused_and_the_rbac_rule_without_retrying(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float], namespace: str | None, where: str
) -> None:
    refusal = kmock.KubernetesError(
        403,
        "Forbidden",
        f'usagereports.{GROUP} is forbidden: User "system:serviceaccount:finops:exporter" cannot'
        f' list resource "usagereports" in API group "{GROUP}"',
    )
    seeded.call(lambda emulator: emulator[USAGE_REPORT_LIST] << refusal)

    with connect(kubeconfig, sleep=sleeps.append) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports(namespace)

    message = str(error.value)
    assert message.startswith(f"Cannot list usagereports.{GROUP} {where} on {seeded.url}: ")
    assert "forbidden (403" in message
    assert f"get and list on usagereports and costprofiles in the API group {GROUP}" in message
    assert len(_lists(seeded)) == 1
    assert sleeps == []


def test_missing_crds_say_infercost_is_not_installed_without_retrying(
    server: EmulatorServer, kubeconfig: str, sleeps: list[float]
) -> None:
    with connect(kubeconfig, sleep=sleeps.append) as client, pytest.raises(ClusterError) as error:
        client.list_cost_profiles()

    assert "the InferCost CRDs are not installed in this cluster" in str(error.value)
    assert len(_lists(server, COST_PROFILES)) == 1
    assert sleeps == []


# --- Expired continue tokens ---------------------------------------------------------------------


def test_an_expired_continue_token_restarts_the_listing_once_and_says_so(
    seeded: EmulatorServer,
    kubeconfig: str,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=source.__name__)
    seeded.expire_continue_tokens(1)

    with connect(kubeconfig, page_size=2, sleep=sleeps.append) as client:
        reports = client.list_usage_reports()

    assert _names(reports) == sorted(REPORT_NAMES)
    requests = _lists(seeded)
    assert [bool(r.params.get("continue")) for r in requests] == [False, True, False, True, True]
    restarts = [r for r in caplog.records if "expired (410 Gone)" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in restarts] == [
        (
            logging.WARNING,
            "the continue token for page 2 of usagereports in all namespaces expired (410 Gone);"
            " listing them again from the first page",
        )
    ]
    assert sleeps == []


class _RecordedPages:
    """A page sink that records what `stream` hands it, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, list[str]]] = []

    def restart(self, kind: str) -> None:
        self.events.append(("restart", kind, []))

    def add(self, kind: str, objects: list[Any]) -> None:
        self.events.append(("page", kind, [obj["metadata"]["name"] for obj in objects]))


def test_a_listing_streams_page_by_page_and_a_restart_tells_the_sink_to_forget(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float]
) -> None:
    seeded.expire_continue_tokens(1)
    pages = _RecordedPages()

    with connect(kubeconfig, page_size=2, sleep=sleeps.append) as client:
        client.stream(pages)

    kinds_and_sizes = [(event, kind, len(names)) for event, kind, names in pages.events]
    assert kinds_and_sizes == [
        ("restart", "UsageReport", 0),
        ("page", "UsageReport", 2),  # then page 2's continue token has expired
        ("restart", "UsageReport", 0),
        ("page", "UsageReport", 2),
        ("page", "UsageReport", 2),
        ("page", "UsageReport", 1),
        ("restart", "CostProfile", 0),
        ("page", "CostProfile", 1),
    ]
    after_restart = [names for _, kind, names in pages.events[3:6]]
    assert sorted(name for names in after_restart for name in names) == sorted(REPORT_NAMES)


def test_a_capture_streamed_through_a_restart_holds_each_object_once(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float], tmp_path: Path
) -> None:
    store = CaptureStore(tmp_path / "captures")
    seeded.expire_continue_tokens(1)
    capture = store.begin(datetime(2026, 4, 20, 12, tzinfo=UTC), "kubernetes")
    with connect(kubeconfig, page_size=2, sleep=sleeps.append) as client:
        client.stream(capture)
    info = store.commit(capture)

    with connect(kubeconfig, page_size=100, sleep=sleeps.append) as client:
        listed = client.fetch()
    whole = CaptureStore(tmp_path / "whole")
    whole.write(capture.captured_at, listed.usage_reports, listed.cost_profiles, "kubernetes")

    assert (info.usage_reports, info.cost_profiles) == (len(REPORT_NAMES), 1)
    streamed, written = (
        _capture_rows(root) for root in (tmp_path / "captures", tmp_path / "whole")
    )
    assert streamed == written  # the same rows, in the same order, as one listing in memory
    assert sorted(row["name"] for row in streamed if row["kind"] == "UsageReport") == sorted(
        REPORT_NAMES
    )


def _capture_rows(root: Path) -> list[dict[str, Any]]:
    [path] = root.rglob("*.parquet")
    table = pq.read_table(path)
    header = json.loads(table.schema.metadata[b"infercost.capture"])
    assert header["cost_profile_rows"] == [[TEAM, "a100-pool", len(REPORT_NAMES)]]
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def test_a_second_expired_continue_token_in_one_listing_is_a_cluster_error(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float]
) -> None:
    seeded.expire_continue_tokens(2)

    client = connect(kubeconfig, page_size=2, sleep=sleeps.append)
    with client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    message = str(error.value)
    assert message.startswith(f"Cannot {LISTING} on {seeded.url}: the continue token expired")
    assert "again after the listing was started over" in message and "Retry later" in message
    assert len(_lists(seeded)) == 4
    assert sleeps == []


# --- Failures that may pass: bounded retries -----------------------------------------------------


def test_passing_failures_are_retried_with_doubling_jittered_backoff_and_logged_per_attempt(
    seeded: EmulatorServer,
    kubeconfig: str,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=source.__name__)
    seeded.fail_next(Fault(status=503), Fault(status=500), Fault(status=429), Fault(drop=True))

    with connect(kubeconfig, backoff=0.5, sleep=sleeps.append) as client:
        reports = client.list_usage_reports()

    assert _names(reports) == sorted(REPORT_NAMES)
    assert len(_lists(seeded)) == 5
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= 0.5 * 2 ** (attempt - 1)
    lines = _attempt_lines(caplog)
    assert [_attempt_of(line) for line in lines] == [
        "attempt 1/5",
        "attempt 2/5",
        "attempt 3/5",
        "attempt 4/5",
    ]
    assert lines[0].startswith(f"{LISTING} on {seeded.url} (page 1) failed, attempt 1/5: ")
    assert "answered 503 Service Unavailable" in lines[0]
    assert "answered 429 Too Many Requests" in lines[2]
    assert "connection broke off" in lines[3]
    assert all(
        line.endswith(f"; retrying in {delay:.2f} seconds")
        for line, delay in zip(lines, sleeps, strict=True)
    )


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_sets_the_wait_on_429_and_503(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float], status: int
) -> None:
    seeded.fail_next(Fault(status=status, retry_after="7"))

    with connect(kubeconfig, sleep=sleeps.append) as client:
        reports = client.list_usage_reports()

    assert len(reports) == len(REPORT_NAMES)
    assert sleeps == [7.0]


def test_retry_after_is_cut_to_a_minute_and_ignored_when_it_is_a_date_or_on_other_statuses(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float]
) -> None:
    seeded.fail_next(
        Fault(status=503, retry_after="86400"),
        Fault(status=503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT"),
        Fault(status=500, retry_after="30"),
    )

    with connect(kubeconfig, backoff=0.5, sleep=sleeps.append) as client:
        client.list_usage_reports()

    assert sleeps[0] == 60.0
    assert 0 <= sleeps[1] <= 1.0 and 0 <= sleeps[2] <= 2.0


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault(status=503), "the API server answered 503 Service Unavailable: the emulator"),
        (Fault(status=502), "the API server answered 502 Bad Gateway: the emulator"),
        (Fault(drop=True), "the connection broke off before the answer was complete"),
        (Fault(silence=5), "no answer within 0.2 seconds"),
    ],
    ids=["503", "502", "dropped", "timeout"],
)
def test_a_failure_that_does_not_pass_ends_after_the_configured_attempts_with_a_clear_error(
    seeded: EmulatorServer,
    kubeconfig: str,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    problem: str,
) -> None:
    caplog.set_level(logging.INFO, logger=source.__name__)
    seeded.fail_always(fault)

    client = connect(kubeconfig, request_timeout=0.2, retries=2, sleep=sleeps.append)
    with client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    message = str(error.value)
    assert seeded.url in message and LISTING in message
    assert problem in message and "(the last of 3 attempts)" in message
    assert error.value.__cause__ is not None
    assert len(_lists(seeded)) == 3
    assert len(sleeps) == 2
    lines = _attempt_lines(caplog)
    assert [_attempt_of(line) for line in lines] == ["attempt 1/3", "attempt 2/3", "attempt 3/3"]
    assert lines[-1].endswith("; giving up")


def test_by_default_a_request_is_tried_five_times_with_waits_below_half_one_two_four_seconds(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float]
) -> None:
    seeded.fail_always(UNAVAILABLE)

    with connect(kubeconfig, sleep=sleeps.append) as client, pytest.raises(ClusterError):
        client.list_cost_profiles()

    assert len(_lists(seeded, COST_PROFILES)) == 5
    assert len(sleeps) == 4
    assert all(0 <= delay <= limit for delay, limit in zip(sleeps, [0.5, 1, 2, 4], strict=True))


@pytest.mark.parametrize(
    "fault", [Fault(status=503, retry_after="0"), Fault(silence=5)], ids=["503", "timeout"]
)
def test_urllib3_repeats_nothing_on_its_own(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float], fault: Fault
) -> None:
    seeded.fail_always(fault)

    client = connect(kubeconfig, request_timeout=0.2, retries=0, sleep=sleeps.append)
    with client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    assert len(_lists(seeded)) == 1
    assert sleeps == []
    assert "attempts" not in str(error.value)


def test_connections_the_server_closed_while_idle_are_replaced(
    seeded: EmulatorServer,
    kubeconfig: str,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=source.__name__)

    with connect(kubeconfig, sleep=sleeps.append) as client:
        first = client.list_usage_reports()
        assert seeded.drop_connections() >= 1
        second = client.list_usage_reports()

    assert _names(first) == _names(second) == sorted(REPORT_NAMES)
    # A reset noticed only on use is retried, but then counted and logged as an attempt.
    retried = len(_lists(seeded)) - 2
    assert retried == len(_attempt_lines(caplog)) == len(sleeps) <= 1


# --- Answers of an unexpected shape --------------------------------------------------------------


def test_items_of_an_unexpected_shape_are_returned_as_they_are_and_rejected_one_by_one(
    seeded: EmulatorServer, kubeconfig: str
) -> None:
    report = k8s_emulator.usage_report(TEAM, "chat-daily", 0)
    page = {"metadata": {}, "items": [42, {"spec": {"schedule": "daily"}}, report]}
    seeded.call(lambda emulator: emulator[USAGE_REPORT_LIST] << page)

    with connect(kubeconfig) as client:
        listed = client.list_usage_reports()

    assert listed[0] == 42
    assert listed[1]["kind"] == "UsageReport" and "metadata" not in listed[1]
    parsed = parse_objects(listed)
    assert [r.name for r in parsed.usage_reports] == ["chat-daily"]
    assert len(parsed.rejects) == 2
    assert "<not an object>" in str(parsed.rejects[0]) and "int 42" in str(parsed.rejects[0])
    assert "metadata" in str(parsed.rejects[1])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"metadata": {}, "items": {"chat-daily": {}}}, "not a Kubernetes list"),
        ({"kind": "Status", "metadata": {}}, "not a Kubernetes list"),
        (b"<html>Sign in</html>", "not JSON"),
    ],
    ids=["items-not-a-list", "no-items", "not-json"],
)
def test_a_page_that_is_not_a_list_is_a_cluster_error_without_retrying(
    seeded: EmulatorServer, kubeconfig: str, sleeps: list[float], body: Any, problem: str
) -> None:
    seeded.call(lambda emulator: emulator[USAGE_REPORT_LIST] << body)

    with connect(kubeconfig, sleep=sleeps.append) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    assert str(error.value).startswith(f"Cannot {LISTING} on {seeded.url}: the answer is ")
    assert problem in str(error.value)
    assert len(_lists(seeded)) == 1
    assert sleeps == []


# --- Settings ------------------------------------------------------------------------------------


def test_the_request_timeout_setting_reaches_the_dagster_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(settings.REQUEST_TIMEOUT, "7.5")
    try:
        source_resource = importlib.reload(definitions).defs.resources["source"]
        assert source_resource.request_timeout == 7.5
        monkeypatch.setenv(settings.REQUEST_TIMEOUT, "soon")
        with pytest.raises(InferCostError, match="INFERCOST_REQUEST_TIMEOUT must be a positive"):
            importlib.reload(definitions)
    finally:
        monkeypatch.undo()
        importlib.reload(definitions)


# --- The Dagster capture and credentials ---------------------------------------------------------


def _materialize_capture(tmp_path: Path, kubeconfig: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        dagster_support.assets("usage_report_capture"),
        resources=dagster_support.resources(tmp_path, kind="kubernetes", kubeconfig=kubeconfig),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_capture_that_fails_after_the_retries_stores_nothing_and_fails_with_the_error(
    seeded: EmulatorServer, kubeconfig: str, tmp_path: Path
) -> None:
    # NB: Retry-After 0 lets the resource's real sleep take no time; the attempts still count.
    seeded.fail_always(Fault(status=503, retry_after="0"))

    result = _materialize_capture(tmp_path, kubeconfig)

    assert not result.success
    [failure] = result.get_step_failure_events()
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure is not None
    with connect(kubeconfig, sleep=lambda _: None) as client, pytest.raises(ClusterError) as error:
        client.fetch()
    assert user_failure.description == str(error.value)
    assert "503 Service Unavailable" in str(error.value) and seeded.url in str(error.value)
    assert len(_lists(seeded)) == 5 + 5
    captures = tmp_path / "captures"
    assert not captures.exists() or [p for p in captures.rglob("*") if p.is_file()] == []


def test_credentials_appear_in_no_log_error_or_event_metadata(
    seeded: EmulatorServer,
    tls: TLSFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate, key = k8s_emulator.make_client_certificate()
    kubeconfig = str(
        k8s_emulator.write_kubeconfig(
            tmp_path / "secret-kubeconfig",
            server=seeded.url,
            ca_cert=tls.ca_cert,
            token=seeded.token,
            client_certificate=(certificate, key),
        )
    )
    key_data = base64.b64encode(key).decode()
    key_lines = [line for line in key.decode().splitlines() if not line.startswith("-----")]
    secrets = [seeded.token, key_data, *key_lines]
    assert seeded.token in Path(kubeconfig).read_text()
    assert key_data in Path(kubeconfig).read_text()
    caplog.set_level(logging.DEBUG)
    # NB: every kubernetes Configuration turns urllib3's and its own logger down to WARNING unless
    # its debug is on; they stay at DEBUG here, so that all they can log is searched too.
    for name in ("urllib3", "client", "kubernetes"):
        caplog.set_level(logging.DEBUG, logger=name)
        monkeypatch.setattr(logging.getLogger(name), "setLevel", lambda level: None)
    texts: list[str] = []

    # A listing that succeeds after a reset and a 503.
    seeded.fail_next(Fault(drop=True), Fault(status=503))
    with connect(kubeconfig, sleep=lambda _: None) as client:
        assert len(client.fetch().usage_reports) == len(REPORT_NAMES)

    # Listings that fail: refused at once, then on every attempt.
    refusal = kmock.KubernetesError(403, "Forbidden", "usagereports is forbidden")
    seeded.call(lambda emulator: emulator[USAGE_REPORT_LIST] << refusal)
    with connect(kubeconfig, sleep=lambda _: None) as client, pytest.raises(ClusterError) as error:
        client.fetch()
    texts.append("".join(traceback.format_exception(error.value)))
    seeded.fail_always(Fault(status=503, retry_after="0"))
    with connect(kubeconfig, sleep=lambda _: None) as client, pytest.raises(ClusterError) as error:
        client.fetch()
    texts.append("".join(traceback.format_exception(error.value)))

    # The Dagster capture, failing the same way.
    result = _materialize_capture(tmp_path, kubeconfig)
    assert not result.success
    assert any(event.is_step_failure for event in result.all_events)
    texts += [dg.serialize_value(event) for event in result.all_events]

    texts.append(caplog.text)
    assert "urllib3.connectionpool" in caplog.text  # the client's debug lines were captured
    leaks = [secret for secret in secrets for text in texts if secret in text]
    assert leaks == []
