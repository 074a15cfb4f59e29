"""Netting rule (ems.netting, pure): who may cross at the mid, how much, and how it is shared."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.netting import BUY, NO_CROSS, SELL, NetCandidate, crossable, net, pro_rata

MID = Decimal("100.005")


def test_a_500_buy_and_a_200_sell_cross_200_and_leave_a_300_buy():
    result = net([NetCandidate(1, BUY, 500), NetCandidate(2, SELL, 200)], mid=MID, lot=1)

    assert result.quantity == 200
    assert result.buys == {1: 200} and result.sells == {2: 200}
    assert 500 - result.crossed(1) == 300 and 200 - result.crossed(2) == 0


@pytest.mark.parametrize(("side", "limit", "ok"), [
    (BUY, None, True), (SELL, None, True),
    (BUY, Decimal("100.01"), True), (BUY, MID, True), (BUY, Decimal("100.00"), False),
    (SELL, Decimal("100.00"), True), (SELL, MID, True), (SELL, Decimal("100.01"), False),
])
def test_only_limits_that_allow_the_mid_may_cross(side, limit, ok):
    assert crossable(side, limit, MID) is ok


def test_a_buy_limit_below_the_mid_does_not_cross_and_the_sells_cross_with_the_others():
    orders = [NetCandidate(1, BUY, 400, Decimal("99.90")), NetCandidate(2, BUY, 100), NetCandidate(3, SELL, 300, Decimal("100.00"))]

    result = net(orders, mid=MID, lot=1)

    assert result.quantity == 100 and result.buys == {2: 100} and result.sells == {3: 100}


def test_no_mid_no_cross():
    assert net([NetCandidate(1, BUY, 500), NetCandidate(2, SELL, 200)], mid=None, lot=1) is NO_CROSS


def test_one_side_only_no_cross():
    assert net([NetCandidate(1, BUY, 500), NetCandidate(2, BUY, 200)], mid=MID, lot=1) is NO_CROSS


def test_the_larger_side_is_shared_pro_rata_in_whole_lots_by_largest_remainder():
    # 300 sold against 600 + 300 + 300 bought (lots of 100): exact shares 1.5 / 0.75 / 0.75 lots.
    orders = [NetCandidate(1, BUY, 600), NetCandidate(2, BUY, 300), NetCandidate(3, BUY, 300), NetCandidate(4, SELL, 300)]

    result = net(orders, mid=MID, lot=100)

    # Floors 1 / 0 / 0 lots; the two lots left go to the largest remainders 0.75 / 0.75.
    assert result.quantity == 300
    assert result.buys == {1: 100, 2: 100, 3: 100} and result.sells == {4: 300}


def test_a_tie_of_remainders_goes_to_the_older_order():
    orders = [NetCandidate(7, BUY, 300), NetCandidate(5, BUY, 300), NetCandidate(9, SELL, 100)]

    result = net(orders, mid=MID, lot=100)

    assert result.buys == {5: 100} and result.sells == {9: 100}


def test_the_cross_is_whole_lots_even_when_one_side_is_not():
    result = net([NetCandidate(1, BUY, 250), NetCandidate(2, SELL, 1000)], mid=MID, lot=100)

    assert result.quantity == 200 and result.buys == {1: 200} and result.sells == {2: 200}


def test_pro_rata_refuses_more_than_is_available_and_a_broken_lot():
    with pytest.raises(ValueError):
        pro_rata(300, [(1, 200)], 100)
    with pytest.raises(ValueError):
        pro_rata(150, [(1, 200)], 100)


# --- properties ----------------------------------------------------------------------------------------------

LOTS = st.sampled_from([1, 10, 100])


@st.composite
def order_books(draw):
    lot = draw(LOTS)
    n = draw(st.integers(1, 25))
    orders = []
    for key in draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True)):
        side = draw(st.sampled_from([BUY, SELL]))
        qty = draw(st.integers(1, 200)) * lot
        limit = draw(st.one_of(st.none(), st.decimals(Decimal("99.00"), Decimal("101.00"), places=2)))
        orders.append(NetCandidate(key, side, qty, limit))
    return lot, orders


@given(order_books())
def test_netting_invariants(book):
    lot, orders = book
    result = net(orders, mid=MID, lot=lot)
    by_key = {o.key: o for o in orders}
    eligible = {side: sum(o.quantity for o in orders if o.side == side and crossable(side, o.limit_price, MID)) for side in (BUY, SELL)}

    # The crossed quantity is the smaller eligible side, in whole lots, taken exactly from each side.
    assert result.quantity == min(eligible[BUY], eligible[SELL]) // lot * lot
    assert sum(result.buys.values()) == sum(result.sells.values()) == result.quantity
    for side, shares in ((BUY, result.buys), (SELL, result.sells)):
        for key, qty in shares.items():
            order = by_key[key]
            assert order.side == side and crossable(side, order.limit_price, MID)
            assert 0 < qty <= order.quantity and qty % lot == 0
    # The smaller side is crossed in full.
    small = BUY if eligible[BUY] <= eligible[SELL] else SELL
    shares = result.buys if small == BUY else result.sells
    if result.quantity:
        assert all(shares.get(o.key, 0) == o.quantity for o in orders if o.side == small and crossable(small, o.limit_price, MID))


@given(order_books(), st.randoms(use_true_random=False))
def test_netting_does_not_depend_on_the_order_the_candidates_come_in(book, rnd):
    lot, orders = book
    shuffled = list(orders)
    rnd.shuffle(shuffled)
    assert net(shuffled, mid=MID, lot=lot) == net(orders, mid=MID, lot=lot)


@given(st.data())
def test_pro_rata_sums_exactly_in_whole_lots_within_one_lot_of_the_exact_share(data):
    lot = data.draw(LOTS)
    quantities = data.draw(st.lists(st.integers(1, 500), min_size=1, max_size=30))
    wants = [(key, q * lot) for key, q in enumerate(quantities)]
    total = data.draw(st.integers(0, sum(quantities))) * lot

    shares = pro_rata(total, wants, lot)

    assert sum(shares.values()) == total
    available = sum(q for _, q in wants)
    for key, want in wants:
        got = shares.get(key, 0)
        assert got % lot == 0 and 0 <= got <= want
        assert abs(got - total * want / available) < lot
