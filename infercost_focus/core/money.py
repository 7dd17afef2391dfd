"""Exact money arithmetic on whole columns.

Amounts are held as whole numbers of `10**-scale` USD ("units"). A column of units is a numpy
array of int64 when every value is far from int64's limits (below `2**62` in magnitude, so one sum
or difference cannot overflow), and of Python ints (object) otherwise: exact at any size either
way. Products, which can outgrow int64 (a cost in units times a token count), are always computed
on Python ints; `compact` brings results back to int64 where they fit.

Derived amounts (a row's share of a report's cloud cost, the two halves of a charge split at a
month boundary) are allocated by the largest-remainder method, so the parts always add up to the
whole exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Units = npt.NDArray[np.int64] | npt.NDArray[np.object_]

# Derived shares are exact to at least 10 decimal places of a dollar (and to more when the
# source amounts have more): far below a cent, and small enough to keep every figure readable.
MIN_DERIVED_SCALE = 10

# Values below this in magnitude are kept as int64: adding or subtracting two cannot overflow.
_INT64_SAFE = 2**62
# Decimal text is read by Arrow into 128-bit decimals of this precision, up to this scale.
_ARROW_PRECISION = 38
_ARROW_MAX_SCALE = 18


def decimal_places(value: Decimal) -> int:
    """How many digits after the decimal point `value` needs (0 for whole numbers)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals only reach here
    return max(0, -exponent)


def scaled_units(values: Sequence[Decimal], scale: int) -> tuple[Units, npt.NDArray[np.bool_]]:
    """Each value in whole units of `10**-scale`, and whether it is one (no places beyond scale).

    An inexact value's units are its truncation and must not be used.
    """
    fast = _scaled_by_arrow(values, scale)
    if fast is not None:
        return fast, np.ones(len(values), dtype=bool)

    # From the exact ratio of each decimal, so that no decimal context rounds a digit away.
    factor = 10**scale
    units: list[int] = []
    exact: list[bool] = []
    for value in values:
        numerator, denominator = value.as_integer_ratio()
        multiple, rest = divmod(factor, denominator)
        units.append(numerator * multiple)
        exact.append(not rest)
    return exact_ints(units), np.array(exact, dtype=bool)


