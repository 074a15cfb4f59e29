"""TCA measures against hand-computed values (pure: no database, no market)."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.sim.orders import Side
from tca.measures import (
    IS_COMPONENTS,
    MARKOUT_HORIZONS_S,
    FillPoint,
    currency,
    effective_spread_bps,
    implementation_shortfall,
    markout_bps,
    notional,
    participation,
    side_sign,
    slippage_bps,
    slippage_ccy,
    slippage_ccy_paid,
    spread_capture,
    weighted_bps,
)

approx = pytest.approx


def test_side_sign_reads_strings_and_enums_and_refuses_anything_else():
    assert side_sign("buy") == side_sign(Side.BUY) == side_sign("BUY") == 1
    assert side_sign("sell") == side_sign(Side.SELL) == -1
    with pytest.raises(ValueError):
        side_sign("short")


# --- slippage ------------------------------------------------------------------------------------------
def test_buy_below_the_benchmark_is_positive_slippage():
    assert slippage_bps("buy", 99.9, 100.0) == approx(10.0)
    assert slippage_ccy("buy", 99.9, 100.0, 1_000) == approx(100.0)


def test_sell_flips_the_sign():
    assert slippage_bps("sell", 99.9, 100.0) == approx(-10.0)
    assert slippage_bps("sell", 100.05, 100.0) == approx(5.0)
    assert slippage_ccy("sell", 100.05, 100.0, 500) == approx(25.0)


def test_paying_up_is_negative_slippage():
    assert slippage_bps("buy", 100.2, 100.0) == approx(-20.0)
    assert slippage_ccy("buy", 100.2, 100.0, 300) == approx(-60.0)
    assert slippage_bps("sell", 49.95, 50.0) == approx(-10.0)


def test_slippage_accepts_decimals_from_the_database():
    assert slippage_bps("buy", Decimal("99.90"), Decimal("100")) == approx(10.0)
    assert slippage_ccy("sell", Decimal("100.05"), Decimal("100"), 500) == approx(25.0)


def test_slippage_refuses_a_non_positive_benchmark():
    with pytest.raises(ValueError):
        slippage_bps("buy", 1.0, 0.0)


# --- quantity weighting --------------------------------------------------------------------------------
def test_weighted_bps_lets_the_big_fill_dominate():
    # 100 shares at +10 bps, 10,000 shares at -5 bps: (1,000 - 50,000) / 10,100
    assert weighted_bps([(10.0, 100), (-5.0, 10_000)]) == approx(-49_000 / 10_100)
    assert weighted_bps([(10.0, 100), (-5.0, 10_000)]) != approx((10.0 - 5.0) / 2)


def test_weighted_bps_by_notional_is_the_bps_of_the_summed_currency():
    # buy 1,000 @ 99.9 vs 100 (+100 ccy) and 100 @ 201 vs 200 (-100 ccy): net 0 currency -> 0 bps
    rows = [(slippage_bps("buy", 99.9, 100.0), 1_000 * 100.0), (slippage_bps("buy", 201.0, 200.0), 100 * 200.0)]
    assert weighted_bps(rows) == approx(0.0, abs=1e-12)


def test_weighted_bps_skips_missing_values_and_is_none_without_weight():
    assert weighted_bps([(None, 1_000), (7.0, 10)]) == approx(7.0)
    assert weighted_bps([]) is None
    assert weighted_bps([(None, 5)]) is None


# --- implementation shortfall ------------------------------------------------------------------------
BUY_FILLS = [FillPoint("buy", 300, 101.0, 100.9, fee=0.9), FillPoint("buy", 200, 101.2, 101.0, fee=0.6)]


def test_shortfall_of_a_buy_that_paid_more_than_arrival_is_negative_in_every_component():
    # X = 1,000, D = 100, A = 100.5, E = 102; Q = 500. + = better for us: every part of this one cost us.
    sf = implementation_shortfall(side="buy", quantity=1_000, decision=100.0, arrival=100.5, end_price=102.0, fills=BUY_FILLS)
    assert sf.delay == approx(-250.0)  # (100 - 100.5) * 500
    assert sf.timing == approx(-220.0)  # 300 * -0.4 + 200 * -0.5
    assert sf.impact == approx(-70.0)  # 300 * -0.1 + 200 * -0.2
    assert sf.opportunity == approx(-1_000.0)  # 500 unfilled * (100 - 102)
    assert sf.fees == approx(-1.5)  # paid
    assert sf.total == approx(-1_541.5)
    # bps of X * D = 100,000
    assert sf.bps == approx({"delay": -25.0, "timing": -22.0, "impact": -7.0, "opportunity": -100.0, "fees": -0.15, "total": -154.15})


def test_shortfall_of_a_sell_that_got_less_than_arrival_is_negative_in_every_component():
    fills = [FillPoint("sell", 300, 99.0, 99.1, fee=0.9), FillPoint("sell", 200, 98.8, 99.0, fee=0.6)]
    sf = implementation_shortfall(side="sell", quantity=1_000, decision=100.0, arrival=99.5, end_price=98.0, fills=fills)
    assert (sf.delay, sf.timing, sf.impact, sf.opportunity, sf.fees, sf.total) == approx((-250.0, -220.0, -70.0, -1_000.0, -1.5, -1_541.5))
    assert all(v < 0 for v in sf.bps.values())


def test_shortfall_is_positive_when_the_price_came_our_way():
    # Bought all 1,000 passively below the mid while the price fell: every component a gain.
    fills = [FillPoint("buy", 1_000, 99.7, 99.75)]
    sf = implementation_shortfall(side="buy", quantity=1_000, decision=100.0, arrival=99.8, end_price=99.0, fills=fills)
    assert (sf.delay, sf.timing, sf.impact, sf.opportunity) == approx((200.0, 50.0, 50.0, 0.0))
    assert sf.total == approx(300.0)
    # The filled part's shortfall is its slippage against the decision price: the same sign as every score.
    assert sf.bps["total"] == approx(slippage_bps("buy", 99.7, 100.0))


def test_opportunity_of_an_unfilled_order_follows_the_side():
    buy = implementation_shortfall(side="buy", quantity=1_000, decision=50.0, arrival=50.0, end_price=51.0, fills=[])
    sell = implementation_shortfall(side="sell", quantity=1_000, decision=50.0, arrival=50.0, end_price=51.0, fills=[])
    assert buy.opportunity == buy.total == approx(-1_000.0)  # the price ran away from the buyer
    assert buy.bps["opportunity"] == approx(-200.0)
    assert sell.opportunity == sell.total == approx(1_000.0)  # the seller who waited gained
    assert buy.delay == buy.timing == buy.impact == buy.fees == 0.0


def test_rebates_are_a_positive_fees_component():
    fills = [FillPoint("buy", 1_000, 100.0, 100.0, fee=-2.0)]
    sf = implementation_shortfall(side="buy", quantity=1_000, decision=100.0, arrival=100.0, end_price=100.0, fills=fills)
    assert sf.fees == sf.total == approx(2.0)
    assert sf.bps["fees"] == approx(0.2)


def test_shortfall_refuses_an_over_fill_a_wrong_side_fill_and_no_quantity():
    kw = {"decision": 100.0, "arrival": 100.0, "end_price": 100.0}
    with pytest.raises(ValueError):
        implementation_shortfall(side="buy", quantity=400, fills=BUY_FILLS, **kw)
    with pytest.raises(ValueError):
        implementation_shortfall(side="sell", quantity=1_000, fills=BUY_FILLS, **kw)
    with pytest.raises(ValueError):
        implementation_shortfall(side="buy", quantity=0, fills=[], **kw)


prices = st.floats(min_value=1.0, max_value=1_000.0, allow_nan=False)
fill_rows = st.lists(
    st.tuples(st.integers(1, 5_000), prices, st.floats(-0.02, 0.02), st.floats(-5.0, 5.0)), max_size=12
)


@given(st.sampled_from(["buy", "sell"]), fill_rows, prices, prices, prices, st.integers(0, 20_000))
def test_shortfall_components_add_up_to_the_total(side, rows, decision, arrival, end_price, unfilled):
    fills = [FillPoint(side, q, mid * (1 + rel), mid, fee=fee) for q, mid, rel, fee in rows]
    q = sum(f.qty for f in fills)
    x = q + unfilled
    if x == 0:
        return
    sf = implementation_shortfall(side=side, quantity=x, decision=decision, arrival=arrival, end_price=end_price, fills=fills)
    parts = sf.delay + sf.timing + sf.impact + sf.opportunity + sf.fees
    scale = x * max(decision, arrival, end_price, *(f.price for f in fills))
    assert sf.total == approx(parts, abs=1e-9 * scale)
    # The telescoping identity: s (Q D - sum q p) + opportunity + fees.
    s = side_sign(side)
    assert sf.total == approx(s * (q * decision - sum(f.qty * f.price for f in fills)) + sf.opportunity + sf.fees, abs=1e-9 * scale)
    assert sum(sf.bps[k] for k in IS_COMPONENTS[:-1]) == approx(sf.bps["total"], abs=1e-9 * scale)
    assert sf.bps["total"] == approx(sf.total / (x * decision) * 1e4)


# --- markouts, spreads, participation ------------------------------------------------------------------
def test_markouts_are_positive_when_the_price_moves_our_way():
    assert MARKOUT_HORIZONS_S == (1, 10, 60, 300)
    assert markout_bps("buy", 100.0, 100.1) == approx(10.0)
    assert markout_bps("sell", 100.0, 100.1) == approx(-10.0)  # sold, then it rose: adverse selection
    assert markout_bps("buy", 100.0, 99.95) == approx(-5.0)
    assert markout_bps("sell", 100.0, 99.95) == approx(5.0)


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [("buy", 99.98, 1.0), ("buy", 100.0, 0.0), ("buy", 100.02, -1.0), ("buy", 100.04, -2.0),
     ("sell", 100.02, 1.0), ("sell", 100.0, 0.0), ("sell", 99.98, -1.0), ("buy", 99.99, 0.5)],
)
def test_spread_capture_at_bid_mid_and_ask(side, price, expected):
    assert spread_capture(side, price, 99.98, 100.02) == approx(expected)


def test_spread_capture_needs_a_two_sided_uncrossed_quote():
    assert spread_capture("buy", 100.0, math.nan, 100.02) is None
    assert spread_capture("buy", 100.0, 100.02, 100.02) is None
    assert spread_capture("buy", 100.0, 100.03, 100.02) is None


def test_effective_spread_is_twice_the_distance_to_the_mid():
    assert effective_spread_bps(100.02, 100.0) == approx(4.0)
    assert effective_spread_bps(99.98, 100.0) == approx(4.0)
    assert effective_spread_bps(100.0, 100.0) == 0.0


def test_participation_is_our_share_of_the_market_volume():
    assert participation(500, 10_000) == approx(0.05)
    assert participation(0, 10) == 0.0
    assert participation(500, 0) is None


# --- currency x the contract multiplier (issue 22) ----------------------------------------------------------


def test_a_10_lot_option_fill_at_2_50_is_a_notional_of_2500():
    assert notional(Decimal("2.50"), 10, 100) == Decimal("2500.00")
    assert notional(2.5, 10) == 25.0  # an equity: multiplier 1
    assert currency(Decimal("25.00"), 100) == Decimal("2500.00")


def test_slippage_in_currency_carries_the_multiplier_and_the_bps_do_not():
    assert slippage_ccy("buy", 2.40, 2.50, 10, 100) == approx(100.0)  # 0.10 x 10 contracts x 100
    assert slippage_ccy("sell", 2.40, 2.50, 10, 100) == approx(-100.0)
    assert slippage_ccy_paid("buy", Decimal("2.50"), 10, Decimal("2400"), 100) == Decimal("100.00")
    assert slippage_bps("buy", 2.40, 2.50) == approx(400.0)


def test_the_shortfall_of_an_option_is_the_multiplier_times_the_same_fills_at_multiplier_one():
    args = {"side": "buy", "quantity": 600, "decision": 100.5, "arrival": 100.6, "end_price": 101.4, "fills": BUY_FILLS}
    one = implementation_shortfall(**args)
    option = implementation_shortfall(**args, multiplier=100)

    for k in ("delay", "timing", "impact", "opportunity"):
        assert getattr(option, k) == approx(getattr(one, k) * 100)
        assert option.bps[k] == approx(one.bps[k])  # of the paper value x the multiplier: the same ratio
    assert option.fees == one.fees  # fees are currency already
    assert option.total == approx(option.delay + option.timing + option.impact + option.opportunity + option.fees)
