"""The Kubernetes source, through the real kubernetes client over HTTPS.

The cluster is an emulator on 127.0.0.1, or the real cluster of INFERCOST_TEST_KUBECONFIG (see
`k8s_emulator.seeded_cluster`); tests that make the API fail on purpose need the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import kmock
import pytest

from infercost_focus.core.jsonio import loads_exact
from infercost_focus.errors import ClusterError
from infercost_focus.sources import kubernetes as source
from infercost_focus.sources.kubernetes import ClusterClient, connect
from infercost_focus_tests import k8s_emulator
from infercost_focus_tests.k8s_emulator import (
    GROUP,
    USAGE_REPORTS,
    VERSION,
    EmulatorServer,
    SeededCluster,
    TLSFiles,
)

emulator_only = pytest.mark.skipif(
    k8s_emulator.REAL_CLUSTER_KUBECONFIG is not None,
    reason="makes the API server fail on purpose, which only the emulator can do",
)
USAGE_REPORT_LIST = kmock.action.LIST, kmock.resource(GROUP, VERSION, USAGE_REPORTS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededCluster]:
    with k8s_emulator.seeded_cluster(tmp_path_factory.mktemp("cluster")) as seeded:
        yield seeded


@pytest.fixture
def client(cluster: SeededCluster) -> Iterator[ClusterClient]:
    with connect(str(cluster.kubeconfig), page_size=10) as cluster_client:
        yield cluster_client


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return k8s_emulator.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def bare_emulator(tls: TLSFiles, tmp_path: Path) -> Iterator[tuple[EmulatorServer, str]]:
    """An emulator of the test's own, with no CRDs installed, and a kubeconfig for it."""
    with EmulatorServer(tls, token="bare-emulator-token") as server:
        kubeconfig = k8s_emulator.write_kubeconfig(
            tmp_path / "kubeconfig", server=server.url, ca_cert=tls.ca_cert, token=server.token
        )
        yield server, str(kubeconfig)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def _as_listed(obj: Any) -> Any:
    """A seeded object's field as the API writes it and the source reads it back."""
    return loads_exact(json.dumps(obj))


