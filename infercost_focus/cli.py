"""The `infercost` command: `infercost export focus` writes InferCost usage as a FOCUS CSV file."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from infercost_focus import __version__
from infercost_focus.core.csv_writer import write_atomically
from infercost_focus.core.export import Export, export_focus, source_tags
from infercost_focus.core.layouts import INFERCOST, LAYOUTS, RenderOptions
from infercost_focus.core.leftovers import TEMP_PREFIX, remove_stale_temporaries
from infercost_focus.core.writers import FORMATS, metadata, metadata_name, pieces
from infercost_focus.errors import InferCostError

logger = logging.getLogger("infercost_focus")

_EPILOG = """\
sources (one of them; the live cluster by default):
  the cluster of the current kubeconfig context, or the pod's service account in a cluster
  --input PATH   kubectl dumps: `kubectl get usagereports,costprofiles -A -o json` (or yaml)
  --demo         the built-in simulated cluster (no cluster needed)
  --captures P   the capture store kept by the Dagster location (closed months too)

examples:
  infercost export focus --demo --out focus.csv
  infercost export focus --namespace team-a --period 2026-04 --region eu-west-1 --out apr.csv
  kubectl get usagereports,costprofiles -A -o json | infercost export focus --input -
  infercost export focus --captures .infercost/captures --billing-month 2026-04
  infercost export focus --demo --layout focus-1.2 --format parquet --out focus.parquet
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
        help="FOCUS cost and usage rows",
        description="Write UsageReports as FOCUS cost and usage rows: the InferCost layout or "
        "conformant FOCUS 1.2, as CSV, gzip-compressed CSV or Parquet.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    focus.add_argument("-n", "--namespace", help="only reports of this namespace")
    focus.add_argument(
        "--period", help="only reports whose status.period is this (2026-04, 2026-04-20, 2026-W17)"
    )
    focus.add_argument(
        "--billing-month",
        type=_month,
        metavar="YYYY-MM",
        help="only rows billed in this month (the file Dagster writes for that month)",
    )
    focus.add_argument(
        "--layout",
        choices=list(LAYOUTS),
        default=INFERCOST,
        help="infercost: the InferCost v1 columns (default); focus-1.2: conformant FOCUS 1.2",
    )
    focus.add_argument(
        "--format",
        dest="file_format",
        choices=list(FORMATS),
        default="csv",
        help="csv (default), csv.gz or parquet (typed; needs --out)",
    )
    focus.add_argument(
        "--region", default="", help="the region column(s) (default: empty, or null in focus-1.2)"
    )
    focus.add_argument(
        "--provider-name",
        default=RenderOptions.platform_name,
        help="focus-1.2: ProviderName, PublisherName and InvoiceIssuerName (default: %(default)s)",
    )
    focus.add_argument(
        "--billing-account-id",
        default=RenderOptions.billing_account_id,
        help="focus-1.2: BillingAccountId, the cluster or organisation (default: %(default)s)",
    )
    focus.add_argument(
        "--billing-account-name",
        default=RenderOptions.billing_account_name,
        help="focus-1.2: BillingAccountName (default: %(default)s)",
    )
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
    source.add_argument(
        "--captures",
        metavar="PATH",
        help="read the capture store (a directory or URL) instead: closed periods included; "
        "needs --period or --billing-month",
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

    captures = commands.add_parser("captures", help="manage the capture store")
    actions = captures.add_subparsers(dest="action", required=True, metavar="ACTION")
    fill = actions.add_parser(
        "fill-demo",
        help="capture a history of the demo cluster",
        description="Fill a capture store with past months of the built-in demo cluster, so "
        "that closed months can be exported and backfilled on a machine with no cluster.",
    )
    fill.add_argument("--captures", required=True, metavar="PATH", help="capture store")
    fill.add_argument("--from", dest="first", type=_month, required=True, metavar="YYYY-MM")
    fill.add_argument("--to", dest="last", type=_month, required=True, metavar="YYYY-MM")
    fill.add_argument("--every-hours", type=int, default=6, help="capture interval (default: 6)")
    fill.add_argument("-v", "--verbose", action="store_true", help="log each capture written")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(verbose=arguments.verbose)
    try:
        if arguments.command == "captures":
            return _fill_demo(arguments, sys.stderr)
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
    to_stdout = arguments.out in (None, "-")
    if to_stdout and arguments.file_format == "parquet":
        raise InferCostError("Cannot write Parquet to a terminal or pipe; give --out FILE.")
    objects = _read_source(arguments)
    result = export_focus(
        objects,
        namespace=arguments.namespace,
        period=arguments.period,
        billing_month=arguments.billing_month,
        layout_name=arguments.layout,
        options=RenderOptions(
            region=arguments.region,
            neutralise_formulas=arguments.neutralise_formulas,
            extra_tags=source_tags(objects),
            platform_name=arguments.provider_name,
            billing_account_id=arguments.billing_account_id,
            billing_account_name=arguments.billing_account_name,
        ),
    )
    content = pieces(result.frame, arguments.layout, arguments.file_format)
    if to_stdout:
        for piece in content:
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
    else:
        # The metadata goes first: a data file is never visible without its description.
        description = metadata(
            arguments.layout,
            arguments.file_format,
            len(result.frame),
            billing_month=arguments.billing_month,
        )
        for path, data in ((metadata_name(arguments.out), description), (arguments.out, content)):
            folder, name = os.path.split(os.path.abspath(path))
            remove_stale_temporaries(folder, f"{TEMP_PREFIX}{name}-")
            write_atomically(path, data)
    _summarise(result, arguments, stderr)
    if arguments.fail_on_reject and result.rejects:
        return 3
    return 0


def _read_source(arguments: argparse.Namespace) -> list[Any]:
    if arguments.input:
        from infercost_focus.sources.files import read_inputs

        return read_inputs(arguments.input)
    if arguments.captures:
        return _read_captures(arguments)
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


def _read_captures(arguments: argparse.Namespace) -> list[Any]:
    """The last captured state of each report period of the month that was asked for."""
    from infercost_focus.captures import CaptureStore

    month = arguments.billing_month or _month_of_period(arguments.period)
    states = CaptureStore(arguments.captures).month_states(month)
    if states.captures_read == 0:
        logger.warning("the capture store %s holds no captures for %s", arguments.captures, month)
    return [*states.usage_reports, *states.cost_profiles]


def _month_of_period(period: str | None) -> str:
    """The month in which a period starts: `2026-04`, `2026-04-20` and `2026-W17` all work."""
    if period is None:
        raise InferCostError(
            "--captures needs --period or --billing-month to know which month to read."
        )
    try:
        if "-W" in period:
            year, week = period.split("-W")
            return date.fromisocalendar(int(year), int(week), 1).strftime("%Y-%m")
        return datetime.strptime(period[:7], "%Y-%m").strftime("%Y-%m")
    except ValueError as error:
        raise InferCostError(
            f"Cannot tell the month of period {period!r}; use 2026-04, 2026-04-20 or 2026-W17, "
            "or give --billing-month."
        ) from error


def _fill_demo(arguments: argparse.Namespace, stderr: TextIO) -> int:
    from infercost_focus.captures import CaptureStore
    from infercost_focus.captures.demo_history import fill_demo_history

    start = datetime.strptime(arguments.first, "%Y-%m").replace(tzinfo=UTC)
    last = datetime.strptime(arguments.last, "%Y-%m").replace(tzinfo=UTC)
    end = (last + timedelta(days=32)).replace(day=1)
    if arguments.every_hours < 1 or end <= start:
        raise InferCostError("--to must not be before --from, and --every-hours must be 1 or more.")
    count = fill_demo_history(
        CaptureStore(arguments.captures), start, end, timedelta(hours=arguments.every_hours)
    )
    print(f"captured the demo cluster {count} times into {arguments.captures}", file=stderr)
    return 0


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


def _month(value: str) -> str:
    try:
        return datetime.strptime(value, "%Y-%m").strftime("%Y-%m")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month; use YYYY-MM") from error


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
