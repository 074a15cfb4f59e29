"""Positions by the average-cost method: the pure rule, and positions kept by the order lifecycle."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.models import AuditEvent, Position
from oms.roles import Actor
from oms.services.lifecycle import OrderFill, orders_fill_apply
from oms.services.positions import PositionState, position_after_trade
from tests.ems import factories as f

ACTOR = Actor.system("test")
FLAT = PositionState(0, None, Decimal(0))
D = Decimal


def trade(state, side, qty, price):
    return position_after_trade(state, side=side, quantity=qty, price=D(price))


def test_buying_from_flat_opens_a_long_at_the_price():
    assert trade(FLAT, "buy", 100, "10.00") == PositionState(100, D("10.000000"), D(0))


def test_adding_averages_the_cost():
    assert trade(trade(FLAT, "buy", 100, "10"), "buy", 300, "12") == PositionState(400, D("11.500000"), D(0))


def test_selling_part_of_a_long_realises_pnl_and_keeps_the_cost():
    assert trade(trade(FLAT, "buy", 400, "11.5"), "sell", 100, "13") == PositionState(300, D("11.5"), D("150.000000"))


def test_selling_it_all_goes_flat_with_no_cost():
    assert trade(trade(FLAT, "buy", 100, "10"), "sell", 100, "9") == PositionState(0, None, D("-100.000000"))


def test_selling_through_zero_opens_a_short_at_the_trade_price():
    assert trade(trade(FLAT, "buy", 100, "10"), "sell", 250, "11") == PositionState(-150, D("11.000000"), D("100.000000"))


def test_covering_a_short_realises_cost_minus_price():
    short = trade(trade(FLAT, "sell", 200, "50"), "sell", 200, "52")  # -400 at 51

    assert short == PositionState(-400, D("51.000000"), D(0))
    assert trade(short, "buy", 100, "49") == PositionState(-300, D("51.000000"), D("200.000000"))
    assert trade(short, "buy", 500, "53") == PositionState(100, D("53.000000"), D("-800.000000"))


trades = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 10_000), st.decimals("1.00", "500.00", places=2)),
    min_size=1, max_size=30,
)


@given(trades)
def test_realised_plus_open_cost_equals_the_cash_flow(sequence):
    # Average cost conserves money: realised P&L - quantity x cost == -(cash paid for buys - cash got for sells),
    # up to the 6-decimal rounding of the average cost (at most 0.5e-6 per share per trade).
    state = FLAT
    cash, bought, sold = D(0), 0, 0
    for side, qty, price in sequence:
        state = trade(state, side, qty, price)
        cash += (-1 if side == "buy" else 1) * qty * price
        bought += qty if side == "buy" else 0
        sold += qty if side == "sell" else 0
    assert state.quantity == bought - sold
    assert (state.avg_cost is None) == (state.quantity == 0)
    open_cost = state.quantity * (state.avg_cost or 0)
    tolerance = D("0.000001") * len(sequence) * max(bought, sold)
    assert abs((state.realized_pnl - open_cost) - cash) <= tolerance


@pytest.mark.django_db
def test_fills_keep_one_position_per_portfolio_and_instrument(pm, portfolio, other_portfolio, instrument):
    buy = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    sell = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=600, side="sell")
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=100)

    orders_fill_apply(fills=[OrderFill(buy.id, 400, D("10.00"), "E1"), OrderFill(theirs.id, 100, D("11.00"), "E2")], actor=ACTOR)
    orders_fill_apply(fills=[OrderFill(sell.id, 600, D("12.00"), "E3")], actor=ACTOR)

    mine = Position.objects.get(portfolio=portfolio, instrument=instrument)
    assert (mine.quantity, mine.avg_cost, mine.realized_pnl) == (-200, D("12.000000"), D("800.000000"))
    assert (mine.bought_quantity, mine.sold_quantity) == (400, 600)
    other = Position.objects.get(portfolio=other_portfolio, instrument=instrument)
    assert (other.quantity, other.avg_cost) == (100, D("11.000000"))
    updates = AuditEvent.objects.filter(event_type="position.updated", object_id=str(mine.id)).order_by("id")
    assert [e.after["quantity"] for e in updates] == [400, -200]
    assert updates[1].before["quantity"] == 400


def test_an_option_positions_realised_pnl_carries_the_contract_multiplier():
    """Issue 22: quantity in contracts, cost per share, realised P&L in currency (x 100 shares a contract)."""
    bought = position_after_trade(PositionState(0, None, D("0")), side="buy", quantity=10, price=D("2.00"), multiplier=100)
    sold = position_after_trade(bought, side="sell", quantity=4, price=D("2.50"), multiplier=100)
    assert (bought.quantity, bought.avg_cost) == (10, D("2.000000"))
    assert (sold.quantity, sold.avg_cost, sold.realized_pnl) == (6, D("2.000000"), D("200.000000"))  # 4 x 0.50 x 100