def _scaled_by_arrow(values: Sequence[Decimal], scale: int) -> Units | None:
    """The units when Arrow can read every value exactly at `scale` into int64, else None.

    Arrow parses each decimal's text exactly and refuses a rescale that would drop a digit.
    """
    if not values or scale > _ARROW_MAX_SCALE:
        return None
    try:
        parsed = pa.array(list(map(str, values)), type=pa.string()).cast(
            pa.decimal128(_ARROW_PRECISION, scale)
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.null_count:
        return None
    words = np.frombuffer(parsed.buffers()[1], dtype=np.int64)
    words = words[2 * parsed.offset : 2 * (parsed.offset + len(parsed))]
    low, high = words[0::2], words[1::2]
    if not ((high == (low >> 63)) & (low > -_INT64_SAFE) & (low < _INT64_SAFE)).all():
        return None  # a value needs more than 62 bits: Python ints take over
    return low.copy()


def multiply(left: Units, right: Units) -> Units:
    """`left * right`, exact: on int64 when the product cannot overflow, else on Python ints."""
    if (
        left.dtype == np.int64
        and right.dtype == np.int64
        and len(left)
        and int(np.abs(left).max()) * int(np.abs(right).max()) < _INT64_SAFE
    ):
        return left * right
    return compact(as_objects(left) * as_objects(right))


def to_units(values: Sequence[Decimal], scale: int) -> Units:
    """Decimals as whole units of `10**-scale`; each value must have at most `scale` places."""
    units, exact = scaled_units(values, scale)
    if not exact.all():
        raise ValueError(f"an amount has more than {scale} decimal places")
    return units


def exact_ints(values: Sequence[int] | npt.NDArray[np.object_]) -> Units:
    """Whole numbers of any size as a units column (int64 where every value is safely small)."""
    objects = np.fromiter(values, dtype=object, count=len(values))
    return compact(objects)


def compact(values: Units) -> Units:
    """`values` as int64 when every value is below `2**62` in magnitude, else as Python ints."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        narrow = values.astype(np.int64, copy=False)
    except OverflowError:
        return values
    if narrow.min() <= -_INT64_SAFE or narrow.max() >= _INT64_SAFE:
        return as_objects(values)
    return narrow


def as_objects(values: Units) -> npt.NDArray[np.object_]:
    """Python ints for arithmetic that may outgrow int64 (products, long sums)."""
    if values.dtype == np.object_:
        return values  # type: ignore[return-value]
    return values.astype(object)


def add(left: Units, right: Units) -> Units:
    """`left + right`, exact (both operands of a safe int64 column cannot overflow)."""
    if left.dtype == np.int64 and right.dtype == np.int64:
        return compact(left + right)
    return compact(as_objects(left) + as_objects(right))


def subtract(left: Units, right: Units) -> Units:
    """`left - right`, exact."""
    if left.dtype == np.int64 and right.dtype == np.int64:
        return compact(left - right)
    return compact(as_objects(left) - as_objects(right))


def segment_sums(values: Units, lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """Sums of consecutive runs of `values` (`lengths` of them, empty runs sum to 0), as ints."""
    if values.dtype == np.int64 and (
        len(values) == 0 or int(np.abs(values).max()) * len(values) < _INT64_SAFE
    ):
        running: Units = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(values)])
    else:
        running = np.concatenate([[0], np.cumsum(as_objects(values))]).astype(object)
    ends = np.cumsum(lengths)
    return as_objects(running[ends] - running[ends - lengths])


def allocate(totals: Units, weights: Units, groups: npt.NDArray[np.int64], quanta: Units) -> Units:
    """Split each group's total over its rows in proportion to the rows' weights.

    `totals`, `quanta` are per row but constant within a group; a group's total must be a whole
    multiple of its quantum. Each row gets a whole number of quanta; the quanta left over after
    flooring go to the rows with the largest remainders (earlier rows first on ties), so the parts
    sum to the total exactly. A group whose weights are all zero is split equally.
    """
    count = len(totals)
    if count == 0:
        return np.array([], dtype=np.int64)
    if count > 1 and bool((groups[1:] < groups[:-1]).any()):
        # Rows of a group must be next to each other below: sort them so, and back afterwards.
        order = np.argsort(groups, kind="stable")
        parts = allocate(totals[order], weights[order], groups[order], quanta[order])
        result = np.empty_like(parts)
        result[order] = parts
        return result

    # Each group's first row, size, whole quanta and weight.
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    sizes = np.diff(np.append(starts, count))
    quantum = compact(quanta[starts])
    whole = compact(as_objects(totals[starts]) // as_objects(quantum))
    weight = compact(weights)
    group_weight = compact(segment_sums(weight, sizes))

    # Groups with no weight at all are split equally.
    weightless = group_weight == 0
    if weightless.any():
        weight = compact(np.where(np.repeat(weightless, sizes), 1, weight))
        group_weight = compact(np.where(weightless, sizes, group_weight))

    # Whole quanta per row, then the leftovers by largest remainder.
    floor, remainder = floor_div_product(
        _per_row(whole, sizes), weight, _per_row(group_weight, sizes)
    )
    leftover = subtract(whole, compact(segment_sums(floor, sizes)))
    rank = _rank_within_groups(remainder, starts, sizes, group_weight)
    extra = (rank < np.repeat(leftover.astype(np.int64), sizes)).astype(np.int64)
    parts = add(floor, extra)
    if bool((quantum != 1).any()):
        parts = multiply(parts, _per_row(quantum, sizes))
    return compact(parts)


def _per_row(values: Units, sizes: npt.NDArray[np.int64]) -> Units:
    """A value per group repeated over the group's rows."""
    return np.repeat(values, sizes)  # type: ignore[return-value]  # keeps the dtype


def _rank_within_groups(
    remainder: Units,
    starts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    group_weight: Units,
) -> npt.NDArray[np.int64]:
    """Each row's place in its group by descending remainder, earlier rows first on ties."""
    group = np.repeat(np.arange(len(starts)), sizes)
    position = np.arange(len(remainder))
    rank = np.empty(len(remainder), dtype=np.int64)
    first_of_group = np.repeat(starts, sizes)
    largest_weight = int(group_weight.max())
    if largest_weight * len(starts) < 2**62:
        # One key per row, group first and then the remainder, descending: a stable sort of it
        # keeps earlier rows first on ties (remainders are below their group's weight).
        key = group * largest_weight + (largest_weight - 1 - remainder.astype(np.int64))
        order = np.argsort(key, kind="stable")
        rank[order] = position - first_of_group
        return rank
    if largest_weight < 2**63:
        # Remainders are below their group's weight, so they fit int64 here.
        order = np.lexsort((position, -remainder.astype(np.int64), group))
        rank[order] = position - first_of_group
        return rank
    order = np.array(sorted(position, key=lambda row: (group[row], -remainder[row], row)))
    rank[order] = position - first_of_group
    return rank


def divide_product_half_even(factor: Units, multiplier: int, denominators: Units) -> Units:
    """`factor * multiplier / denominators` rounded to a whole number, ties to even.

    Denominators are above zero and the multiplier zero or more. The product is never formed
    where it would outgrow int64 (see `floor_div_product`).
    """
    multipliers = np.full(len(factor), multiplier, dtype=np.int64 if multiplier < 2**62 else object)
    quotient, remainder = floor_div_product(factor, multipliers, denominators)
    return _rounded_half_even(quotient, remainder, denominators)


def _rounded_half_even(quotient: Units, remainder: Units, denominators: Units) -> Units:
    """The quotient, rounded up where the remainder is above half, or half and it is odd."""
    if all(column.dtype == np.int64 for column in (quotient, remainder, denominators)):
        # Remainders are below their denominators: `d - r` cannot overflow where `2 * r` could.
        above_half, half = (
            remainder > denominators - remainder,
            remainder == denominators - remainder,
        )
        round_up = above_half | (half & (quotient % 2 == 1))
        return add(quotient, round_up.astype(np.int64))
    quotient, remainder = as_objects(quotient), as_objects(remainder)
    denominators = as_objects(denominators)
    twice_remainder = 2 * remainder
    odd = (quotient % 2).astype(bool)
    round_up = (twice_remainder > denominators) | ((twice_remainder == denominators) & odd)
    return compact(quotient + round_up.astype(np.int64).astype(object))


# Below this, a whole number is exact as a binary float (with room for the estimate below).
_FLOAT_EXACT = 2**52


def floor_div_product(factor: Units, multiplier: Units, denominator: Units) -> tuple[Units, Units]:
    """`floor(factor * multiplier / denominator)` and the remainder, exact, element by element.

    Denominators are above zero and multipliers zero or more. On int64 columns that keep every
    intermediate below `2**62` the work stays on int64: with `factor = q * d + r` (0 <= r < d),
    the quotient is `q * m + floor(r * m / d)`. The second term is estimated in binary floating
    point, which is exact to within 2 here because r, m and d are below `2**52`, and then
    corrected with the remainder `r * m - estimate * d`: its true value is below `2**55` in
    magnitude, so numpy's wrapping int64 arithmetic gives it exactly even when `r * m` itself
    overflows. Anything else is computed on Python ints.
    """
    if _fits_float_path(factor, multiplier, denominator):
        factor, multiplier = factor.astype(np.int64), multiplier.astype(np.int64)
        denominator = denominator.astype(np.int64)
        whole, rest = np.divmod(factor, denominator)
        estimate = np.floor(
            rest.astype(np.float64) * multiplier.astype(np.float64) / denominator
        ).astype(np.int64)
        with np.errstate(over="ignore"):
            remainder = rest * multiplier - estimate * denominator
        correction, remainder = np.divmod(remainder, denominator)
        return whole * multiplier + estimate + correction, remainder
    product = as_objects(factor) * as_objects(multiplier)
    denominator = as_objects(denominator)
    return compact(product // denominator), compact(product % denominator)


def _fits_float_path(factor: Units, multiplier: Units, denominator: Units) -> bool:
    if not len(factor) or not all(
        column.dtype == np.int64 for column in (factor, multiplier, denominator)
    ):
        return False
    largest_denominator = int(denominator.max())
    largest_multiplier = int(multiplier.max())
    if int(denominator.min()) <= 0 or int(multiplier.min()) < 0:
        return False
    if largest_denominator >= _FLOAT_EXACT or largest_multiplier >= _FLOAT_EXACT:
        return False
    # The whole part, q * m, must stay far from int64's limits as well.
    largest_whole = int(np.abs(factor).max()) // int(denominator.min()) + 1
    return largest_whole * largest_multiplier < _INT64_SAFE


def format_units(
    units: Units,
    scale: int,
    *,
    valid: npt.NDArray[np.bool_] | None = None,
    min_places: int = 0,
) -> pa.Array:
    """Units as plain decimal text: no exponent, no `+`, no trailing zeros (`12.5`, `-0.25`, `3`).

    `min_places` keeps at least that many digits after the point (`3.0` with 1). Rows where
    `valid` is False become null.
    """
    if len(units) == 0:
        return pa.array([], type=pa.string())
    if units.dtype == np.int64 and scale + min_places <= _ARROW_MAX_SCALE:
        text = _decimal_text(units.astype(np.int64), scale, min_places)
    else:
        text = _decimal_text_of_ints(units, scale, min_places)
    if valid is not None:
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))
    return text