def _ours(cluster: SeededCluster, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects in the test namespaces; a real cluster may hold others too."""
    return [obj for obj in objects if obj["metadata"]["namespace"] in cluster.namespaces.values()]


# --- Listing -------------------------------------------------------------------------------------


def test_listing_all_namespaces_follows_continue_tokens_and_returns_every_report_once(
    cluster: SeededCluster, client: ClusterClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=source.__name__)
    seen_before = len(cluster.emulator.requests(USAGE_REPORTS)) if cluster.emulator else 0

    reports = client.list_usage_reports()

    duplicates = [key for key, count in Counter(map(_key, reports)).items() if count > 1]
    assert duplicates == []
    assert sorted(map(_key, _ours(cluster, reports))) == sorted(map(_key, cluster.usage_reports))
    pages = [m for m in caplog.messages if "usagereports in all namespaces" in m]
    assert len(pages) >= 3
    if cluster.emulator is not None:
        requests = cluster.emulator.requests(USAGE_REPORTS)[seen_before:]
        assert [r.url.path for r in requests] == [f"/apis/{GROUP}/{VERSION}/usagereports"] * 3
        assert [r.params.get("limit") for r in requests] == ["10", "10", "10"]
        assert "continue" not in requests[0].params
        assert all(r.params.get("continue") for r in requests[1:])
        assert pages == [
            "listed 10 usagereports in all namespaces (page 1)",
            "listed 10 usagereports in all namespaces (page 2)",
            "listed 3 usagereports in all namespaces (page 3)",
        ]


def test_each_page_is_logged_once_to_the_logger_given(
    cluster: SeededCluster, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("infercost_focus_tests.pages")
    caplog.set_level(logging.INFO, logger=logger.name)
    team_a = cluster.namespaces["team-a"]

    with connect(str(cluster.kubeconfig), page_size=5, logger=logger) as client:
        reports = client.list_usage_reports(namespace=team_a)

    assert len(reports) == 12
    records = [r for r in caplog.records if r.name.startswith("infercost_focus")]
    assert [(r.name, r.levelno, r.getMessage()) for r in records] == [
        (logger.name, logging.INFO, f"listed 5 usagereports in namespace {team_a!r} (page 1)"),
        (logger.name, logging.INFO, f"listed 5 usagereports in namespace {team_a!r} (page 2)"),
        (logger.name, logging.INFO, f"listed 2 usagereports in namespace {team_a!r} (page 3)"),
    ]


def test_namespace_lists_only_that_namespace_through_the_namespaced_path(
    cluster: SeededCluster, client: ClusterClient
) -> None:
    team_b = cluster.namespaces["team-b"]
    seen_before = len(cluster.emulator.requests(USAGE_REPORTS)) if cluster.emulator else 0

    reports = client.list_usage_reports(namespace=team_b)

    expected = [_key(r) for r in cluster.usage_reports if r["metadata"]["namespace"] == team_b]
    assert sorted(map(_key, reports)) == sorted(expected)
    assert len(expected) == 8
    if cluster.emulator is not None:
        requests = cluster.emulator.requests(USAGE_REPORTS)[seen_before:]
        namespaced_path = f"/apis/{GROUP}/{VERSION}/namespaces/{team_b}/usagereports"
        assert [r.url.path for r in requests] == [namespaced_path]


def test_cost_profiles_with_the_same_name_in_two_namespaces_both_come_back(
    cluster: SeededCluster, client: ClusterClient
) -> None:
    profiles = _ours(cluster, client.list_cost_profiles())

    prices = {
        _key(p): p["spec"]["hardware"]["purchasePriceUSD"]
        for p in profiles
        if p["metadata"]["name"] == "a100-pool"
    }
    assert prices == {
        (cluster.namespaces["team-a"], "a100-pool"): 120000,
        (cluster.namespaces["team-b"], "a100-pool"): 98000,
    }
    assert len(profiles) == 3


def test_costs_and_token_counts_keep_their_exact_values(
    cluster: SeededCluster, client: ClusterClient
) -> None:
    namespace, name = cluster.exact_report_key

    [report] = [r for r in client.list_usage_reports(namespace) if r["metadata"]["name"] == name]

    status = report["status"]
    assert isinstance(status["estimatedCostUSD"], Decimal)
    assert status["estimatedCostUSD"] == Decimal("0.30000000000000004")
    assert status["byModel"][0]["estimatedCostUSD"] == Decimal("0.30000000000000004")
    assert type(status["inputTokens"]) is int and status["inputTokens"] == 2**63 - 1
    assert type(status["outputTokens"]) is int and status["outputTokens"] == 2**53 + 1


def test_listed_objects_carry_api_version_kind_spec_and_status_as_written(
    cluster: SeededCluster, client: ClusterClient
) -> None:
    listed = {_key(obj): obj for obj in client.list_usage_reports() + client.list_cost_profiles()}

    for seeded in cluster.usage_reports + cluster.cost_profiles:
        obj = listed[_key(seeded)]
        assert (obj["apiVersion"], obj["kind"]) == (f"{GROUP}/{VERSION}", seeded["kind"])
        assert obj["spec"] == _as_listed(seeded["spec"])
        assert obj.get("status") == _as_listed(seeded.get("status"))
        assert obj["metadata"]["uid"]


def test_fetch_returns_usage_reports_and_cost_profiles_of_the_namespace(
    cluster: SeededCluster, client: ClusterClient
) -> None:
    team_c = cluster.namespaces["team-c"]

    objects = client.fetch(namespace=team_c)

    assert {obj["kind"] for obj in objects.usage_reports} == {"UsageReport"}
    assert len(objects.usage_reports) == 3
    assert [_key(p) for p in objects.cost_profiles] == [(team_c, "h100-pool")]


# --- Finding the cluster -------------------------------------------------------------------------


def test_explicit_kubeconfig_wins_over_the_pod_environment(
    cluster: SeededCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(k8s_emulator.free_port()))

    with connect(str(cluster.kubeconfig)) as client:
        profiles = _ours(cluster, client.list_cost_profiles())

    assert len(profiles) == 3
    if cluster.emulator is not None:
        assert client.host == cluster.emulator.url


def test_kubeconfig_environment_variable_is_used_when_no_path_is_given(
    cluster: SeededCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))

    with connect() as client:
        profiles = _ours(cluster, client.list_cost_profiles())

    assert len(profiles) == 3


@emulator_only
def test_in_cluster_service_account_token_and_ca_are_used_inside_a_pod(
    cluster: SeededCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cluster.emulator is not None
    (tmp_path / "token").write_text(cluster.emulator.token)
    (tmp_path / "ca.crt").write_bytes(cluster.emulator.tls.ca_cert.read_bytes())
    monkeypatch.setattr(source, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(cluster.emulator.port))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))

    with connect() as client:
        reports = client.list_usage_reports(cluster.namespaces["team-c"])

    assert client.host == f"https://127.0.0.1:{cluster.emulator.port}"
    assert len(reports) == 3


def test_in_cluster_without_a_token_file_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    with pytest.raises(ClusterError) as error:
        connect()

    assert "service account" in str(error.value)
    assert str(tmp_path / "token") in str(error.value)
    assert "--kubeconfig" in str(error.value)


def test_unknown_context_names_the_context_and_the_ones_available(
    tls: TLSFiles, tmp_path: Path
) -> None:
    kubeconfig = k8s_emulator.write_kubeconfig(
        tmp_path / "kubeconfig", server="https://127.0.0.1:6443", ca_cert=tls.ca_cert, token="t0k3n"
    )

    with pytest.raises(ClusterError) as error:
        connect(str(kubeconfig), context="production")

    message = str(error.value)
    assert "'production'" in message and str(kubeconfig) in message
    assert "emulator" in message and "--context" in message
    assert "t0k3n" not in message
    assert error.value.__cause__ is not None


def test_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "kubeconfig"

    with pytest.raises(ClusterError, match="does not exist") as error:
        connect(str(missing))

    assert repr(str(missing)) in str(error.value)


def test_no_kubeconfig_and_no_pod_asks_for_a_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(ClusterError, match=r"not running in a pod.*--kubeconfig"):
        connect()


# --- Failures ------------------------------------------------------------------------------------


def test_unreachable_api_server_names_the_host_and_suggests_kubeconfig_or_context(
    tls: TLSFiles, tmp_path: Path
) -> None:
    url = f"https://127.0.0.1:{k8s_emulator.free_port()}"
    kubeconfig = k8s_emulator.write_kubeconfig(
        tmp_path / "kubeconfig", server=url, ca_cert=tls.ca_cert, token="t0k3n"
    )

    with connect(str(kubeconfig)) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    message = str(error.value)
    assert message.startswith(f"Cannot reach the Kubernetes API server at {url} ")
    assert "Connection refused" in message and "--kubeconfig/--context" in message
    assert "t0k3n" not in message
    assert error.value.__cause__ is not None


@emulator_only
def test_untrusted_server_certificate_says_the_tls_handshake_failed(
    cluster: SeededCluster, tls: TLSFiles, tmp_path: Path
) -> None:
    assert cluster.emulator is not None
    kubeconfig = k8s_emulator.write_kubeconfig(
        tmp_path / "kubeconfig",
        server=cluster.emulator.url,
        ca_cert=tls.ca_cert,  # a CA that did not sign the emulator's certificate
        token=cluster.emulator.token,
    )

    with connect(str(kubeconfig)) as client, pytest.raises(ClusterError) as error:
        client.list_cost_profiles()

    assert "TLS handshake failed" in str(error.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.value)


@emulator_only
@pytest.mark.parametrize(
    ("namespace", "where"), [(None, "in all namespaces"), ("team-a", "in namespace 'team-a'")]
)
def test_forbidden_list_names_the_verb_resource_namespace_and_rbac_rule(
    bare_emulator: tuple[EmulatorServer, str], namespace: str | None, where: str
) -> None:
    server, kubeconfig = bare_emulator
    refusal = kmock.KubernetesError(
        403,
        "Forbidden",
        'usagereports.finops.infercost.ai is forbidden: User "system:serviceaccount:finops:'
        'exporter" cannot list resource "usagereports" in API group "finops.infercost.ai"',
        {"group": GROUP, "kind": USAGE_REPORTS},
    )
    server.call(lambda emulator: emulator[USAGE_REPORT_LIST] << refusal)

    with connect(kubeconfig) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports(namespace)

    message = str(error.value)
    assert message.startswith(f"Cannot list usagereports.finops.infercost.ai {where} on ")
    assert "forbidden" in message and 'User "system:serviceaccount:finops:exporter"' in message
    assert "get and list on usagereports and costprofiles" in message
    assert "finops.infercost.ai" in message.split("RBAC")[1]
    assert error.value.__cause__ is not None


@emulator_only
def test_missing_crds_say_that_infercost_is_not_installed(
    bare_emulator: tuple[EmulatorServer, str],
) -> None:
    _, kubeconfig = bare_emulator

    with connect(kubeconfig) as client, pytest.raises(ClusterError) as error:
        client.list_cost_profiles()

    message = str(error.value)
    assert message.startswith("Cannot list costprofiles.finops.infercost.ai in all namespaces")
    assert "the InferCost CRDs are not installed in this cluster" in message
    assert "--kubeconfig/--context" in message


@emulator_only
def test_rejected_credentials_say_so_without_revealing_them(
    bare_emulator: tuple[EmulatorServer, str],
    tls: TLSFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, _ = bare_emulator
    kubeconfig = k8s_emulator.write_kubeconfig(
        tmp_path / "stale", server=server.url, ca_cert=tls.ca_cert, token="stale-s3cret-token"
    )
    caplog.set_level(logging.DEBUG)

    with connect(str(kubeconfig)) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    message = str(error.value)
    assert "rejected the credentials" in message and "401" in message
    assert "stale-s3cret-token" not in message
    assert "stale-s3cret-token" not in caplog.text


@emulator_only
def test_other_api_errors_give_the_status_and_a_truncated_server_message(
    bare_emulator: tuple[EmulatorServer, str],
) -> None:
    server, kubeconfig = bare_emulator
    failure = kmock.KubernetesError(
        500, "InternalError", "etcdserver: " + "request timed out " * 100
    )
    server.call(lambda emulator: emulator[USAGE_REPORT_LIST] << failure)

    with connect(kubeconfig, retries=0) as client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    message = str(error.value)
    assert "answered 500" in message and "etcdserver: request timed out" in message
    assert "…" in message and len(message) < 700


@emulator_only
def test_an_answer_that_is_not_json_is_a_cluster_error(
    bare_emulator: tuple[EmulatorServer, str],
) -> None:
    server, kubeconfig = bare_emulator
    server.call(lambda emulator: emulator[USAGE_REPORT_LIST] << b"<html>Sign in</html>")

    with connect(kubeconfig) as client, pytest.raises(ClusterError, match=r"not JSON.*Sign in"):
        client.list_usage_reports()


@emulator_only
def test_a_silent_api_server_fails_after_the_request_timeout(
    bare_emulator: tuple[EmulatorServer, str],
) -> None:
    server, kubeconfig = bare_emulator
    server.call(lambda emulator: emulator[USAGE_REPORT_LIST] << (lambda: asyncio.sleep(5)))

    client = connect(kubeconfig, request_timeout=0.1, retries=0)
    with client, pytest.raises(ClusterError) as error:
        client.list_usage_reports()

    assert "no answer within 0.1 seconds" in str(error.value)
    assert len(server.requests(USAGE_REPORTS)) == 1


@emulator_only
def test_a_continue_token_that_never_changes_ends_the_listing_with_an_error(
    bare_emulator: tuple[EmulatorServer, str],
) -> None:
    server, kubeconfig = bare_emulator
    stuck_page = {"metadata": {"continue": "c3R1Y2s="}, "items": []}
    server.call(lambda emulator: emulator[USAGE_REPORT_LIST] << stuck_page)

    with connect(kubeconfig) as client, pytest.raises(ClusterError, match="never end"):
        client.list_usage_reports()

    assert len(server.requests(USAGE_REPORTS)) == 2
