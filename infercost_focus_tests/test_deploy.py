"""The deployment on Kubernetes: manifests, RBAC, Helm values and run pods, without a cluster.

Manifests are validated against the Kubernetes OpenAPI schemas that `kubernetes-validate` ships
(offline). The dagster/dagster chart itself cannot be obtained here, so the Helm values are
checked for the structure the chart reads, and run pods are built by dagster-k8s's own code from
what the values and the jobs' tags give it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes
import kubernetes_validate
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)

from infercost_focus.definitions import defs
from infercost_focus.pipeline import settings
from infercost_focus.sources import kubernetes as source
from infercost_focus_tests.deploy_support import (
    KUBERNETES,
    ROOT,
    VALUES,
    documents,
    env_of,
    image_user,
    load_values,
    validate,
)
from infercost_focus_tests.k8s_emulator import free_port

MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))
RELEASE = "dagster"  # the release name and namespace the README installs into
MODULE = "infercost_focus.definitions"
PORT = 4000

# Keys the chart's values schema (values.schema.json of dagster/dagster 1.13) allows: a
# deployment of `dagster-user-deployments`, the K8sRunLauncher's config (which forbids any other
# key) and its runK8sConfig (likewise).
USER_DEPLOYMENT_KEYS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
    "deploymentNamespace", "port", "env", "envConfigMaps", "envSecrets", "annotations",
    "nodeSelector", "affinity", "tolerations", "podSecurityContext", "securityContext",
    "resources", "livenessProbe", "readinessProbe", "startupProbe", "labels", "volumeMounts",
    "volumes", "schedulerName", "initContainers", "sidecarContainers",
}  # fmt: skip
K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
    "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
    "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
RUN_K8S_CONFIG_KEYS = {
    "containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata",
}  # fmt: skip
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_values()


@pytest.fixture(scope="module")
def deployment(values: dict[str, Any]) -> dict[str, Any]:
    [only] = values["dagster-user-deployments"]["deployments"]
    assert isinstance(only, dict)
    return only


# --- Manifests and RBAC --------------------------------------------------------------------------


def test_deploy_holds_the_manifests_the_readme_applies() -> None:
    assert [path.name for path in MANIFESTS] == [
        "rbac-cluster.yaml",
        "rbac-namespace.yaml",
        "remote-reader-token.yaml",
        "storage-pvc.yaml",
    ]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    objects = documents(path)
    assert objects, f"{path.name} holds no object"
    for document in objects:
        validate(document)
        if document["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            assert document["metadata"].get("namespace"), document["metadata"]["name"]


def test_a_manifest_with_an_unknown_field_is_refused_by_the_validation() -> None:
    [claim] = documents(KUBERNETES / "storage-pvc.yaml")
    claim["spec"]["accesModes"] = claim["spec"].pop("accessModes")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(claim)


@pytest.mark.parametrize("name", ["rbac-cluster.yaml", "rbac-namespace.yaml"])
def test_the_rbac_grants_get_and_list_on_usagereports_and_costprofiles_and_nothing_else(
    name: str,
) -> None:
    roles = [d for d in documents(KUBERNETES / name) if d["kind"].endswith("Role")]
    assert len(roles) == 1
    granted = set()
    for rule in roles[0]["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        granted |= {
            (group, resource, verb)
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
    assert granted == {
        (source.GROUP, plural, verb)
        for plural in (source.USAGE_REPORTS, source.COST_PROFILES)
        for verb in ("get", "list")
    }


@pytest.mark.parametrize(
    ("name", "role_kind", "binding_kind"),
    [
        ("rbac-cluster.yaml", "ClusterRole", "ClusterRoleBinding"),
        ("rbac-namespace.yaml", "Role", "RoleBinding"),
    ],
)
def test_the_role_is_bound_to_the_service_account_the_values_give_the_code_location(
    values: dict[str, Any], name: str, role_kind: str, binding_kind: str
) -> None:
    by_kind = {doc["kind"]: doc for doc in documents(KUBERNETES / name)}
    assert set(by_kind) == {"ServiceAccount", role_kind, binding_kind}
    account, role, binding = (by_kind[k] for k in ("ServiceAccount", role_kind, binding_kind))

    service_account = values["dagster-user-deployments"]["serviceAccount"]
    assert service_account["create"] is False
    assert account["metadata"]["name"] == service_account["name"]
    assert account["metadata"]["namespace"] == RELEASE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role_kind,
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": service_account["name"], "namespace": RELEASE}
    ]
    assert binding["metadata"].get("namespace") == role["metadata"].get("namespace")


def test_the_reader_token_belongs_to_the_service_account_of_the_rbac() -> None:
    [token] = documents(KUBERNETES / "remote-reader-token.yaml")
    [account] = [
        d for d in documents(KUBERNETES / "rbac-cluster.yaml")
        if d["kind"] == "ServiceAccount"
    ]  # fmt: skip
    assert token["type"] == "kubernetes.io/service-account-token"
    annotations = token["metadata"]["annotations"]
    assert annotations["kubernetes.io/service-account.name"] == account["metadata"]["name"]
    assert token["metadata"]["namespace"] == account["metadata"]["namespace"]


# --- Helm values ---------------------------------------------------------------------------------


def test_the_values_run_the_code_location_as_a_user_deployment_on_port_4000(
    values: dict[str, Any], deployment: dict[str, Any]
) -> None:
    user_deployments = values["dagster-user-deployments"]
    assert user_deployments["enabled"] is True
    assert user_deployments["enableSubchart"] is True
    assert set(deployment) <= USER_DEPLOYMENT_KEYS, set(deployment) - USER_DEPLOYMENT_KEYS
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", deployment["name"])
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert deployment["port"] == PORT
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}

    image = deployment["image"]
    assert set(image) == {"repository", "tag", "pullPolicy"}
    assert isinstance(image["repository"], str) and isinstance(image["tag"], str)
    assert image["pullPolicy"] in PULL_POLICIES


def test_the_image_repository_and_tag_are_the_only_lines_marked_for_editing() -> None:
    marked = [line.strip() for line in VALUES.read_text().splitlines() if "# EDIT" in line]
    assert [line.split(":")[0] for line in marked] == ["repository", "tag"]


def test_runs_are_launched_as_kubernetes_jobs_by_the_k8s_run_launcher(
    values: dict[str, Any],
) -> None:
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]) == {"k8sRunLauncher"}
    config = launcher["config"]["k8sRunLauncher"]
    assert set(config) <= K8S_RUN_LAUNCHER_KEYS, set(config) - K8S_RUN_LAUNCHER_KEYS
    assert set(config.get("runK8sConfig", {})) <= RUN_K8S_CONFIG_KEYS


def test_every_environment_variable_of_the_values_is_a_setting_the_code_reads(
    deployment: dict[str, Any],
) -> None:
    constants = {
        value: name
        for name, value in vars(settings).items()
        if isinstance(value, str) and value.startswith("INFERCOST_")
    }
    package = [
        path.read_text()
        for path in (ROOT / "infercost_focus").rglob("*.py")
        if path.name != "settings.py"
    ]
    env = env_of(deployment)
    assert env["INFERCOST_SOURCE"] == "kubernetes"
    for name, value in env.items():
        assert name in constants, f"{name} is not a setting of infercost_focus.pipeline.settings"
        assert any(f"settings.{constants[name]}" in text for text in package), f"{name} is unread"
        assert isinstance(value, str), f"{name}: a ConfigMap value must be a string"


def test_the_captures_and_files_lie_on_the_volume_of_the_storage_manifest(
    deployment: dict[str, Any],
) -> None:
    [claim] = documents(KUBERNETES / "storage-pvc.yaml")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    [volume] = deployment["volumes"]
    [mount] = deployment["volumeMounts"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert mount["name"] == volume["name"]
    env = env_of(deployment)
    for name in (settings.CAPTURES, settings.OUTPUT):
        assert Path(env[name]).is_relative_to(mount["mountPath"]), name


def _code_server_deployment(deployment: dict[str, Any], account: str) -> dict[str, Any]:
    """The Deployment the chart makes of a user deployment, reduced to what the values set."""
    container = {
        "name": "dagster-user-deployments",
        "image": f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        "imagePullPolicy": deployment["image"]["pullPolicy"],
        "args": [
            *("dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(deployment["port"])),
            *deployment["dagsterApiGrpcArgs"],
        ],
        "env": [{"name": name, "value": value} for name, value in env_of(deployment).items()],
        "envFrom": [{"secretRef": secret} for secret in deployment.get("envSecrets", [])],
        "resources": deployment["resources"],
        "securityContext": deployment["securityContext"],
        "volumeMounts": deployment["volumeMounts"],
    }
    labels = {"deployment": deployment["name"]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment["name"], "namespace": RELEASE},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": account,
                    "securityContext": deployment["podSecurityContext"],
                    "containers": [container],
                    "volumes": deployment["volumes"],
                },
            },
        },
    }


def test_the_pod_settings_of_the_values_validate_as_a_kubernetes_deployment(
    values: dict[str, Any], deployment: dict[str, Any]
) -> None:
    account = values["dagster-user-deployments"]["serviceAccount"]["name"]
    validate(_code_server_deployment(deployment, account))


# --- Run pods, as dagster-k8s builds them --------------------------------------------------------


def _chart_container_context(values: dict[str, Any], deployment: dict[str, Any]) -> dict[str, Any]:
    """The container context the chart hands the code server for a deployment (the
    `dagsterUserDeployments.k8sContainerContext` template of the chart 1.13, release `dagster`)."""
    account = values["dagster-user-deployments"]["serviceAccount"]["name"]
    return {
        "k8s": {
            "image_pull_policy": deployment["image"]["pullPolicy"],
            "env_config_maps": [
                f"{RELEASE}-dagster-user-deployments-{deployment['name']}-user-env"
            ],
            "env_secrets": [secret["name"] for secret in deployment.get("envSecrets", [])],
            "volume_mounts": deployment.get("volumeMounts", []),
            "volumes": deployment.get("volumes", []),
            "resources": deployment.get("resources", {}),
            "namespace": RELEASE,
            "service_account_name": account,
            "run_k8s_config": {"pod_spec_config": {"automount_service_account_token": True}},
        }
    }


def _run_job(values: dict[str, Any], deployment: dict[str, Any], tags: dict[str, str]) -> Any:
    """The Job the K8sRunLauncher would create for a run with these tags, as a manifest.

    The three layers merge as `K8sContainerContext.create_for_run` merges them: the run
    launcher's config (from runLauncher), the code location's container context (what the
    chart's user-deployment template derives from the deployment), then the run's tags.
    """
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s_config = {
        re.sub(r"([A-Z])", r"_\1", key).lower(): config
        for key, config in launcher.get("runK8sConfig", {}).items()
    }
    launcher_context = K8sContainerContext(
        image_pull_policy="Always",
        service_account_name=RELEASE,
        namespace=RELEASE,
        security_context=launcher.get("securityContext"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(run_k8s_config),
    )
    code_location_context = K8sContainerContext.create_from_config(
        _chart_container_context(values, deployment)
    )
    tags_context = K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags))
    context = launcher_context.merge(code_location_context.merge(tags_context))

    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image=image, dagster_home="/opt/dagster/dagster_home"),
        args=["dagster", "api", "execute_run", "{}"],
        job_name=f"dagster-run-{uuid.uuid4()}",
        user_defined_k8s_config=context.run_k8s_config,
        component="run_worker",
    )
    api = kubernetes.client.ApiClient()
    try:
        return api.sanitize_for_serialization(job)
    finally:
        api.close()


def test_runs_of_monthly_focus_get_the_memory_of_its_dagster_k8s_tag(
    values: dict[str, Any], deployment: dict[str, Any]
) -> None:
    run_tags = defs.resolve_job_def("monthly_focus").run_tags
    assert "dagster-k8s/config" in run_tags
    job = _run_job(values, deployment, dict(run_tags))
    validate(job)

    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    tagged = json.loads(run_tags["dagster-k8s/config"])["container_config"]["resources"]
    assert container["resources"] == tagged
    assert _gibibytes(tagged["requests"]["memory"]) > _gibibytes(
        deployment["resources"]["requests"]["memory"]
    )
    assert pod["serviceAccountName"] == values["dagster-user-deployments"]["serviceAccount"]["name"]
    assert pod["securityContext"]["runAsUser"] == image_user()[0]
    assert pod["securityContext"]["fsGroup"] == image_user()[1]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["volumeMounts"] == deployment["volumeMounts"]
    assert [v["name"] for v in pod["volumes"]] == [v["name"] for v in deployment["volumes"]]


def test_runs_without_a_tag_such_as_captures_get_the_resources_of_the_deployment(
    values: dict[str, Any], deployment: dict[str, Any]
) -> None:
    run_tags = defs.resolve_job_def("capture_usage_reports").run_tags
    assert "dagster-k8s/config" not in run_tags
    job = _run_job(values, deployment, dict(run_tags))
    validate(job)
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == deployment["resources"]


@pytest.mark.slow
def test_a_job_backfill_gives_each_month_run_the_dagster_k8s_tag(tmp_path: Path) -> None:
    # Runs stay queued (no daemon), which is enough to read the tags the backfill gave them.
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n"
        "  class: QueuedRunCoordinator\ntelemetry:\n  enabled: false\n"
    )
    dagster = str(Path(sys.executable).parent / "dagster")
    backfill = [dagster, "job", "backfill", "-m", MODULE, "-j", "monthly_focus"]
    done = subprocess.run(
        [*backfill, "--from", "2026-01", "--to", "2026-02", "--noprompt"],
        env=_location_environment(tmp_path, {"DAGSTER_HOME": str(home)}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    tag = defs.resolve_job_def("monthly_focus").tags["dagster-k8s/config"]
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == ["2026-01", "2026-02"]
        assert all(run.tags.get("dagster-k8s/config") == tag for run in runs)


def _gibibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity)
    assert match is not None, f"{quantity!r} is not in Mi or Gi"
    return float(match.group(1)) / (1024 if match.group(2) == "Mi" else 1)


# --- The definitions with the deployment's environment -------------------------------------------

LOAD_SCRIPT = """
import json, socket

def refuse(*args, **kwargs):
    raise OSError("loading the definitions opened a network connection")

socket.socket.connect = refuse
socket.create_connection = refuse

import dagster as dg
from infercost_focus.definitions import defs

dg.Definitions.validate_loadable(defs)
resources = defs.resources
config = defs.get_assets_def("focus_monthly").op.config_schema.as_field().config_type
print(json.dumps({
    "source": resources["source"].kind.get_value(),
    "captures": resources["capture_store"].path.get_value(),
    "output": resources["focus_io_manager"].base_path.get_value(),
    "region": config.fields["region"].default_value,
}))
"""


def _location_environment(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """A clean environment (no cluster, no credentials) plus the deployment's variables."""
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), **env}


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["volume", "object store"])
def test_the_definitions_load_with_the_deployments_environment_without_network(
    deployment: dict[str, Any], tmp_path: Path, storage: str
) -> None:
    env = env_of(deployment) | {settings.REGION: "eu-west-1"}
    if storage == "object store":
        env[settings.CAPTURES] = "s3://infercost-bucket/prod-eu/captures"
        env[settings.OUTPUT] = "s3://infercost-bucket/prod-eu/focus"
    done = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT],
        env=_location_environment(tmp_path, env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "source": "kubernetes",
        "captures": env[settings.CAPTURES],
        "output": env[settings.OUTPUT],
        "region": "eu-west-1",
    }


