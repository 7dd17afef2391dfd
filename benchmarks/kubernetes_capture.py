"""One capture from a live cluster: the Kubernetes API emulator on loopback, listed page by page.

This process serves the emulator of the tests (HTTPS on 127.0.0.1, bearer token, `limit` and
`continue`), fills it with N UsageReports (one synthetic report period each, 10 to 20 models) and
their CostProfiles, then starts a fresh process that does what the capture job does: `connect()`,
list both resources page by page straight into a capture (`ClusterClient.stream` into
`CaptureStore.begin`), and store it (`commit`). That process prints its wall time and peak
resident memory, as JSON, once per page size.

    python -m benchmarks.kubernetes_capture --reports 2000 --page-sizes 500,100
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import generator
from benchmarks.measure import peak_rss, resident
from infercost_focus.core.jsonio import dumps_exact


def serve_and_measure(reports: int, page_sizes: list[int]) -> list[dict[str, Any]]:
    """Seed an emulator with `reports` UsageReports and measure one capture per page size."""
    import kubernetes

    from infercost_focus_tests import k8s_emulator as emulator_support

    objects = _cluster_objects(reports)
    with tempfile.TemporaryDirectory(prefix="k8s-capture-bench-") as scratch:
        folder = Path(scratch)
        tls = emulator_support.make_tls_files(folder)
        with emulator_support.EmulatorServer(tls, token=secrets.token_urlsafe(24)) as server:
            kubeconfig = emulator_support.write_kubeconfig(
                folder / "kubeconfig", server=server.url, ca_cert=tls.ca_cert, token=server.token
            )
            # The CRDs go through the API; the objects straight into the emulator's store, since
            # its create handler scans every stored object and would take minutes.
            api = kubernetes.config.new_client_from_config(
                config_file=str(kubeconfig), persist_config=False
            )
            try:
                with contextlib.ExitStack() as cleanup:
                    emulator_support.install_crds(api, cleanup)
                    cleanup.pop_all()  # the CRDs go away with the emulator
            finally:
                api.close()
                api.rest_client.pool_manager.clear()
            server.call(lambda emulator: _store(emulator, objects))

            results = []
            for page_size in page_sizes:
                measured = _measure_in_child(kubeconfig, folder / f"store-{page_size}", page_size)
                measured.update(reports=reports, page_size=page_size)
                results.append(measured)
    return results


def _store(emulator: Any, objects: list[dict[str, Any]]) -> None:
    import kmock

    plurals = {"UsageReport": "usagereports", "CostProfile": "costprofiles"}
    for obj in objects:
        resource = kmock.resource(generator.GROUP, generator.VERSION, plurals[obj["kind"]])
        metadata = obj["metadata"]
        emulator.objects[resource, metadata["namespace"], metadata["name"]] = obj


def _cluster_objects(reports: int) -> list[dict[str, Any]]:
    """The reports as the cluster shows them, and their profiles, as plain JSON."""
    usage_reports, cost_profiles = generator.current_reports(reports)
    return [json.loads(dumps_exact(obj)) for obj in [*usage_reports, *cost_profiles]]


def _measure_in_child(kubeconfig: Path, store: Path, page_size: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.kubernetes_capture",
        "--measure",
        "--kubeconfig",
        str(kubeconfig),
        "--store",
        str(store),
        "--page-sizes",
        str(page_size),
    ]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def measure(kubeconfig: Path, store: Path, page_size: int) -> dict[str, Any]:
    """What the capture job does, timed: connect, list both resources page by page into a
    capture, store it."""
    from infercost_focus.captures import CaptureStore
    from infercost_focus.sources.kubernetes import connect

    logging.basicConfig(level=logging.WARNING)
    after_imports = resident()
    began = time.perf_counter()
    captures = CaptureStore(store)
    capture = captures.begin(datetime.now(UTC), "kubernetes")
    with connect(str(kubeconfig), page_size=page_size) as client:
        client.stream(capture)
    listed_at = time.perf_counter()
    info = captures.commit(capture)
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "list_seconds": listed_at - began,
        "usage_reports": info.usage_reports,
        "cost_profiles": info.cost_profiles,
        "peak_rss": peak_rss(),
        "rss_after_imports": after_imports,
        "capture_bytes": Path(info.path).stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--page-sizes", default="500,100")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    page_sizes = [int(size) for size in args.page_sizes.split(",")]
    if args.measure:
        print(json.dumps(measure(args.kubeconfig, args.store, page_sizes[0])))
        return
    for result in serve_and_measure(args.reports, page_sizes):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
