"""A Kubernetes API emulator on 127.0.0.1 for the Kubernetes source tests, and the cluster they use.

The emulator is kmock's `KubernetesEmulator` with what a real API server adds on top of a store of
objects and these tests rely on: bearer-token authentication (401 otherwise), CRDs that start
serving their resource when created (404 until then), server-assigned uids, and paginated lists
that honour `limit` and `continue`. It serves HTTPS with a throw-away CA from a background thread
with its own event loop, so the synchronous kubernetes client talks to it as to a real cluster.

Lists of InferCost resources can be made to fail on purpose (`Fault`): with a status such as 503
and a Retry-After header, by dropping the connection, or by keeping silent; and continue tokens
can be made to expire (410 Gone), as they do on a real API server after a few minutes.

`seeded_cluster()` gives the tests a cluster with the InferCost CRDs and objects in it: this
emulator, or the real cluster of INFERCOST_TEST_KUBECONFIG. Both are seeded through the same API
calls, and the real one is cleaned up afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
import kubernetes
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

GROUP = "finops.infercost.ai"
VERSION = "v1alpha1"
USAGE_REPORTS = "usagereports"
COST_PROFILES = "costprofiles"
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
CRDS_MANIFEST = Path(__file__).parent / "data" / "k8s" / "crds.yaml"
REAL_CLUSTER_KUBECONFIG = os.environ.get("INFERCOST_TEST_KUBECONFIG") or None

T = TypeVar("T")


# --- TLS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """A throw-away CA and a server certificate it signed for 127.0.0.1 and localhost."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_tls_files(directory: Path) -> TLSFiles:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "infercost-test-ca")])
    ca_cert = (
        _certificate_builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    alt_names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    server_cert = (
        _certificate_builder(server_name, ca_name, server_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TLSFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def make_client_certificate() -> tuple[bytes, bytes]:
    """A self-signed client certificate and its private key, both PEM, for a kubeconfig user."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "infercost-reader")])
    certificate = _certificate_builder(name, name, key.public_key(), now).sign(key, hashes.SHA256())
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- The emulator --------------------------------------------------------------------------------

_STATUS_REASONS = {
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class Fault:
    """How the emulator fails one list request: a status, a dropped connection, or silence."""

    status: int | None = None
    retry_after: str | None = None  # the Retry-After header sent with the status
    drop: bool = False  # close the connection without answering, as a restarting server does
    silence: float = 0.0  # seconds to wait before failing (or answering, with nothing else set)


@attrs.define(kw_only=True)
class InferCostEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with authentication, CRDs, uids, paginated lists and faults."""

    token: str
    faults: list[Fault] = attrs.field(factory=list)  # for the next InferCost lists, in order
    always: Fault | None = None  # for every InferCost list once `faults` is used up
    expiring_continue_tokens: int = 0  # how many next continue tokens to answer with 410 Gone

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credentials != self.token:
            raise kmock.KubernetesError(401, "Unauthorized", "Unauthorized")
        fault = self._next_fault(request)
        if fault is not None:
            return await self._fail(request, fault)

        # What the API server adds on creation; kmock stores the request's data as it is.
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            metadata = request.data.setdefault("metadata", {})
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = _now()
            if request.resource == CRD_RESOURCE:
                self._install_crd(request.data)
        if request.action == kmock.action.DELETE and request.resource == CRD_RESOURCE:
            self._uninstall_crd(request.name)
        return await super()._handle(request)

    def _next_fault(self, request: kmock.Request) -> Fault | None:
        resource = request.resource
        if request.action != kmock.action.LIST or resource is None or resource.group != GROUP:
            return None
        if request.params.get("continue") and self.expiring_continue_tokens > 0:
            self.expiring_continue_tokens -= 1
            return Fault(status=410)
        if self.faults:
            return self.faults.pop(0)
        return self.always

    async def _fail(self, request: kmock.Request, fault: Fault) -> aiohttp.web.StreamResponse:
        if fault.silence:
            await asyncio.sleep(fault.silence)
        if fault.drop:
            assert request._raw_request is not None and request._raw_request.transport is not None
            request._raw_request.transport.abort()
            return aiohttp.web.Response()  # never sent: the connection is gone
        if fault.status is None:
            return await super()._handle(request)
        reason = _STATUS_REASONS.get(fault.status, "InternalError")
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"the emulator answers {fault.status} {reason} on purpose",
            "reason": reason,
            "code": fault.status,
        }
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return aiohttp.web.json_response(status, status=fault.status, headers=headers)

    def _install_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        for version in spec["versions"]:
            resource = kmock.resource(spec["group"], version["name"], spec["names"]["plural"])
            self.resources[resource] = kmock.ResourceInfo(
                kind=spec["names"]["kind"],
                singular=spec["names"].get("singular"),
                namespaced=spec["scope"] == "Namespaced",
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
                subresources=set(version.get("subresources", {})),
            )
        crd["status"] = {
            "acceptedNames": spec["names"],
            "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
            "conditions": [
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
            ],
        }

    def _uninstall_crd(self, name: str | None) -> None:
        for key in list(self.resources):
            resource = kmock.resource(key)
            if f"{resource.plural}.{resource.group}" == name:
                del self.resources[resource]

    async def _serve_list(self, request: kmock.Request) -> kmock.Payload:
        listing = await super()._serve_list(request)
        assert isinstance(listing, dict) and request.resource is not None

        # A real API server lists in key order (namespace, then name) and resumes after a key.
        items = sorted(listing["items"], key=_object_key)
        after = _decode_continue(request.params.get("continue"))
        if after is not None:
            items = [item for item in items if _object_key(item) > after]
        limit = int(request.params.get("limit") or 0)
        page, rest = (items[:limit], items[limit:]) if limit > 0 else (items, [])

        # NB: a real API server keeps apiVersion and kind on custom objects in lists, but not on
        # built-in ones; dropping them here makes the client prove it sets them itself.
        metadata: dict[str, Any] = {"resourceVersion": "1"}
        if rest:
            metadata["continue"] = _encode_continue(_object_key(page[-1]))
            metadata["remainingItemCount"] = len(rest)
        resource = request.resource
        return {
            "apiVersion": f"{resource.group}/{resource.version}".lstrip("/"),
            "kind": f"{self.resources[resource].kind or ''}List",
            "metadata": metadata,
            "items": [
                {k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in page
            ],
        }


def _object_key(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata", {})
    return metadata.get("namespace") or "", metadata.get("name") or ""


def _encode_continue(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_continue(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    namespace, name = json.loads(base64.urlsafe_b64decode(token))
    return namespace, name


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EmulatorServer:
    """An `InferCostEmulator` served over HTTPS on 127.0.0.1 from a thread with its own loop.

    Use it as a context manager. Everything that touches the emulator runs in that loop through
    `call()`, since kmock is not thread-safe.
    """

    def __init__(self, tls: TLSFiles, token: str) -> None:
        self.tls = tls
        self.token = token
        self.url = ""
        self._emulator: InferCostEmulator | None = None
        self._server: aiohttp.test_utils.RawTestServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="k8s-emulator", daemon=True)

    def __enter__(self) -> EmulatorServer:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the Kubernetes API emulator did not start within 10 seconds")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes API emulator failed to start") from self._failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            raise RuntimeError("the Kubernetes API emulator did not stop within 10 seconds")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes API emulator failed") from self._failure

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def call(self, fn: Callable[[InferCostEmulator], T]) -> T:
        """Run `fn` with the emulator inside the emulator's event loop, and return its result."""
        assert self._loop is not None and self._emulator is not None
        emulator = self._emulator

        async def in_loop() -> T:
            return fn(emulator)

        return asyncio.run_coroutine_threadsafe(in_loop(), self._loop).result(timeout=10)

    def requests(self, plural: str) -> list[kmock.Request]:
        """The requests for one InferCost resource so far, oldest first."""
        resource = kmock.resource(GROUP, VERSION, plural)
        return self.call(lambda emulator: [r for r in emulator if r.resource == resource])

    def fail_next(self, *faults: Fault) -> None:
        """Fail the next InferCost lists, one fault each, in order."""
        self.call(lambda emulator: emulator.faults.extend(faults))

    def fail_always(self, fault: Fault | None) -> None:
        """Fail every InferCost list (after those of `fail_next`), or none again with None."""
        self.call(lambda emulator: setattr(emulator, "always", fault))

    def expire_continue_tokens(self, count: int) -> None:
        """Answer the next `count` lists that carry a continue token with 410 Gone."""
        self.call(lambda emulator: setattr(emulator, "expiring_continue_tokens", count))

    def drop_connections(self) -> int:
        """Close every open client connection, as an API server does with idle keep-alives."""

        def drop(_: InferCostEmulator) -> int:
            assert self._server is not None and isinstance(
                self._server.runner, aiohttp.web.ServerRunner
            )
            assert self._server.runner.server is not None
            transports = [c.transport for c in self._server.runner.server.connections]
            for transport in transports:
                if transport is not None:
                    transport.close()
            return len(transports)

        return self.call(drop)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:
            self._failure = e
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with InferCostEmulator(token=self.token) as emulator:
            server = aiohttp.test_utils.RawTestServer(emulator, host="127.0.0.1", port=0)
            await server.start_server(ssl=self.tls.server_context())
            try:
                self._emulator = emulator
                self._server = server
                self.url = f"https://127.0.0.1:{server.port}"
                self._ready.set()
                await self._stop.wait()
            finally:
                # NB: closing TLS waits for the client's close_notify, which an idle pooled
                # connection never sends; abort whatever is still open once the server is closed.
                assert isinstance(server.runner, aiohttp.web.ServerRunner)
                assert server.runner.server is not None
                transports = [c.transport for c in server.runner.server.connections]
                await server.close()
                for transport in transports:
                    if transport is not None:
                        transport.abort()


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_cert: Path,
    token: str,
    context: str = "emulator",
    client_certificate: tuple[bytes, bytes] | None = None,
) -> Path:
    """A kubeconfig with a bearer token and, if given, a client certificate and key (PEM) too."""
    user: dict[str, str] = {"token": token}
    if client_certificate is not None:
        certificate, key = client_certificate
        user["client-certificate-data"] = base64.b64encode(certificate).decode()
        user["client-key-data"] = base64.b64encode(key).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority": str(ca_cert)}}
        ],
        "users": [{"name": f"{context}-reader", "user": user}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": f"{context}-reader"}}
        ],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config))
    return path


