"""ems.allocation: the progressive pro-rata rule in whole lots. Pure Python (runs without a database)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.allocation import AllocationError, allocate


def run(fills: list[int], wants: dict[int, int], lot: int = 1) -> tuple[dict[int, int], list[dict[int, int]]]:
    """Allocate a sequence of fills; return the cumulative allocation and each fill's split."""
    held = dict.fromkeys(wants, 0)
    splits = []
    for q in fills:
        split = allocate(q, [(k, wants[k], held[k]) for k in sorted(wants)], lot)
        for k, v in split.items():
            held[k] += v
        splits.append(split)
    return held, splits


def test_a_fill_is_split_pro_rata_in_whole_lots():
    assert allocate(600, [(1, 1000, 0), (2, 500, 0), (3, 300, 0)], 100) == {1: 300, 2: 200, 3: 100}


def test_the_largest_remainder_gets_the_spare_lot():
    # Needs 2000/3 = 666.7, 333.3 of 1000: floors 600 / 300, the spare lot goes to the larger remainder (66.7 > 33.3).
    assert allocate(1000, [(1, 2000, 0), (2, 1000, 0)], 100) == {1: 700, 2: 300}


def test_ties_go_to_the_smaller_key():
    assert allocate(100, [(7, 500, 0), (3, 500, 0)], 100) == {3: 100}


def test_a_residual_below_one_lot_goes_to_the_first_in_the_ranking():
    # 150 = one whole lot + 50 shares: the lot to the largest remainder (key 1 by the tie), the 50 after it.
    assert allocate(150, [(1, 1000, 0), (2, 1000, 0)], 100) == {1: 150}


def test_an_order_ahead_waits_for_the_others_to_catch_up():
    # Order 1 was given 100 of the first 100; the next 100 goes to order 2.
    assert allocate(100, [(1, 1000, 100), (2, 1000, 0)], 100) == {2: 100}


def test_the_last_fill_completes_every_constituent():
    held, _ = run([100] * 14 + [35], {1: 700, 2: 335, 3: 400}, lot=100)

    assert held == {1: 700, 2: 335, 3: 400}


def test_nobody_is_given_more_than_it_still_wants():
    assert allocate(50, [(1, 100, 100), (2, 100, 50)], 100) == {2: 50}


def test_a_fill_larger_than_what_is_left_is_refused():
    with pytest.raises(AllocationError):
        allocate(101, [(1, 100, 0)], 1)


def test_bad_inputs_are_refused():
    with pytest.raises(AllocationError):
        allocate(10, [(1, 100, 101)], 1)
    with pytest.raises(AllocationError):
        allocate(10, [(1, 100, 0)], 0)


def test_a_zero_fill_allocates_nothing():
    assert allocate(0, [(1, 100, 0)], 1) == {}


def test_the_split_is_deterministic_whatever_the_input_order():
    wants = [(5, 300, 0), (2, 700, 0), (9, 200, 0)]

    assert allocate(500, wants, 100) == allocate(500, list(reversed(wants)), 100)


@st.composite
def scenario(draw):
    lot = draw(st.sampled_from([1, 1, 10, 100]))
    n = draw(st.integers(1, 12))
    wants = {k: lot * draw(st.integers(1, 60)) for k in draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))}
    total = sum(wants.values())
    fills, left = [], total
    complete = draw(st.booleans())
    while left > 0 and len(fills) < 40:
        # Fills are mostly whole lots, sometimes odd sizes (a venue fills what it fills).
        q = lot * draw(st.integers(1, max(1, left // lot))) if draw(st.integers(0, 4)) else draw(st.integers(1, left))
        q = min(q, left)
        fills.append(q)
        left -= q
        if not complete and draw(st.integers(0, 5)) == 0:
            break
    if complete and left:
        fills.append(left)
    return lot, wants, fills


@given(scenario())
def test_allocation_invariants(case):
    lot, wants, fills = case
    held, splits = run(fills, wants, lot)
    total = sum(wants.values())
    filled = 0
    cumulative = dict.fromkeys(wants, 0)
    for q, split in zip(fills, splits, strict=True):
        filled += q
        # Sums exact; nobody above their quantity; nothing zero or negative.
        assert sum(split.values()) == q
        assert all(v > 0 for v in split.values())
        for k, v in split.items():
            cumulative[k] += v
            assert cumulative[k] <= wants[k]
        # Whole lots but a declared residual: at most one order per fill gets a non-lot amount,
        # unless orders are being completed to their (then odd) remaining quantity.
        odd = [k for k, v in split.items() if v % lot and cumulative[k] != wants[k]]
        assert len(odd) <= 1
        # Close to the pro-rata target after every fill: within two lots (a fill of one lot is indivisible, and an
        # order put ahead by rounding waits).
        if all(f % lot == 0 for f in fills):
            for k in wants:
                target = Fraction(filled * wants[k], total)
                assert abs(cumulative[k] - target) < 2 * lot, (k, cumulative, target)
    assert sum(held.values()) == filled
    if filled == total:
        assert held == wants


@given(scenario())
def test_lot_multiple_fills_over_lot_multiple_wants_stay_in_whole_lots(case):
    lot, wants, fills = case
    fills = [f for f in fills if f % lot == 0]
    _, splits = run(fills, wants, lot)
    for split in splits:
        assert all(v % lot == 0 for v in split.values())
