"""Reading UsageReport and CostProfile objects (plain dicts, as the Kubernetes API returns them).

Every malformed object is rejected on its own with a `RejectedObject` naming `namespace/name` and
the dotted path of the field; the caller collects rejects and carries on with the other objects.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from infercost_focus.core.resources import (
    COST_PROFILE,
    USAGE_REPORT,
    CloudComparison,
    CostProfile,
    ModelUsage,
    UsageReport,
)
from infercost_focus.errors import RejectedObject

logger = logging.getLogger(__name__)

# RFC 3339 as Kubernetes writes it: a date, a time, optional fraction, `Z` or an offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)
_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
# Python refuses to print integers of more than 4300 digits; with at most this many digits per
# figure, every derived one (units at the finest scale, unit prices, percentages) stays far below.
# No real token count or dollar amount comes near it.
MAX_DIGITS = 100
_COUNT_LIMIT = 10**MAX_DIGITS
# pandas and many finance tools hold a column of counts with gaps as binary floats: exact to 2**53.
MAX_GPU_COUNT = 2**53
# The last instant whose billing month has a representable end (9999-12 would end in year 10000).
_LATEST_TIME = datetime(9999, 12, 1, tzinfo=UTC)


@dataclass
class ParsedObjects:
    """The outcome of reading a batch of objects: what can be exported and what was set aside."""

    usage_reports: list[UsageReport] = field(default_factory=list)
    cost_profiles: list[CostProfile] = field(default_factory=list)
    rejects: list[RejectedObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Reader:
    """Reads typed fields of one object, raising `RejectedObject` that names the field."""

    def __init__(self, kind: str, ref: str) -> None:
        self.kind = kind
        self.ref = ref

    def reject(self, path: str, problem: str) -> RejectedObject:
        return RejectedObject(self.kind, self.ref, path, problem)

    def mapping(self, value: Any, path: str, *, required: bool = False) -> Mapping[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.reject(path, f"expected an object, got {_describe(value)}")
        return value

    def text(self, value: Any, path: str, *, required: bool = False) -> str | None:
        if value is None or (value == "" and not required):
            if required:
                raise self.reject(path, "is missing")
            return None
        if not isinstance(value, str):
            raise self.reject(path, f"expected a string, got {_describe(value)}")
        if required and not value:
            raise self.reject(path, "is empty")
        return self.unicode(value, path)

    def unicode(self, value: str, path: str) -> str:
        """`value` if it can be written as UTF-8 (a lone surrogate from a `\\ud800` escape
        cannot)."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise self.reject(
                path, f"holds {value[error.start]!r}, which is not a character (invalid Unicode)"
            ) from None
        return value

    def count(self, value: Any, path: str) -> int:
        """A token count: a whole number, zero or more; absent means zero."""
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.reject(path, f"expected a whole number of tokens, got {_describe(value)}")
        if abs(value) >= 10**MAX_DIGITS:
            raise self.reject(
                path, f"must have at most {MAX_DIGITS} digits, got {_describe(value)}"
            )
        if value < 0:
            raise self.reject(path, f"must not be negative, got {value}")
        return value

    def amount(self, value: Any, path: str, *, signed: bool = False) -> Decimal:
        """A decimal amount: a JSON number or a plain decimal string; absent means zero."""
        if value is None:
            return Decimal(0)
        number = self._decimal(value, path)
        whole_digits = max(0, number.adjusted() + 1)
        places = max(0, -number.normalize().as_tuple().exponent)  # type: ignore[operator]
        if whole_digits > MAX_DIGITS or places > MAX_DIGITS:
            raise self.reject(
                path,
                f"must have at most {MAX_DIGITS} digits before and {MAX_DIGITS} after the "
                f"decimal point, got {_describe(number)}",
            )
        if not signed and number < 0:
            raise self.reject(path, f"must not be negative, got {_decimal_repr(number)}")
        return number

    def optional_amount(self, value: Any, path: str) -> Decimal | None:
        return None if value is None else self.amount(value, path)

    def _decimal(self, value: Any, path: str) -> Decimal:
        if isinstance(value, bool):
            raise self.reject(path, f"expected a number, got {_describe(value)}")
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.reject(path, f"must be a finite number, got {value!r}")
            # repr() is the shortest text that reads back as the same float: the source's text.
            return Decimal(repr(value))
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise self.reject(path, f"must be a finite number, got {str(value)!r}")
            return value
        if isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
            try:
                return Decimal(value.strip())
            except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
                pass
        raise self.reject(path, f"expected a number, got {_describe(value)}")

    def time(self, value: Any, path: str, *, required: bool = False) -> datetime | None:
        if value is None or value == "":
            if required:
                raise self.reject(path, "is missing")
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str) and _RFC3339.match(value):
            try:
                moment = datetime.fromisoformat(value.upper().replace(" ", "T"))
            except ValueError as error:
                raise self.reject(path, f"is not a valid time: {value!r} ({error})") from error
        else:
            raise self.reject(
                path,
                f"expected an RFC 3339 time such as '2026-04-01T00:00:00Z', got {_describe(value)}",
            )
        if moment.tzinfo is None:
            raise self.reject(path, f"has no time zone: {value!r}")
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise self.reject(path, f"is out of range in UTC: {value!r}") from None
        if moment > _LATEST_TIME:
            raise self.reject(path, f"must not be after 9999-12-01T00:00:00Z, got {value!r}")
        return moment

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.reject(path, f"expected a list, got {_describe(value)}")
        return value


