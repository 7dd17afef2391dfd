"""One capture file: a Parquet table, one row per captured object.

Small typed index columns (kind, namespace, name, uid, period, period_start, period_end,
last_updated, captured_at) let a month be chosen without decoding any object; the `object`
column keeps each object verbatim as exact JSON.

The Parquet key-value metadata holds a header: the format version, the source, the counts, the
span of the selectable report periods and the (namespace, name, row) of each CostProfile. A
reader can thus skip a file, and choose CostProfile versions, from footers alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from infercost_focus.captures._layout import CaptureFile, marker_months
from infercost_focus.captures._storage import Storage
from infercost_focus.core.jsonio import dumps_exact, loads_exact
from infercost_focus.errors import CaptureStoreError

FORMAT_VERSION = 1
METADATA_KEY = b"infercost.capture"
USAGE_REPORT = "UsageReport"
COST_PROFILE = "CostProfile"

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("namespace", pa.string()),
        ("name", pa.string()),
        ("uid", pa.string()),
        ("period", pa.string()),
        ("period_start", TIMESTAMP),
        ("period_end", TIMESTAMP),
        ("last_updated", TIMESTAMP),
        ("captured_at", TIMESTAMP),
        ("object", pa.string()),
    ]
)
INDEX_COLUMNS = [name for name in SCHEMA.names if name != "object"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


@dataclass(frozen=True)
class IndexEntry:
    """What the index columns hold for one object; None wherever the object is unreadable."""

    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    period: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    last_updated: datetime | None = None

    def reach(self) -> tuple[datetime, datetime] | None:
        """`(periodStart, periodEnd)` when this can be a selected report state, else None.

        A state needs a uid, a period and a start; a missing end counts as an empty period at
        its start, and an end before the start rules the state out. `_select` applies the same
        rule to whole columns.
        """
        if self.uid is None or self.period is None or self.period_start is None:
            return None
        end = self.period_start if self.period_end is None else self.period_end
        return (self.period_start, end) if end >= self.period_start else None


@dataclass(frozen=True)
class CaptureHeader:
    captured_at: datetime
    source: str
    usage_reports: int
    cost_profiles: int
    earliest_start: datetime | None
    latest_end: datetime | None
    cost_profile_rows: dict[tuple[str, str], int]

    def may_hold(self, start: datetime, end: datetime) -> bool:
        """Whether a selectable report state in this file can overlap `[start, end)`."""
        if self.earliest_start is None or self.latest_end is None:
            return False
        return self.earliest_start < end and self.latest_end >= start


def index_entry(obj: Any) -> IndexEntry:
    """The index of a Kubernetes object as the API returns it, tolerating any shape."""
    metadata = _field(obj, "metadata")
    status = _field(obj, "status")
    return IndexEntry(
        namespace=_text(_field(metadata, "namespace")),
        name=_text(_field(metadata, "name")),
        uid=_text(_field(metadata, "uid")),
        period=_text(_field(status, "period")),
        period_start=parse_instant(_field(status, "periodStart")),
        period_end=parse_instant(_field(status, "periodEnd")),
        last_updated=parse_instant(_field(status, "lastUpdated")),
    )


def parse_instant(value: Any) -> datetime | None:
    """An RFC 3339 time with an offset, in UTC to the microsecond; None when unreadable."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def object_texts(
    kinds: Sequence[str], objects: Sequence[Any], entries: Sequence[IndexEntry]
) -> list[str]:
    """Each object as exact JSON, or an error naming the first one that holds no JSON value."""
    return [
        _object_text(kind, obj, entry)
        for kind, obj, entry in zip(kinds, objects, entries, strict=True)
    ]


def _object_text(kind: str, obj: Any, entry: IndexEntry) -> str:
    try:
        text = dumps_exact(obj)
    except (TypeError, ValueError) as error:
        ref = f"{entry.namespace or '?'}/{entry.name or '?'}"
        raise CaptureStoreError(
            f"Cannot capture {kind} {ref}: it holds a value JSON cannot express ({error}). "
            "Pass objects as the Kubernetes API returns them (dicts, lists, strings, numbers)."
        ) from error
    # NB: a lone surrogate (read from a `\\ud800` escape) cannot be stored as UTF-8; written as
    # its JSON escape it reads back as the same string, and parsing then rejects the object.
    return _escape_surrogates(text)


def report_spans(
    kinds: Sequence[str], entries: Sequence[IndexEntry]
) -> list[tuple[datetime, datetime]]:
    """`IndexEntry.reach` of every UsageReport row that can be a selected state."""
    reaches = [e.reach() for k, e in zip(kinds, entries, strict=True) if k == USAGE_REPORT]
    return [reach for reach in reaches if reach is not None]