# --- The objects the tests expect ----------------------------------------------------------------

TEAMS = ("team-a", "team-b", "team-c")
APPS = ("chat", "rag", "code-assist", "summarize", "translate", "embeddings")
SCHEDULES = {"monthly": "2026-04", "weekly": "2026-W16", "daily": "2026-04-20"}
MODELS = ("llama-3-70b", "mistral-7b", "qwen2-72b")
REPORTS_PER_TEAM = {"team-a": 12, "team-b": 8, "team-c": 3}
EXACT_REPORT = ("team-c", "chat-daily")
EXACT_COST = 0.30000000000000004  # the text the API writes, not the binary value of 0.1 + 0.2
EXACT_INPUT_TOKENS = 2**63 - 1
EXACT_OUTPUT_TOKENS = 2**53 + 1


def usage_report(namespace: str, name: str, index: int) -> dict[str, Any]:
    schedule = name.rsplit("-", 1)[1]
    model = MODELS[index % len(MODELS)]
    input_tokens, output_tokens = 1_200_000 + 50_000 * index, 300_000 + 10_000 * index
    cost = 12.5 + 1.25 * index
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "UsageReport",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name.split("-")[0]}},
        "spec": {"costProfileRef": "a100-pool", "schedule": schedule},
        "status": {
            "period": SCHEDULES[schedule],
            "periodStart": "2026-04-01T00:00:00Z",
            "periodEnd": "2026-04-20T10:00:00Z",
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "estimatedCostUSD": cost,
            "byModel": [
                {
                    "model": model,
                    "namespace": namespace,
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "estimatedCostUSD": cost,
                }
            ],
            "cloudComparison": [
                {
                    "provider": "openai",
                    "model": "gpt-4o",
                    "estimatedCloudCostUSD": 40.1,
                    "savingsUSD": 27.6,
                    "savingsPercent": 68.8,
                }
            ],
            "lastUpdated": "2026-04-20T10:00:00Z",
        },
    }