@pytest.fixture
def grpc_server(
    values: dict[str, Any], deployment: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[int, Path]]:
    """`dagster api grpc` as the chart starts it: its arguments, the deployment's environment, and
    the container context in the variable the chart sets (only the host is loopback here)."""
    port = free_port()
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "api", "grpc", "-h", "127.0.0.1", "-p", str(port)]
    env = env_of(deployment) | {
        "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT": json.dumps(
            _chart_container_context(values, deployment)
        )
    }
    log = tmp_path / "code-server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, *deployment["dagsterApiGrpcArgs"]],
            env=_location_environment(tmp_path, env),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield port, log
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.mark.slow
def test_the_grpc_server_the_chart_starts_serves_the_code_location(
    values: dict[str, Any], deployment: dict[str, Any], grpc_server: tuple[int, Path]
) -> None:
    from dagster._grpc.client import DagsterGrpcClient
    from dagster_shared.serdes import deserialize_value

    port, log = grpc_server
    dagster = str(Path(sys.executable).parent / "dagster")
    check = [dagster, "api", "grpc-health-check", "-p", str(port)]
    deadline = time.monotonic() + 120
    while subprocess.run(check, capture_output=True, timeout=60).returncode != 0:
        assert time.monotonic() < deadline, f"no healthy code server in 120 s:\n{log.read_text()}"
        time.sleep(1)

    answer = DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
    response = deserialize_value(answer)
    assert type(response).__name__ == "ListRepositoriesResponse", answer[:500]
    assert [symbol.attribute for symbol in response.repository_symbols] == ["defs"]
    assert response.container_context == _chart_container_context(values, deployment)
