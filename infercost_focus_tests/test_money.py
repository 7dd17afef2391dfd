"""Exact column arithmetic: the int64 paths give what Python's unbounded ints give."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost_focus.core import money

MONEY = settings(max_examples=300, derandomize=True, deadline=None)

# Magnitudes on both sides of every limit the int64 paths watch: 2**52 and 2**62.
small = st.integers(min_value=0, max_value=2**20)
large = st.integers(min_value=0, max_value=2**70)
amounts = st.one_of(small, st.integers(min_value=0, max_value=2**55), large)
weights = st.one_of(small, st.integers(min_value=0, max_value=2**53))


def column(values: list[int]) -> money.Units:
    return money.exact_ints(values)


def half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        return quotient + 1
    return quotient


@MONEY
@given(
    st.lists(
        st.tuples(
            st.one_of(amounts, amounts.map(lambda value: -value)),
            weights,
            st.one_of(small, weights).map(lambda value: value + 1),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_floor_div_product_is_exact_on_int64_and_python_ints(
    triples: list[tuple[int, int, int]],
) -> None:
    factors, multipliers, denominators = (
        column(list(values)) for values in zip(*triples, strict=True)
    )

    quotient, remainder = money.floor_div_product(factors, multipliers, denominators)

    expected = [divmod(f * m, d) for f, m, d in triples]
    assert [int(value) for value in quotient] == [q for q, _ in expected]
    assert [int(value) for value in remainder] == [r for _, r in expected]


def test_floor_div_product_stays_on_int64_where_a_product_overflows_it() -> None:
    # 2**40 * 10**8 is far beyond int64; the quotient and the remainder are not.
    factors = np.array([2**40 + 12345, -(2**40) - 1, 7], dtype=np.int64)
    multipliers = np.full(3, 10**8, dtype=np.int64)
    denominators = np.array([2**41 - 1, 3 * 2**39 + 5, 2**51 - 1], dtype=np.int64)

    quotient, remainder = money.floor_div_product(factors, multipliers, denominators)

    assert quotient.dtype == np.int64 and remainder.dtype == np.int64
    expected = [divmod(int(f) * 10**8, int(d)) for f, d in zip(factors, denominators, strict=True)]
    assert quotient.tolist() == [q for q, _ in expected]
    assert remainder.tolist() == [r for _, r in expected]


@MONEY
@given(
    st.lists(st.one_of(amounts, amounts.map(lambda value: -value)), min_size=1, max_size=30),
    st.sampled_from([1, 100, 10**8, 10**12, 10**20]),
    st.lists(weights.map(lambda value: value + 1), min_size=30, max_size=30),
)
def test_divide_product_half_even_rounds_ties_to_even_at_any_size(
    factors: list[int], multiplier: int, denominators: list[int]
) -> None:
    denominators = denominators[: len(factors)]

    rounded = money.divide_product_half_even(column(factors), multiplier, column(denominators))

    expected = [half_even(f * multiplier, d) for f, d in zip(factors, denominators, strict=True)]
    assert [int(value) for value in rounded] == expected


def test_divide_product_half_even_on_exact_halves() -> None:
    rounded = money.divide_product_half_even(
        np.array([1, 3, 5, -1, -3], dtype=np.int64), 1, np.full(5, 2, dtype=np.int64)
    )

    assert rounded.tolist() == [0, 2, 2, 0, -2]


@st.composite
def groups_to_split(draw: st.DrawFn) -> list[tuple[int, int, list[int]]]:
    """(total, quantum, weights) per group; totals are whole multiples of their quantum."""
    split = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        quantum = draw(st.sampled_from([1, 10, 10**6]))
        total = draw(amounts) * quantum
        group_weights = draw(st.lists(st.one_of(st.just(0), weights), min_size=1, max_size=8))
        split.append((total, quantum, group_weights))
    return split


def largest_remainder(total: int, quantum: int, group_weights: list[int]) -> list[int]:
    """The reference: exact fractions, leftovers to the largest remainders, earlier first."""
    whole = total // quantum
    if sum(group_weights) == 0:
        group_weights = [1] * len(group_weights)
    shares = [Fraction(whole * weight, sum(group_weights)) for weight in group_weights]
    parts = [share.numerator // share.denominator for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda row: (-(shares[row] - parts[row]), row))
    for row in by_remainder[: whole - sum(parts)]:
        parts[row] += 1
    return [part * quantum for part in parts]


@MONEY
@given(groups_to_split())
def test_allocate_splits_every_total_exactly_by_largest_remainder(
    split: list[tuple[int, int, list[int]]],
) -> None:
    totals, quanta, row_weights, group_ids = [], [], [], []
    for group, (total, quantum, group_weights) in enumerate(split):
        totals += [total] * len(group_weights)
        quanta += [quantum] * len(group_weights)
        row_weights += group_weights
        group_ids += [group] * len(group_weights)

    parts = money.allocate(
        column(totals), column(row_weights), np.array(group_ids, dtype=np.int64), column(quanta)
    )

    expected = [part for args in split for part in largest_remainder(*args)]
    assert [int(value) for value in parts] == expected
    for group, (total, _, _) in enumerate(split):
        assert sum(int(parts[row]) for row in np.flatnonzero(np.array(group_ids) == group)) == total


def test_floor_div_product_corrects_a_float_estimate_that_rounds_up() -> None:
    # r * m is one less than a multiple of d, with a quotient near 2**50: binary floating point
    # rounds r * m / d up to that multiple, and only the exact correction brings it back.
    denominators, multipliers, factors = [], [], []
    for d, m in ((2**51 - 1, 2**51 - 3), (2**52 - 3, 2**51 + 7), (10**15 + 37, 10**15 - 11)):
        denominators.append(d)
        multipliers.append(m)
        factors.append(-pow(m, -1, d) % d)
    assert all(
        (f * m + 1) % d == 0 for f, m, d in zip(factors, multipliers, denominators, strict=True)
    )

    quotient, remainder = money.floor_div_product(
        column(factors), column(multipliers), column(denominators)
    )

    assert quotient.dtype == np.int64
    expected = [
        divmod(f * m, d) for f, m, d in zip(factors, multipliers, denominators, strict=True)
    ]
    assert quotient.tolist() == [q for q, _ in expected]
    assert remainder.tolist() == [r for _, r in expected]