def cost_profile(namespace: str, name: str, gpu_model: str, price: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CostProfile",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hardware": {
                "gpuModel": gpu_model,
                "gpuCount": 8,
                "purchasePriceUSD": price,
                "amortizationYears": 3,
            },
            "electricity": {"ratePerKWh": 0.12, "pueFactor": 1.4},
        },
    }


def seed_objects(namespaces: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """23 UsageReports over three teams, and CostProfiles of which two share a name."""
    names = [f"{app}-{schedule}" for app in APPS for schedule in SCHEDULES]
    reports = [
        usage_report(namespaces[team], name, index)
        for team in TEAMS
        for index, name in enumerate(names[: REPORTS_PER_TEAM[team]])
    ]
    [exact] = [r for r in reports if _exact_key(namespaces) == _object_key(r)]
    exact["status"].update(inputTokens=EXACT_INPUT_TOKENS, outputTokens=EXACT_OUTPUT_TOKENS)
    exact["status"]["estimatedCostUSD"] = EXACT_COST
    exact["status"]["byModel"][0]["estimatedCostUSD"] = EXACT_COST
    profiles = [
        cost_profile(namespaces["team-a"], "a100-pool", "A100-80GB", 120000),
        cost_profile(namespaces["team-b"], "a100-pool", "A100-80GB", 98000),
        cost_profile(namespaces["team-c"], "h100-pool", "H100-80GB", 250000),
    ]
    return reports, profiles


def _exact_key(namespaces: dict[str, str]) -> tuple[str, str]:
    return namespaces[EXACT_REPORT[0]], EXACT_REPORT[1]


# --- A seeded cluster: the emulator, or a real one -----------------------------------------------


@dataclass
class SeededCluster:
    """A cluster holding the InferCost CRDs and the seeded objects, and how to reach it."""

    kubeconfig: Path
    namespaces: dict[str, str]  # team -> the namespace it got in this cluster
    usage_reports: list[dict[str, Any]] = field(default_factory=list)
    cost_profiles: list[dict[str, Any]] = field(default_factory=list)
    emulator: EmulatorServer | None = None

    @property
    def exact_report_key(self) -> tuple[str, str]:
        return _exact_key(self.namespaces)


@contextlib.contextmanager
def seeded_cluster(directory: Path) -> Iterator[SeededCluster]:
    """The real cluster of INFERCOST_TEST_KUBECONFIG if set, else an emulator, with test objects.

    On a real cluster, the namespaces get a random prefix and are deleted afterwards, and so are
    the CRDs if this function installed them (CRDs that were already there stay untouched).
    """
    with contextlib.ExitStack() as stack:
        if REAL_CLUSTER_KUBECONFIG is not None:
            kubeconfig = Path(REAL_CLUSTER_KUBECONFIG)
            prefix = f"infercost-test-{secrets.token_hex(3)}-"
            emulator = None
        else:
            tls = make_tls_files(directory)
            emulator = stack.enter_context(EmulatorServer(tls, token=secrets.token_urlsafe(24)))
            kubeconfig = write_kubeconfig(
                directory / "kubeconfig",
                server=emulator.url,
                ca_cert=tls.ca_cert,
                token=emulator.token,
            )
            prefix = ""

        cluster = SeededCluster(
            kubeconfig, {team: prefix + team for team in TEAMS}, emulator=emulator
        )
        cluster.usage_reports, cluster.cost_profiles = seed_objects(cluster.namespaces)
        api = kubernetes.config.new_client_from_config(
            config_file=str(kubeconfig), persist_config=False
        )
        stack.callback(_close_client, api)
        install_crds(api, stack)
        # NB: kmock 0.8 cannot parse /api/v1/namespaces (it reads "namespaces" as the start of a
        # namespaced path), and keeps namespaced objects without their namespace existing.
        if emulator is None:
            for namespace in cluster.namespaces.values():
                create_namespace(api, namespace, stack)
        for obj in [*cluster.usage_reports, *cluster.cost_profiles]:
            create_object(api, obj)
        yield cluster


def _close_client(api: Any) -> None:
    # NB: the kubernetes client keeps the last raw response, and through it an open socket.
    api.last_response = None
    api.rest_client.pool_manager.clear()
    api.close()


def install_crds(api: Any, cleanup: contextlib.ExitStack) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    for crd in yaml.safe_load_all(CRDS_MANIFEST.read_text()):
        name = crd["metadata"]["name"]
        try:
            _send(extensions.create_custom_resource_definition, body=crd)
        except kubernetes.client.ApiException as e:
            if e.status != 409:
                raise
        else:
            cleanup.callback(_delete_quietly, extensions.delete_custom_resource_definition, name)
        _wait_until_established(extensions, name)


def _wait_until_established(extensions: Any, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        crd = _send(extensions.read_custom_resource_definition, name)
        conditions = crd.get("status", {}).get("conditions", [])
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the CRD {name} was not established within {timeout} seconds")
        time.sleep(0.2)


def create_namespace(api: Any, name: str, cleanup: contextlib.ExitStack) -> None:
    core = kubernetes.client.CoreV1Api(api)
    labels = {"app.kubernetes.io/created-by": "infercost-focus-tests"}
    _send(core.create_namespace, body={"metadata": {"name": name, "labels": labels}})
    cleanup.callback(_delete_quietly, core.delete_namespace, name)


def create_object(api: Any, obj: dict[str, Any]) -> None:
    """Create a custom object, then write its status through the status subresource."""
    custom = kubernetes.client.CustomObjectsApi(api)
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    plural = {"UsageReport": USAGE_REPORTS, "CostProfile": COST_PROFILES}[obj["kind"]]
    body = {key: value for key, value in obj.items() if key != "status"}
    _send(custom.create_namespaced_custom_object, GROUP, VERSION, namespace, plural, body=body)
    if "status" in obj:
        status = {"status": obj["status"]}
        _send(
            custom.patch_namespaced_custom_object_status,
            *(GROUP, VERSION, namespace, plural, name),
            body=status,
        )


def _delete_quietly(delete: Callable[..., Any], name: str) -> None:
    try:
        _send(delete, name)
    except kubernetes.client.ApiException as e:
        if e.status != 404:
            raise


def _send(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One API call, its JSON answer as plain data, and its connection back to the pool.

    The raw body sidesteps the client's models, which expect more than the emulator returns.
    """
    response = call(*args, **kwargs, _preload_content=False)
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


def free_port() -> int:
    """A loopback port that nothing listens on (bound once by us, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