def encode_capture(
    captured_at: datetime,
    source: str,
    kinds: Sequence[str],
    entries: Sequence[IndexEntry],
    texts: Sequence[str],
) -> bytes:
    """The bytes of one capture file; `kinds`, `entries` and `texts` describe the same rows."""
    spans = report_spans(kinds, entries)
    header = _header_fields(
        source,
        captured_at,
        usage_reports=sum(kind == USAGE_REPORT for kind in kinds),
        cost_profiles=sum(kind == COST_PROFILE for kind in kinds),
        spans=(min(s for s, _ in spans), max(e for _, e in spans)) if spans else None,
        cost_profile_rows=[
            (e.namespace, e.name, row)
            for row, (k, e) in enumerate(zip(kinds, entries, strict=True))
            if k == COST_PROFILE and e.namespace is not None and e.name is not None
        ],
    )
    batch = _record_batch(captured_at, kinds, entries, texts)
    return _parquet_bytes(header, [batch])


class CaptureBuilder:
    """One capture assembled page by page, as a paginated listing delivers it.

    Each page becomes index rows and exact JSON text at once and is kept zstd-compressed, so the
    listing's objects are dropped page by page: memory holds one page of objects plus the
    compressed capture, however large the cluster. `restart(kind)` forgets the pages of a kind
    whose listing starts over (an expired continue token).
    """

    def __init__(self, captured_at: datetime, source: str) -> None:
        self.captured_at = captured_at
        self.source = source
        self._pages: dict[str, list[pa.Buffer]] = {USAGE_REPORT: [], COST_PROFILE: []}
        self._counts = {USAGE_REPORT: 0, COST_PROFILE: 0}
        self._spans: list[tuple[datetime, datetime]] = []  # per page: earliest start, latest end
        self._far_months: set[str] = set()
        self._too_long = 0
        self._profiles: list[tuple[str, str, int]] = []  # namespace, name, row among profiles

    def restart(self, kind: str) -> None:
        """Forget the pages of `kind`: its listing starts over."""
        if kind == USAGE_REPORT:
            self._spans, self._far_months, self._too_long = [], set(), 0
        else:
            self._profiles = []
        self._pages[kind] = []
        self._counts[kind] = 0

    def add(self, kind: str, objects: Sequence[Any]) -> None:
        """Add one page of objects of `kind` (UsageReport or CostProfile)."""
        if not objects:
            return
        kinds = [kind] * len(objects)
        entries = [index_entry(obj) for obj in objects]
        texts = object_texts(kinds, objects, entries)
        if kind == USAGE_REPORT:
            spans = report_spans(kinds, entries)
            if spans:
                self._spans.append((min(s for s, _ in spans), max(e for _, e in spans)))
            months, too_long = marker_months(self.captured_at, spans)
            self._far_months.update(months)
            self._too_long += too_long
        else:
            first = self._counts[COST_PROFILE]
            self._profiles += [
                (e.namespace, e.name, first + position)
                for position, e in enumerate(entries)
                if e.namespace is not None and e.name is not None
            ]
        batch = _record_batch(self.captured_at, kinds, entries, texts)
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, SCHEMA, options=options) as writer:
            writer.write_batch(batch)
        self._pages[kind].append(sink.getvalue())
        self._counts[kind] += len(objects)

    @property
    def usage_reports(self) -> int:
        return self._counts[USAGE_REPORT]

    @property
    def cost_profiles(self) -> int:
        return self._counts[COST_PROFILE]

    def marker_months(self) -> tuple[list[str], int]:
        """As `marker_months` of all the capture's report spans."""
        return sorted(self._far_months), self._too_long

    def encode(self) -> bytes:
        """The capture file: UsageReports first, then CostProfiles, one row group per page."""
        spans = self._spans
        header = _header_fields(
            self.source,
            self.captured_at,
            usage_reports=self.usage_reports,
            cost_profiles=self.cost_profiles,
            spans=(min(s for s, _ in spans), max(e for _, e in spans)) if spans else None,
            cost_profile_rows=[
                (namespace, name, self.usage_reports + row)
                for namespace, name, row in self._profiles
            ],
        )
        pages = [*self._pages[USAGE_REPORT], *self._pages[COST_PROFILE]]
        return _parquet_bytes(header, (_read_page(page) for page in pages))


def _read_page(page: pa.Buffer) -> pa.RecordBatch:
    with pa.ipc.open_stream(page) as reader:
        return reader.read_next_batch()


def _header_fields(
    source: str,
    captured_at: datetime,
    *,
    usage_reports: int,
    cost_profiles: int,
    spans: tuple[datetime, datetime] | None,
    cost_profile_rows: Sequence[tuple[str | None, str | None, int]],
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "source": source,
        "captured_at": captured_at.isoformat(),
        "usage_reports": usage_reports,
        "cost_profiles": cost_profiles,
        "earliest_start": spans[0].isoformat() if spans else None,
        "latest_end": spans[1].isoformat() if spans else None,
        "cost_profile_rows": [list(row) for row in cost_profile_rows],
    }