def _decimal_text(units: npt.NDArray[np.int64], scale: int, min_places: int) -> pa.Array:
    """`format_units` of int64 units: the digits come from integer arithmetic, not text."""
    magnitude = np.abs(units)
    whole, fraction = np.divmod(magnitude, 10**scale)

    # Digits after the point: the fraction without its trailing zeros, at least min_places.
    trailing = np.zeros(len(units), dtype=np.int64)
    for places in range(1, scale):
        trailing += fraction % 10**places == 0
    digits = np.where(fraction == 0, 0, scale - trailing)
    significant = fraction // 10 ** (scale - digits)
    if min_places:
        significant = significant * 10 ** np.maximum(min_places - digits, 0)
        digits = np.maximum(digits, min_places)

    # The fraction's text with its leading zeros: the digits of 10**digits + significant less
    # the leading 1 (a single width needs no such detour).
    text = pa.array(whole).cast(pa.string())
    if digits.any():
        if (digits == digits[0]).all():
            fraction_text = pc.utf8_lpad(
                pa.array(significant).cast(pa.string()), width=int(digits[0]), padding="0"
            )
        else:
            padded = pa.array(significant + 10**digits).cast(pa.string())
            fraction_text = pc.utf8_slice_codeunits(padded, 1)
        with_point = pc.binary_join_element_wise(text, fraction_text, ".")
        text = with_point if digits.all() else pc.if_else(pa.array(digits > 0), with_point, text)
    # A negative amount is never zero (units are whole numbers), so "-0" cannot arise.
    negative = units < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def _decimal_text_of_ints(units: Units, scale: int, min_places: int) -> pa.Array:
    """`format_units` of Python ints of any size, through their decimal text."""
    negative = pa.array(units < 0)
    magnitude = pa.array([str(abs(value)) for value in units], type=pa.string())
    if scale > 0:
        padded = pc.utf8_lpad(magnitude, width=scale + 1, padding="0")
        whole = pc.utf8_slice_codeunits(padded, 0, -scale)
        fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -scale), characters="0")
    else:
        whole = magnitude
        fraction = pa.repeat(pa.scalar("", pa.string()), len(units))
    if min_places:
        fraction = pc.utf8_rpad(fraction, width=min_places, padding="0")
    with_point = pc.binary_join_element_wise(whole, fraction, ".")
    text = pc.if_else(pc.equal(pc.utf8_length(fraction), 0), whole, with_point)
    return pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)