def object_ref(obj: Any) -> str:
    """`namespace/name` of an object, as far as it can be read."""
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(metadata, Mapping):
        return "<object without metadata>"
    namespace = metadata.get("namespace")
    name = metadata.get("name")
    namespace_text = namespace if isinstance(namespace, str) and namespace else "<no namespace>"
    name_text = name if isinstance(name, str) and name else "<no name>"
    return f"{namespace_text}/{name_text}"


def parse_usage_report(obj: Mapping[str, Any]) -> UsageReport | None:
    """A UsageReport, or None when it has not been reconciled yet (no status or no period)."""
    read = _Reader(USAGE_REPORT, object_ref(obj))

    # Identity and spec.
    metadata = read.mapping(obj.get("metadata"), "metadata", required=True)
    namespace = read.text(metadata.get("namespace"), "metadata.namespace", required=True)
    name = read.text(metadata.get("name"), "metadata.name", required=True)
    uid = read.text(metadata.get("uid"), "metadata.uid") or ""
    labels = _labels(read, metadata.get("labels"))
    spec = read.mapping(obj.get("spec"), "spec")
    cost_profile_ref = read.text(spec.get("costProfileRef"), "spec.costProfileRef")
    schedule = read.text(spec.get("schedule"), "spec.schedule")

    # A report that was never reconciled has no charge yet.
    status = read.mapping(obj.get("status"), "status")
    period = read.text(status.get("period"), "status.period")
    if period is None:
        return None

    # The period and its totals.
    period_start = read.time(status.get("periodStart"), "status.periodStart", required=True)
    period_end = read.time(status.get("periodEnd"), "status.periodEnd", required=True)
    assert period_start is not None and period_end is not None  # required=True guarantees it
    if period_end < period_start:
        raise read.reject(
            "status.periodEnd",
            f"{status.get('periodEnd')!r} is before status.periodStart "
            f"{status.get('periodStart')!r}",
        )
    assert namespace is not None and name is not None  # required=True guarantees it
    by_model = tuple(
        _model_usage(read, entry, index, namespace)
        for index, entry in enumerate(read.items(status.get("byModel"), "status.byModel"))
    )
    cloud_comparison = tuple(
        _cloud_comparison(read, entry, index)
        for index, entry in enumerate(
            read.items(status.get("cloudComparison"), "status.cloudComparison")
        )
    )
    cost = read.amount(status.get("estimatedCostUSD"), "status.estimatedCostUSD")
    with localcontext() as exact:
        # Amounts have at most MAX_DIGITS digits either side of the point: this sum is exact.
        exact.prec = 3 * MAX_DIGITS
        covered = sum((entry.cost for entry in by_model), Decimal(0))
    if covered > cost:
        raise read.reject(
            "status.byModel",
            f"its entries add up to {_decimal_repr(covered)} USD, more than "
            f"status.estimatedCostUSD {_decimal_repr(cost)}; the report contradicts itself",
        )
    return UsageReport(
        namespace=namespace,
        name=name,
        uid=uid,
        cost_profile_ref=cost_profile_ref,
        schedule=schedule,
        period=period,
        period_start=period_start,
        period_end=period_end,
        input_tokens=read.count(status.get("inputTokens"), "status.inputTokens"),
        output_tokens=read.count(status.get("outputTokens"), "status.outputTokens"),
        cost=cost,
        by_model=by_model,
        cloud_comparison=cloud_comparison,
        last_updated=read.time(status.get("lastUpdated"), "status.lastUpdated"),
        labels=labels,
    )