def _record_batch(
    captured_at: datetime,
    kinds: Sequence[str],
    entries: Sequence[IndexEntry],
    texts: Sequence[str],
) -> pa.RecordBatch:
    columns = [
        pa.array(kinds, pa.string()),
        pa.array([e.namespace for e in entries], pa.string()),
        pa.array([e.name for e in entries], pa.string()),
        pa.array([e.uid for e in entries], pa.string()),
        pa.array([e.period for e in entries], pa.string()),
        pa.array([e.period_start for e in entries], TIMESTAMP),
        pa.array([e.period_end for e in entries], TIMESTAMP),
        pa.array([e.last_updated for e in entries], TIMESTAMP),
        pa.array([captured_at] * len(kinds), TIMESTAMP),
        pa.array(texts, pa.string()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _parquet_bytes(header: dict[str, Any], batches: Iterable[pa.RecordBatch]) -> bytes:
    schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(header).encode()})
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(
        sink,
        schema,
        compression="zstd",
        use_dictionary=INDEX_COLUMNS,
        write_statistics=INDEX_COLUMNS,
    ) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def read_index(
    storage: Storage, capture: CaptureFile, columns: list[str], start: datetime, end: datetime
) -> tuple[CaptureHeader, pa.Table | None]:
    """The header of a capture file, and the given index columns if it may hold `[start, end)`."""
    where = _where(storage, capture)
    try:
        with storage.open(capture.path) as file:
            parquet = pq.ParquetFile(file)
            header = _header(parquet, where)
            if not header.may_hold(start, end):
                return header, None
            return header, parquet.read(columns=columns, use_threads=False)
    except CaptureStoreError:
        raise
    except Exception as error:
        raise _unreadable(where, error, capture) from error


def read_objects(
    storage: Storage, capture: CaptureFile, rows: Sequence[int]
) -> list[tuple[str | None, str | None, datetime | None, Any]]:
    """`(namespace, name, period_start, object)` of the given rows, objects decoded exactly."""
    where = _where(storage, capture)
    try:
        with storage.open(capture.path) as file:
            columns = ["namespace", "name", "period_start", "object"]
            table = pq.ParquetFile(file).read(columns=columns, use_threads=False)
        picked = table.take(pa.array(rows, pa.int64())).to_pydict()
        objects = [loads_exact(text) for text in picked["object"]]
    except Exception as error:
        raise _unreadable(where, error, capture) from error
    fields = (picked["namespace"], picked["name"], picked["period_start"], objects)
    return list(zip(*fields, strict=True))


def _header(parquet: pq.ParquetFile, where: str) -> CaptureHeader:
    metadata = parquet.schema_arrow.metadata or {}
    if METADATA_KEY not in metadata or parquet.schema_arrow.remove_metadata() != SCHEMA:
        raise CaptureStoreError(
            f"The file {where} is in the capture folders but is not a capture file of this "
            "version; move it out of the capture store."
        )
    fields = json.loads(metadata[METADATA_KEY])
    if fields.get("format") != FORMAT_VERSION:
        raise CaptureStoreError(
            f"The capture file {where} has format {fields.get('format')!r}, and this version "
            f"reads format {FORMAT_VERSION} only; upgrade infercost-focus to read it."
        )
    return CaptureHeader(
        captured_at=datetime.fromisoformat(fields["captured_at"]),
        source=str(fields["source"]),
        usage_reports=int(fields["usage_reports"]),
        cost_profiles=int(fields["cost_profiles"]),
        earliest_start=_instant_or_none(fields["earliest_start"]),
        latest_end=_instant_or_none(fields["latest_end"]),
        cost_profile_rows={
            (str(namespace), str(name)): int(row)
            for namespace, name, row in fields["cost_profile_rows"]
        },
    )


def _where(storage: Storage, capture: CaptureFile) -> str:
    """The capture file's full path for messages, with the marker that led to it if any."""
    where = storage.describe(capture.path)
    if capture.marker is not None:
        where += f" (named by the late-capture marker {storage.describe(capture.marker)})"
    return where


def _unreadable(where: str, error: Exception, capture: CaptureFile) -> CaptureStoreError:
    fix = (
        "If it is damaged, move it out of the capture store"
        if capture.marker is None
        else "If it is damaged or gone, move it and its marker out of the capture store"
    )
    return CaptureStoreError(
        f"Cannot read the capture file {where} ({type(error).__name__}: {error}). {fix}; "
        "the other captures stay readable."
    )


def _instant_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return _escape_surrogates(value) if isinstance(value, str) and value else None


def _escape_surrogates(text: str) -> str:
    return _SURROGATE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
