"""The `infercost` command: `infercost export focus` writes InferCost usage as a FOCUS CSV file."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from infercost_focus import __version__
from infercost_focus.core.csv_writer import csv_bytes, write_atomically
from infercost_focus.core.export import Export, export_focus
from infercost_focus.core.layouts import RenderOptions
from infercost_focus.errors import InferCostError

logger = logging.getLogger("infercost_focus")

_EPILOG = """\
sources (one of them; the live cluster by default):
  the cluster of the current kubeconfig context, or the pod's service account in a cluster
  --input PATH   kubectl dumps: `kubectl get usagereports,costprofiles -A -o json` (or yaml)
  --demo         the built-in simulated cluster (no cluster needed)

examples:
  infercost export focus --demo --out focus.csv
  infercost export focus --namespace team-a --period 2026-04 --region eu-west-1 --out apr.csv
  kubectl get usagereports,costprofiles -A -o json | infercost export focus --input -
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infercost", description="InferCost cost exports for finance tools."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser("export", help="export costs in a finance format")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    focus = formats.add_parser(
        "focus",
        help="FOCUS cost and usage rows (CSV)",
        description="Write UsageReports as FOCUS cost and usage rows in the InferCost layout.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    focus.add_argument("-n", "--namespace", help="only reports of this namespace")
    focus.add_argument("--period", help="only reports whose status.period is this (2026-04, ...)")
    focus.add_argument("--region", default="", help="value of the Region column (default: empty)")
    focus.add_argument("-o", "--out", help="output file, written atomically (default: stdout)")
    source = focus.add_mutually_exclusive_group()
    source.add_argument(
        "-i",
        "--input",
        action="append",
        metavar="PATH",
        help="read kubectl dumps instead of a cluster: a file, a directory or - (repeatable)",
    )
    source.add_argument(
        "--demo", action="store_true", help="read the built-in simulated cluster instead"
    )
    focus.add_argument(
        "--at",
        type=_utc_time,
        help="with --demo: the moment the simulated cluster is read (default: now)",
    )
    focus.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    focus.add_argument("--context", help="kubeconfig context (default: the current context)")
    focus.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="timeout of each Kubernetes API request (default: 30)",
    )
    focus.add_argument(
        "--no-formula-neutralization",
        dest="neutralise_formulas",
        action="store_false",
        help="write text cells that start with = + - @ as they are (by default they get a "
        "leading apostrophe so spreadsheets do not run them)",
    )
    focus.add_argument(
        "--fail-on-reject",
        action="store_true",
        help="exit with status 3 when any object was rejected (the file is still written)",
    )
    focus.add_argument("-v", "--verbose", action="store_true", help="log each API call and file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(verbose=arguments.verbose)
    try:
        return _export_focus(arguments, sys.stderr)
    except InferCostError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; no file was written", file=sys.stderr)
        return 130


def _configure_logging(*, verbose: bool) -> None:
    """Log lines on stderr: INFO with --verbose, otherwise errors only (the summary says the rest).

    NB: the level is set on the handler too, since the kubernetes package sets urllib3's logger
    to WARNING of its own accord.
    """
    level = logging.INFO if verbose else logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def _export_focus(arguments: argparse.Namespace, stderr: TextIO) -> int:
    objects = _read_source(arguments)
    result = export_focus(
        objects,
        namespace=arguments.namespace,
        period=arguments.period,
        options=RenderOptions(
            region=arguments.region,
            neutralise_formulas=arguments.neutralise_formulas,
            extra_tags={"infercost.io/source": "demo"} if arguments.demo else {},
        ),
    )
    content = csv_bytes(result.frame)
    if arguments.out in (None, "-"):
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        write_atomically(arguments.out, content)
    _summarise(result, arguments, stderr)
    if arguments.fail_on_reject and result.rejects:
        return 3
    return 0


def _read_source(arguments: argparse.Namespace) -> list[Any]:
    if arguments.input:
        from infercost_focus.sources.files import read_inputs

        return read_inputs(arguments.input)
    if arguments.demo:
        from infercost_focus.sources.demo import demo_cluster_at

        reports, profiles = demo_cluster_at(arguments.at or datetime.now(UTC))
        return [*reports, *profiles]
    if arguments.at is not None:
        raise InferCostError("--at only applies to --demo; a live cluster is read as it is now.")

    # NB: imported here so that file and demo exports never load the kubernetes package.
    from infercost_focus.sources.kubernetes import connect

    client = connect(
        arguments.kubeconfig, arguments.context, request_timeout=arguments.request_timeout
    )
    cluster = client.fetch(arguments.namespace)
    return [*cluster.usage_reports, *cluster.cost_profiles]


def _summarise(result: Export, arguments: argparse.Namespace, stderr: TextIO) -> None:
    destination = arguments.out if arguments.out not in (None, "-") else "stdout"
    print(
        f"exported {len(result.frame)} FOCUS rows from {result.reports} UsageReports "
        f"to {destination}",
        file=stderr,
    )
    if result.reports == 0:
        filters = [
            f"{name}={value!r}"
            for name, value in (("namespace", arguments.namespace), ("period", arguments.period))
            if value
        ]
        where = f" matching {', '.join(filters)}" if filters else ""
        print(f"warning: no UsageReport{where}; the file has only its header line", file=stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=stderr)
    if result.rejects:
        print(f"rejected {len(result.rejects)} objects (the others were exported):", file=stderr)
        for reject in result.rejects:
            print(f"  {reject}", file=stderr)


def _utc_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time; use ISO 8601 such as 2026-04-30T23:59:00Z"
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


if __name__ == "__main__":
    sys.exit(main())
