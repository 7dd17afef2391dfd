"""The live cluster as a source: the only module that talks to the Kubernetes API.

`connect()` finds credentials (a pod's service account, or a kubeconfig and one of its contexts)
and returns a `ClusterClient`, which lists UsageReports and CostProfiles page by page. Bodies are
parsed with `loads_exact`, so costs and token counts reach the rest of the project exactly as the
API server wrote them. Every failure a user can act on becomes a `ClusterError`.

Failures that may pass (429, 5xx, a connection reset, a timeout) are retried here, and only here,
with exponential backoff and full jitter, honouring Retry-After; urllib3's own retries are off so
the counts in the log are exact. A continue token that expired (410 Gone) restarts the listing
once. Refused credentials or access and missing CRDs fail at once.
"""

from __future__ import annotations

import logging
import os
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import urllib3
import urllib3.exceptions
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader

from infercost_focus import __version__
from infercost_focus.core.jsonio import loads_exact
from infercost_focus.errors import ClusterError

GROUP = "finops.infercost.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
USAGE_REPORTS = "usagereports"
COST_PROFILES = "costprofiles"
KINDS = {USAGE_REPORTS: "UsageReport", COST_PROFILES: "CostProfile"}

# Where Kubernetes mounts a pod's service account token and the cluster's CA certificate.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"

_SERVER_MESSAGE_LIMIT = 300
# The longest wait between two attempts: backoff doubles up to this, and Retry-After is cut to it.
_LONGEST_WAIT = 60.0
_CHOOSE_CLUSTER = "choose another cluster or identity with --kubeconfig/--context"


@dataclass(frozen=True)
class ClusterObjects:
    """One listing of InferCost's resources, each item as the API returned it.

    Items are plain dicts; one of another shape is kept as it is, for the parser to reject.
    """

    usage_reports: list[Any]
    cost_profiles: list[Any]


class PageSink(Protocol):
    """Where `ClusterClient.stream` puts each page of a listing as it arrives."""

    def restart(self, kind: str) -> None:
        """The listing of `kind` (UsageReport, CostProfile) starts (again): forget its pages."""

    def add(self, kind: str, objects: list[Any]) -> None:
        """One page of objects of `kind`."""


class _Collected:
    """A sink that keeps every page: the whole listing in memory."""

    def __init__(self) -> None:
        self.objects: dict[str, list[Any]] = {}

    def restart(self, kind: str) -> None:
        self.objects[kind] = []

    def add(self, kind: str, objects: list[Any]) -> None:
        self.objects[kind].extend(objects)


