"""One measurement in this process: `benchmarks.run` starts a fresh one per measurement.

The process builds its input first (synthetic objects from `generator`, or a saved table), then
times one operation, which ends with the file written to disk (`--out`, or a temporary file), and
prints one JSON line: wall seconds, peak resident memory of the whole process (`ru_maxrss`, so the
input counts), the high-water mark after the input was built, and the file's size and SHA-256.

    python -m benchmarks.measure export --rows 100000 --layout infercost --format csv
    python -m benchmarks.measure baseline --rows 100000
    python -m benchmarks.measure floor --table /tmp/table.arrow --format parquet

`prepare --save FILE` generates the input once and pickles it; `--input FILE` then loads it
instead of generating it again (the same objects, in less time).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import io
import json
import logging
import pickle
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from benchmarks import baseline_per_row, generator
from infercost_focus.core import writers
from infercost_focus.core.csv_writer import Written, write_atomically
from infercost_focus.core.export import export_focus


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes.

    NB: `getrusage`'s `ru_maxrss` keeps the peak of the process image before `exec`, so a child
    forked by a large process (the API emulator's, say) would report its parent's size. The
    kernel's high-water mark of this program's own memory (`VmHWM`) starts afresh at `exec`.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the input once, for the measurements that follow."""
    data = generator.generate(args.rows, args.month)
    with args.save.open("wb") as sink:
        pickle.dump(data.objects, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return {"rows": data.rows, "reports": data.reports, "report_periods": len(data.usage_reports)}


def objects(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The measurement's input: from `--input` when given, else generated."""
    if args.input is None:
        return generator.generate(args.rows, args.month).objects
    # NB: unpickling builds millions of dicts; the cyclic collector would rescan them all.
    gc.disable()
    try:
        with args.input.open("rb") as source:
            loaded: list[dict[str, Any]] = pickle.load(source)
    finally:
        gc.enable()
    return loaded


def resident() -> int:
    """The process's resident memory now, in bytes (not its peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def export(args: argparse.Namespace) -> dict[str, Any]:
    """The project's path: `export_focus` for one billing month, then `writers.encode`."""
    data = objects(args)
    input_rss = peak_rss()
    began = time.perf_counter()
    result = export_focus(data, billing_month=args.month, layout_name=args.layout)
    written = write_atomically(args.out, writers.pieces(result.frame, args.layout, args.format))
    seconds = time.perf_counter() - began
    measured = _result(seconds, len(result.frame), input_rss, written)
    if args.save_table is not None:
        # The floor's input: the frame as Arrow text columns, saved after the measurement.
        table = pa.Table.from_pandas(result.frame, preserve_index=False)
        strings = pa.table({name: table[name].cast(pa.string()) for name in table.column_names})
        with (
            pa.OSFile(str(args.save_table), "wb") as sink,
            pa.ipc.new_file(sink, strings.schema) as writer,
        ):
            writer.write_table(strings)
    return measured


def baseline(args: argparse.Namespace) -> dict[str, Any]:
    """The per-row yardstick: rows and CSV timed; gzip and Parquet of the same rows after it."""
    data = objects(args)
    input_rss = peak_rss()
    began = time.perf_counter()
    rows = baseline_per_row.month_rows(data, args.month)
    rows_seconds = time.perf_counter() - began
    content = baseline_per_row.csv_bytes(rows)
    written = write_atomically(args.out, content)
    seconds = time.perf_counter() - began
    measured = _result(seconds, len(rows), input_rss, written)

    # The same rows in the other formats, each timed on its own and added to the rows' time.
    began = time.perf_counter()
    gzip.compress(content, compresslevel=6, mtime=0)
    measured["seconds_csv_gz"] = seconds + time.perf_counter() - began
    del content
    began = time.perf_counter()
    baseline_per_row.parquet_bytes(rows)
    measured["seconds_parquet"] = rows_seconds + time.perf_counter() - began
    return measured


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """The writer alone: pyarrow writing the finished table of text columns, nothing else."""
    with pa.memory_map(str(args.table)) as source:
        table = pa.ipc.open_file(source).read_all()
        table = pa.table({name: table[name].combine_chunks() for name in table.column_names})
    input_rss = peak_rss()
    began = time.perf_counter()
    sink = io.BytesIO()
    if args.format == "parquet":
        pq.write_table(table, sink, compression="zstd")
        content = sink.getvalue()
    else:
        pa_csv.write_csv(table, sink)
        content = sink.getvalue()
        if args.format == "csv.gz":
            content = gzip.compress(content, compresslevel=6, mtime=0)
    written = write_atomically(args.out, content)
    seconds = time.perf_counter() - began
    return _result(seconds, table.num_rows, input_rss, written)


def _result(seconds: float, rows: int, input_rss: int, written: Written) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_rss": peak_rss(),
        "input_rss": input_rss,
        "bytes": written.size,
        "sha256": written.sha256,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="One benchmark measurement (JSON on stdout).")
    parser.add_argument("case", choices=("prepare", "export", "baseline", "floor"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--layout", default="infercost")
    parser.add_argument("--format", default="csv", choices=tuple(writers.FORMATS))
    parser.add_argument("--table", type=Path, help="floor: the Arrow file of the finished table")
    parser.add_argument("--save-table", type=Path, help="export: save the table for the floor")
    parser.add_argument("--save", type=Path, help="prepare: where to pickle the input")
    parser.add_argument("--input", type=Path, help="the pickled input (else it is generated)")
    parser.add_argument("--out", type=Path, help="the file to write (default: a temporary one)")
    args = parser.parse_args()

    # Applications log the export's warnings somewhere; here they would only flood stderr.
    logging.basicConfig(level=logging.ERROR)
    cases = {"prepare": prepare, "export": export, "baseline": baseline, "floor": floor}
    measure = cases[args.case]
    with tempfile.TemporaryDirectory(prefix="infercost-measure-") as scratch:
        if args.out is None:
            args.out = Path(scratch) / f"month.{args.format}"
        print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