def parse_cost_profile(obj: Mapping[str, Any]) -> CostProfile:
    read = _Reader(COST_PROFILE, object_ref(obj))
    metadata = read.mapping(obj.get("metadata"), "metadata", required=True)
    namespace = read.text(metadata.get("namespace"), "metadata.namespace", required=True)
    name = read.text(metadata.get("name"), "metadata.name", required=True)
    spec = read.mapping(obj.get("spec"), "spec")
    hardware = read.mapping(spec.get("hardware"), "spec.hardware")
    electricity = read.mapping(spec.get("electricity"), "spec.electricity")
    gpu_count = hardware.get("gpuCount")
    if gpu_count is not None:
        gpu_count = read.count(gpu_count, "spec.hardware.gpuCount")
        if gpu_count > MAX_GPU_COUNT:
            raise read.reject(
                "spec.hardware.gpuCount", f"must be at most 2**53, got {_describe(gpu_count)}"
            )
    assert namespace is not None and name is not None  # required=True guarantees it
    return CostProfile(
        namespace=namespace,
        name=name,
        gpu_model=read.text(hardware.get("gpuModel"), "spec.hardware.gpuModel"),
        gpu_count=gpu_count,
        purchase_price=read.optional_amount(
            hardware.get("purchasePriceUSD"), "spec.hardware.purchasePriceUSD"
        ),
        amortization_years=read.optional_amount(
            hardware.get("amortizationYears"), "spec.hardware.amortizationYears"
        ),
        rate_per_kwh=read.optional_amount(
            electricity.get("ratePerKWh"), "spec.electricity.ratePerKWh"
        ),
        pue_factor=read.optional_amount(electricity.get("pueFactor"), "spec.electricity.pueFactor"),
    )


def parse_objects(objects: Iterable[Any]) -> ParsedObjects:
    """Sort a batch of objects into UsageReports, CostProfiles, rejects and warnings.

    Objects of other kinds are ignored.
    """
    parsed = ParsedObjects()
    for obj in objects:
        if not isinstance(obj, Mapping):
            parsed.rejects.append(
                RejectedObject("object", "<not an object>", "(root)", f"got {_describe(obj)}")
            )
            continue
        kind = obj.get("kind")
        try:
            if kind == COST_PROFILE:
                parsed.cost_profiles.append(parse_cost_profile(obj))
            elif kind == USAGE_REPORT:
                report = parse_usage_report(obj)
                if report is None:
                    message = (
                        f"UsageReport {object_ref(obj)} has no status.period yet (never "
                        "reconciled): it has no charge to export"
                    )
                    logger.warning(message)
                    parsed.warnings.append(message)
                else:
                    parsed.usage_reports.append(report)
        except RejectedObject as reject:
            logger.warning("rejected %s", reject)
            parsed.rejects.append(reject)
    parsed.usage_reports = _latest_states(parsed.usage_reports, parsed.warnings)
    return parsed


def _latest_states(reports: list[UsageReport], warnings: list[str]) -> list[UsageReport]:
    """One state per (uid, period): the same report given twice (two dumps, say) counts once.

    The state with the latest `status.lastUpdated` wins, the later one in the batch on a tie, as
    in the capture store. Reports without uid are told apart by `namespace/name`.
    """
    chosen: dict[tuple[str, str], tuple[int, UsageReport]] = {}
    for position, report in enumerate(reports):
        key = (report.uid or f"\0{report.ref}", report.period)
        if key in chosen:
            _, kept = chosen[key]
            later = (report.last_updated or _NEVER) >= (kept.last_updated or _NEVER)
            newest = report if later else kept
            message = (
                f"UsageReport {report.ref} period {report.period} appears more than once in the "
                f"input (uid {report.uid!r}); only the state last updated "
                f"{_when(newest.last_updated)} is exported"
            )
            logger.warning(message)
            warnings.append(message)
            if newest is kept:
                continue
        chosen[key] = (position, report)
    return [report for _, report in sorted(chosen.values(), key=lambda item: item[0])]


