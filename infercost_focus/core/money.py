"""Exact money arithmetic on whole columns.

Amounts are held as whole numbers of `10**-scale` USD ("units") in numpy object arrays of Python
ints: exact at any size, and numpy applies `+ - * //` element-wise without a Python loop in this
code. Derived amounts (a row's share of a report's cloud cost, the two halves of a charge split at
a month boundary) are allocated by the largest-remainder method, so the parts always add up to the
whole exactly.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Units = npt.NDArray[np.object_]

# Derived shares are exact to at least 10 decimal places of a dollar (and to more when the
# source amounts have more): far below a cent, and small enough to keep every figure readable.
MIN_DERIVED_SCALE = 10


def decimal_places(value: Decimal) -> int:
    """How many digits after the decimal point `value` needs (0 for whole numbers)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals only reach here
    return max(0, -exponent)


def to_units(values: list[Decimal], scale: int) -> Units:
    """Decimals as whole units of `10**-scale`; each value must have at most `scale` places."""
    return np.array([int(value.scaleb(scale)) for value in values] or [], dtype=object)


def object_ints(values: object) -> Units:
    """Any integer sequence as an object array of Python ints (no overflow in later products)."""
    return np.asarray(pd.Series(values, dtype=object).map(int).to_numpy(), dtype=object)


def allocate(totals: Units, weights: Units, groups: npt.NDArray[np.int64], quanta: Units) -> Units:
    """Split each group's total over its rows in proportion to the rows' weights.

    `totals`, `quanta` are per row but constant within a group; a group's total must be a whole
    multiple of its quantum. Each row gets a whole number of quanta; the quanta left over after
    flooring go to the rows with the largest remainders (earlier rows first on ties), so the parts
    sum to the total exactly. A group whose weights are all zero is split equally.
    """
    if len(totals) == 0:
        return np.array([], dtype=object)
    frame = pd.DataFrame(
        {"group": groups, "weight": weights, "position": np.arange(len(groups))},
    )
    frame["weight"] = frame["weight"].astype(object)

    # Groups with no weight at all are split equally.
    group_weight = frame.groupby("group")["weight"].transform("sum").to_numpy(dtype=object)
    weightless = group_weight == 0
    if weightless.any():
        frame.loc[weightless, "weight"] = 1
        group_weight = frame.groupby("group")["weight"].transform("sum").to_numpy(dtype=object)

    # Whole quanta per row, then the leftovers by largest remainder.
    whole = totals // quanta
    product = whole * frame["weight"].to_numpy(dtype=object)
    floor = product // group_weight
    remainder = product - floor * group_weight
    frame["floor"] = floor
    leftover = whole - frame.groupby("group")["floor"].transform("sum").to_numpy(dtype=object)
    frame["remainder"] = -remainder
    ranked = frame.sort_values(["group", "remainder", "position"], kind="stable")
    rank = np.empty(len(frame), dtype=np.int64)
    rank[ranked.index.to_numpy()] = ranked.groupby("group").cumcount().to_numpy()
    extra = (rank < leftover.astype(np.int64)).astype(np.int64).astype(object)
    result: Units = (floor + extra) * quanta
    return result


def round_half_even_div(numerators: Units, denominators: Units) -> Units:
    """`numerators / denominators` rounded to a whole number, ties to even (denominators > 0)."""
    quotient = numerators // denominators
    twice_remainder = 2 * (numerators - quotient * denominators)
    odd = np.array([bool(q % 2) for q in quotient], dtype=bool) if len(quotient) else quotient
    round_up = (twice_remainder > denominators) | ((twice_remainder == denominators) & odd)
    result: Units = quotient + round_up.astype(np.int64).astype(object)
    return result


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
    negative = pa.array(units < 0)
    magnitude = pa.array([str(abs(value)) for value in units], type=pa.string())
    if scale > 0:
        padded = pc.utf8_lpad(magnitude, width=scale + 1, padding="0")
        whole = pc.utf8_slice_codeunits(padded, 0, -scale)
        fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -scale), characters="0")
    else:
        whole = magnitude
        fraction = pa.array([""] * len(units), type=pa.string())
    if min_places:
        fraction = pc.utf8_rpad(fraction, width=min_places, padding="0")
    with_point = pc.binary_join_element_wise(whole, fraction, ".")
    text = pc.if_else(pc.equal(pc.utf8_length(fraction), 0), whole, with_point)
    # A negative amount is never zero (units are whole numbers), so "-0" cannot arise.
    signed = pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)
    if valid is not None:
        signed = pc.if_else(pa.array(valid), signed, pa.scalar(None, pa.string()))
    return signed