@dataclass(frozen=True)
class Retries:
    """How often to repeat a request that failed for a passing reason, and how long to wait."""

    attempts: int = 5
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): as asked, or full jitter."""
        if retry_after is not None:
            return min(retry_after, _LONGEST_WAIT)
        return random.uniform(0, min(self.backoff * 2 ** (attempt - 1), _LONGEST_WAIT))


class _ContinueExpired(Exception):
    """A page was asked for with a continue token the API server no longer knows (410 Gone)."""

    def __init__(self, page: int, error: ApiException) -> None:
        super().__init__(f"the continue token of page {page} expired")
        self.page = page
        self.error = error


class ClusterClient:
    """Reads InferCost resources through the real kubernetes client."""

    def __init__(
        self,
        api_client: Any,
        *,
        origin: str,
        page_size: int,
        request_timeout: float,
        logger: logging.Logger,
        retries: Retries | None = None,
    ) -> None:
        self._api_client = api_client
        self._api = k8s_client.CustomObjectsApi(api_client)
        self._origin = origin
        self._page_size = page_size
        self._request_timeout = request_timeout
        self._logger = logger
        self._retries = retries or Retries()

    @property
    def host(self) -> str:
        """The API server's URL, without any user info, for messages and metadata."""
        url = urllib.parse.urlsplit(str(self._api_client.configuration.host))
        return urllib.parse.urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2]))

    def list_usage_reports(self, namespace: str | None = None) -> list[Any]:
        collected = _Collected()
        self._list(USAGE_REPORTS, namespace, collected)
        return collected.objects[KINDS[USAGE_REPORTS]]

    def list_cost_profiles(self, namespace: str | None = None) -> list[Any]:
        collected = _Collected()
        self._list(COST_PROFILES, namespace, collected)
        return collected.objects[KINDS[COST_PROFILES]]

    def fetch(self, namespace: str | None = None) -> ClusterObjects:
        """All UsageReports and CostProfiles of one namespace, or of all namespaces."""
        collected = _Collected()
        self.stream(collected, namespace)
        return ClusterObjects(
            usage_reports=collected.objects[KINDS[USAGE_REPORTS]],
            cost_profiles=collected.objects[KINDS[COST_PROFILES]],
        )

    def stream(self, sink: PageSink, namespace: str | None = None) -> None:
        """List UsageReports, then CostProfiles, handing each page to `sink` as it arrives.

        Nothing here keeps a page once the sink has it, so a capture through `CaptureBuilder`
        needs the memory of one page, whatever the size of the cluster.
        """
        self._list(USAGE_REPORTS, namespace, sink)
        self._list(COST_PROFILES, namespace, sink)

    def close(self) -> None:
        """Release the client's threads and connections."""
        # NB: the kubernetes client keeps the last raw response, and through it an open socket.
        self._api_client.last_response = None
        self._api_client.rest_client.pool_manager.clear()
        self._api_client.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _list(self, plural: str, namespace: str | None, sink: PageSink) -> None:
        """Every object of one resource; an expired continue token starts the listing over once."""
        try:
            sink.restart(KINDS[plural])
            return self._list_pages(plural, namespace, sink)
        except _ContinueExpired as expired:
            self._logger.warning(
                "the continue token for page %d of %s in %s expired (410 Gone); listing them"
                " again from the first page",
                expired.page, plural, _where(namespace),
            )  # fmt: skip

        try:
            sink.restart(KINDS[plural])
            return self._list_pages(plural, namespace, sink)
        except _ContinueExpired as expired:
            raise ClusterError(
                f"Cannot {_attempt(plural, namespace)} on {self.host}: the continue token expired"
                f" (410 Gone: {_server_message(expired.error.body)}) again after the listing was"
                " started over, so the objects change faster than they can be listed page by"
                " page. Retry later."
            ) from expired.error

    def _list_pages(self, plural: str, namespace: str | None, sink: PageSink) -> None:
        """Every object of one resource, following the server's continue tokens page by page."""
        continue_token: str | None = None
        where = _where(namespace)
        page = 0
        while True:
            page += 1
            items, next_token = self._list_page(plural, namespace, continue_token, page)
            self._logger.info("listed %d %s in %s (page %d)", len(items), plural, where, page)
            sink.add(KINDS[plural], items)
            del items
            if not next_token:
                return
            if next_token == continue_token:
                raise ClusterError(
                    f"Cannot {_attempt(plural, namespace)} on {self.host}: the API server answered"
                    f" page {page} with the continue token it was given, so the listing would"
                    " never end. Check for a proxy between here and the API server."
                )
            continue_token = next_token

    def _list_page(
        self, plural: str, namespace: str | None, continue_token: str | None, page: int
    ) -> tuple[list[Any], str | None]:
        """One list request: a page of objects and the token for the next page, if any."""
        options: dict[str, Any] = {
            "limit": self._page_size,
            "_preload_content": False,
            "_request_timeout": self._request_timeout,
        }
        if continue_token:
            options["_continue"] = continue_token
        body = self._request_with_retries(plural, namespace, options, page)
        return self._parse_page(body, plural, namespace)

    def _request_with_retries(
        self, plural: str, namespace: str | None, options: dict[str, Any], page: int
    ) -> bytes:
        """The body of one list request, repeated while it fails for a reason that may pass."""
        attempts = self._retries.attempts
        attempt = 0
        while True:
            attempt += 1
            cause: ApiException | urllib3.exceptions.HTTPError
            try:
                return self._request(plural, namespace, options)
            except ApiException as e:
                if e.status == 410 and "_continue" in options:
                    raise _ContinueExpired(page, e) from e
                cause, problem = e, f"the API server answered {e.status} {e.reason}"
                passing, retry_after = e.status == 429 or 500 <= e.status <= 599, _retry_after(e)
            except urllib3.exceptions.HTTPError as e:
                cause, problem = e, _transport_problem(e, self._request_timeout)
                passing, retry_after = _passing_transport_failure(e), None

            # A failure that will not pass ends the listing at once, as does the last attempt.
            if not passing:
                raise self._failure(cause, plural, namespace, attempt) from cause
            what = f"{_attempt(plural, namespace)} on {self.host} (page {page})"
            if attempt == attempts:
                self._logger.warning(
                    "%s failed, attempt %d/%d: %s; giving up", what, attempt, attempts, problem
                )
                raise self._failure(cause, plural, namespace, attempt) from cause

            # Otherwise wait, as the server asked or a random part of the doubling backoff.
            delay = self._retries.delay(attempt, retry_after)
            self._logger.warning(
                "%s failed, attempt %d/%d: %s; retrying in %.2f seconds",
                what, attempt, attempts, problem, delay,
            )  # fmt: skip
            self._retries.sleep(delay)

    def _request(self, plural: str, namespace: str | None, options: dict[str, Any]) -> bytes:
        """The raw body of one list request."""
        # NB: the raw body is parsed here, not by the client, which would turn 0.1 into a float.
        if namespace is None:
            response = self._api.list_cluster_custom_object(GROUP, VERSION, plural, **options)
        else:
            response = self._api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, **options
            )
        try:
            return bytes(response.data)
        finally:
            response.release_conn()

    def _parse_page(
        self, body: bytes, plural: str, namespace: str | None
    ) -> tuple[list[Any], str | None]:
        try:
            listing = loads_exact(body)
        except ValueError as e:
            raise ClusterError(
                f"Cannot {_attempt(plural, namespace)} on {self.host}: the answer is not JSON"
                f" ({_excerpt(body)}). Check that the kubeconfig points at the API server itself,"
                " not at a proxy or login page."
            ) from e
        items = listing.get("items") if isinstance(listing, dict) else None
        if not isinstance(items, list):
            raise ClusterError(
                f"Cannot {_attempt(plural, namespace)} on {self.host}: the answer is JSON but not"
                f" a Kubernetes list (its items are {_describe(items)}, not a list). Check that"
                " the kubeconfig points at a Kubernetes API server."
            )

        # List items may lack apiVersion and kind, by which downstream code tells objects apart.
        # Items that are not objects are passed on as they are: the parser rejects them one by one.
        kind = KINDS[plural]
        page = [
            {"apiVersion": API_VERSION, "kind": kind, **_without_type(item)}
            if isinstance(item, dict)
            else item
            for item in items
        ]
        metadata = listing.get("metadata")
        continue_token = metadata.get("continue") if isinstance(metadata, dict) else None
        return page, continue_token if isinstance(continue_token, str) else None

    def _failure(
        self,
        cause: ApiException | urllib3.exceptions.HTTPError,
        plural: str,
        namespace: str | None,
        attempts: int,
    ) -> ClusterError:
        if isinstance(cause, ApiException):
            return self._api_error(cause, plural, namespace, attempts)
        problem = _transport_problem(cause, self._request_timeout) + _of_attempts(attempts)
        return self._unreachable(problem, plural, namespace)

    def _api_error(
        self, e: ApiException, plural: str, namespace: str | None, attempts: int
    ) -> ClusterError:
        attempt = f"Cannot {_attempt(plural, namespace)} on {self.host}"
        message = _server_message(e.body)
        if e.status == 0:
            return self._unreachable(str(e.reason).replace("\n", ": "), plural, namespace)
        if e.status == 401:
            return ClusterError(
                f"{attempt}: the API server rejected the credentials from {self._origin} (401"
                f" Unauthorized). Renew them, e.g. by logging in to the cluster again, or"
                f" {_CHOOSE_CLUSTER}."
            )
        if e.status == 403:
            return ClusterError(
                f"{attempt}: access is forbidden (403: {message}). Grant this identity an RBAC"
                f" rule allowing get and list on usagereports and costprofiles in the API group"
                f" {GROUP} (a ClusterRole to read all namespaces, or a Role in each namespace to"
                f" read), or {_CHOOSE_CLUSTER}."
            )
        if e.status == 404:
            return ClusterError(
                f"{attempt}: the InferCost CRDs are not installed in this cluster (it does not"
                f" serve {plural} in {API_VERSION}). Install InferCost there, or point"
                " --kubeconfig/--context at the cluster where it runs."
            )
        return ClusterError(
            f"{attempt}: the API server answered {e.status} {e.reason}: {message}"
            f"{_of_attempts(attempts)}. Retry later; if it keeps failing, check the API server's"
            " health and logs."
        )

    def _unreachable(self, problem: str, plural: str, namespace: str | None) -> ClusterError:
        return ClusterError(
            f"Cannot reach the Kubernetes API server at {self.host} (from {self._origin}) to"
            f" {_attempt(plural, namespace)}: {problem}. Check that the cluster is running and"
            f" reachable from here, or {_CHOOSE_CLUSTER}."
        )


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    page_size: int = 500,
    request_timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger | None = None,
) -> ClusterClient:
    """A client for one cluster, with the credentials a user would expect.

    In a pod (KUBERNETES_SERVICE_HOST set) and with neither `kubeconfig` nor `context` given, the
    pod's service account; otherwise the kubeconfig: `kubeconfig` if given, else the files named
    by KUBECONFIG, else ~/.kube/config, with `context` or the file's current context.

    Each request may take `request_timeout` seconds. A request that fails for a passing reason is
    repeated up to `retries` times, waiting a random time below `backoff` seconds, doubled after
    each attempt, or as long as a 429 or 503 answer's Retry-After asks; `sleep` does the waiting.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size!r}")
    if request_timeout <= 0:
        raise ValueError(f"request_timeout must be positive, not {request_timeout!r}")
    if retries < 0:
        raise ValueError(f"retries must be zero or more, not {retries!r}")
    if backoff < 0:
        raise ValueError(f"backoff must be zero or more, not {backoff!r}")

    # A private configuration: the package-wide default one stays untouched.
    configuration = k8s_client.Configuration()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        origin = _load_service_account(configuration)
    else:
        origin = _load_kubeconfig(configuration, kubeconfig, context)
    # NB: urllib3 would otherwise repeat failed connections and, on its own, 503s with Retry-After
    # out of sight; redirects are answered as they are rather than followed with the credentials.
    configuration.retries = urllib3.Retry(total=0, raise_on_redirect=False)

    api_client = k8s_client.ApiClient(configuration)
    api_client.user_agent = f"infercost-focus/{__version__}"
    return ClusterClient(
        api_client,
        origin=origin,
        page_size=page_size,
        request_timeout=request_timeout,
        logger=logger or logging.getLogger(__name__),
        retries=Retries(attempts=retries + 1, backoff=backoff, sleep=sleep),
    )


def _load_service_account(configuration: Any) -> str:
    token, ca_cert = SERVICE_ACCOUNT_DIR / "token", SERVICE_ACCOUNT_DIR / "ca.crt"
    loader = InClusterConfigLoader(token_filename=str(token), cert_filename=str(ca_cert))
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError) as e:
        raise ClusterError(
            f"Cannot use the pod's service account (KUBERNETES_SERVICE_HOST is set):"
            f" {_clause(str(e))} (expected the token in {str(token)!r} and the CA certificate in"
            f" {str(ca_cert)!r}). Mount the service account token into the pod, or pass"
            " --kubeconfig/--context to use a kubeconfig instead."
        ) from e
    return "the pod's service account"


def _load_kubeconfig(configuration: Any, kubeconfig: str | None, context: str | None) -> str:
    paths = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    source = f"the kubeconfig {paths!r}" + (f" (context {context!r})" if context else "")

    # The kubernetes client silently skips missing files; a missing kubeconfig deserves its name.
    if not any(Path(path).expanduser().is_file() for path in paths.split(os.pathsep) if path):
        if kubeconfig:
            raise ClusterError(
                f"Cannot load the kubeconfig {kubeconfig!r}: the file does not exist. Pass the"
                " path of an existing kubeconfig with --kubeconfig."
            )
        raise ClusterError(
            f"Cannot find Kubernetes credentials: the kubeconfig {paths!r} does not exist and"
            " this process is not running in a pod. Pass a kubeconfig with --kubeconfig or"
            " set KUBECONFIG."
        )

    # NB: no error text of YAML or unexpected failures is shown: it may quote the file's secrets.
    try:
        k8s_config.load_kube_config(
            config_file=paths,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as e:
        raise ClusterError(_kubeconfig_problem(paths, context, str(e))) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" near line {mark.line + 1}" if mark is not None else ""
        raise ClusterError(
            f"Cannot load {source}: it is not valid YAML{line}. Fix the file, or pass another"
            " one with --kubeconfig."
        ) from e
    except OSError as e:
        raise ClusterError(
            f"Cannot load {source}: {e.strerror or type(e).__name__} ({e.filename!r}). Fix the"
            " file or its permissions, or pass another one with --kubeconfig."
        ) from e
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ClusterError(
            f"Cannot load {source}: its structure is not that of a kubeconfig"
            f" ({type(e).__name__}). Fix the file, or pass another one with --kubeconfig."
        ) from e
    return source


def _kubeconfig_problem(paths: str, context: str | None, detail: str) -> str:
    if context is not None:
        names = _context_names(paths)
        if names is not None and context not in names:
            return (
                f"Cannot use the context {context!r}: the kubeconfig {paths!r} has no such"
                f" context (it has: {', '.join(names) or 'none'}). Choose one of them with"
                " --context, or pass another kubeconfig with --kubeconfig."
            )
    source = f"the kubeconfig {paths!r}" + (f" with the context {context!r}" if context else "")
    return (
        f"Cannot load {source}: {_clause(detail)}. Fix the file, or choose another kubeconfig or"
        " context with --kubeconfig/--context."
    )


def _context_names(paths: str) -> list[str] | None:
    """The names of a kubeconfig's contexts, or None when the file cannot tell."""
    try:
        contexts, _ = k8s_config.list_kube_config_contexts(config_file=paths)
        return [str(entry["name"]) for entry in contexts]
    except (ConfigException, OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


def _transport_problem(e: urllib3.exceptions.HTTPError, timeout: float) -> str:
    """What went wrong below HTTP, as a clause: refused, timed out, TLS, name resolution."""
    reason: BaseException = e
    if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None:
        reason = e.reason
    # NB: urllib3 derives NewConnectionError from its TimeoutError, so the order matters.
    cause = reason.__cause__
    if isinstance(reason, urllib3.exceptions.NewConnectionError) and isinstance(cause, OSError):
        return f"the connection failed ({cause.strerror or cause})"
    if isinstance(reason, urllib3.exceptions.SSLError):
        return f"the TLS handshake failed ({reason}); check the CA certificate the kubeconfig names"
    if isinstance(reason, urllib3.exceptions.TimeoutError):
        return f"no answer within {timeout:g} seconds"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return f"the connection broke off before the answer was complete ({_clause(str(reason))})"
    return f"the connection failed ({type(reason).__name__}: {reason})"


def _passing_transport_failure(e: urllib3.exceptions.HTTPError) -> bool:
    """Whether a failure below HTTP may pass: a reset or a timeout, not a refusal or bad TLS."""
    reason: BaseException = e
    if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None:
        reason = e.reason
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(reason, urllib3.exceptions.ProtocolError | urllib3.exceptions.TimeoutError)


def _retry_after(e: ApiException) -> float | None:
    """The seconds a 429 or 503 answer asks to wait (Retry-After), if it gives a number."""
    if e.status not in (429, 503) or not e.headers:
        return None
    value = e.headers.get("Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None  # absent, or an HTTP date: the backoff decides
    return seconds if 0 <= seconds < float("inf") else None


def _of_attempts(attempts: int) -> str:
    return f" (the last of {attempts} attempts)" if attempts > 1 else ""


def _describe(value: Any) -> str:
    return "missing" if value is None else f"of type {type(value).__name__}"


def _server_message(body: Any) -> str:
    """The `message` of a Kubernetes Status body, or the start of any other body."""
    try:
        status = loads_exact(body) if body else None
    except ValueError:
        status = None
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return _truncated(status["message"])
    return _excerpt(body) if body else "no message"


def _excerpt(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return _truncated(text) if text.strip() else "an empty body"


def _truncated(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _SERVER_MESSAGE_LIMIT:
        return text
    return text[: _SERVER_MESSAGE_LIMIT - 1] + "…"


def _clause(text: str) -> str:
    """A library's message, fit to continue a sentence: no line breaks, no final period."""
    return " ".join(text.split()).rstrip(".") or "no details"


def _without_type(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in ("apiVersion", "kind")}


def _where(namespace: str | None) -> str:
    return "all namespaces" if namespace is None else f"namespace {namespace!r}"


def _attempt(plural: str, namespace: str | None) -> str:
    return f"list {plural}.{GROUP} in {_where(namespace)}"