_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def _when(moment: datetime | None) -> str:
    return "(never)" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _model_usage(read: _Reader, value: Any, index: int, report_namespace: str) -> ModelUsage:
    """One `status.byModel[index]` entry.

    The usual entry (ASCII names, whole token counts, a plain decimal cost) is checked in one
    expression; anything else takes the field-by-field path, which names what is wrong.
    """
    if type(value) is dict:
        model = value.get("model")
        namespace = value.get("namespace")
        input_tokens = value.get("inputTokens", 0)
        output_tokens = value.get("outputTokens", 0)
        cost = value.get("estimatedCostUSD")
        if (
            type(model) is str
            and model
            and model.isascii()
            and (namespace is None or (type(namespace) is str and namespace.isascii()))
            and type(input_tokens) is int
            and 0 <= input_tokens < _COUNT_LIMIT
            and type(output_tokens) is int
            and 0 <= output_tokens < _COUNT_LIMIT
            and type(cost) is Decimal
            and _plain_amount(cost)
        ):
            return ModelUsage(
                model, namespace or report_namespace, input_tokens, output_tokens, cost
            )
    return _checked_model_usage(read, value, f"status.byModel[{index}]", report_namespace)


def _checked_model_usage(read: _Reader, value: Any, path: str, report_namespace: str) -> ModelUsage:
    entry = read.mapping(value, path, required=True)
    model = read.text(entry.get("model"), f"{path}.model", required=True)
    assert model is not None  # required=True guarantees it
    return ModelUsage(
        model=model,
        namespace=read.text(entry.get("namespace"), f"{path}.namespace") or report_namespace,
        input_tokens=read.count(entry.get("inputTokens"), f"{path}.inputTokens"),
        output_tokens=read.count(entry.get("outputTokens"), f"{path}.outputTokens"),
        cost=read.amount(entry.get("estimatedCostUSD"), f"{path}.estimatedCostUSD"),
    )


def _cloud_comparison(read: _Reader, value: Any, index: int) -> CloudComparison:
    """One `status.cloudComparison[index]` entry; the usual one is checked in one expression."""
    if type(value) is dict:
        provider = value.get("provider")
        model = value.get("model")
        cloud_cost = value.get("estimatedCloudCostUSD")
        savings = value.get("savingsUSD")
        if (
            (provider is None or (type(provider) is str and provider and provider.isascii()))
            and (model is None or (type(model) is str and model and model.isascii()))
            and type(cloud_cost) is Decimal
            and _plain_amount(cloud_cost)
            and type(savings) is Decimal
            and _plain_amount(savings.copy_abs())
        ):
            return CloudComparison(provider, model, cloud_cost, savings)
    return _checked_cloud_comparison(read, value, f"status.cloudComparison[{index}]")


def _checked_cloud_comparison(read: _Reader, value: Any, path: str) -> CloudComparison:
    entry = read.mapping(value, path, required=True)
    return CloudComparison(
        provider=read.text(entry.get("provider"), f"{path}.provider"),
        model=read.text(entry.get("model"), f"{path}.model"),
        cloud_cost=read.amount(entry.get("estimatedCloudCostUSD"), f"{path}.estimatedCloudCostUSD"),
        savings=read.amount(entry.get("savingsUSD"), f"{path}.savingsUSD", signed=True),
    )


def _plain_amount(number: Decimal) -> bool:
    """Whether `_Reader.amount` would take `number` as it is (finite, not negative, not too long).

    Conservative: a few acceptable numbers (trailing zeros past the limit) answer False and are
    read the careful way.
    """
    return (
        number.is_finite()
        and number >= 0
        and number.adjusted() < MAX_DIGITS
        and number.as_tuple().exponent >= -MAX_DIGITS  # type: ignore[operator]
    )


def _labels(read: _Reader, value: Any) -> dict[str, str]:
    labels = read.mapping(value, "metadata.labels")
    for key, label in labels.items():
        if not isinstance(key, str):
            raise read.reject("metadata.labels", f"a key must be a string, got {_describe(key)}")
        read.unicode(key, "metadata.labels")
        if not isinstance(label, str):
            raise read.reject(
                f"metadata.labels.{key}", f"expected a string, got {_describe(label)}"
            )
        read.unicode(label, f"metadata.labels.{key}")
    return dict(labels)


def _describe(value: Any) -> str:
    """A short description of an unexpected value for an error message."""
    if isinstance(value, int) and value.bit_length() > 256:
        # NB: repr() refuses integers of more than 4300 digits; a size is all a reader needs.
        return f"{type(value).__name__} of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > 60:
        return f"Decimal with exponent {value.adjusted()}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _decimal_repr(value: Decimal) -> str:
    return format(value, "f")
