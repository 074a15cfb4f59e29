"""A dealer's net price for a multi-leg package and the split of an executed net price into leg prices
(rfq.package_pricing): pure, no database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.sim.options import VolSurface, bsm_greeks, bsm_price
from rfq.package_pricing import (
    LegMarket,
    SplitLeg,
    Unsplittable,
    net_split,
    package_cost_bps,
    package_gross,
    package_half_spread,
    package_last_look,
    package_respond,
    package_value,
    package_vega,
)
from rfq.pricing import ProviderProfile

PROFILE = ProviderProfile(
    code="TEST", response_probability=1.0, latency_ms_median=500.0, latency_ms_sigma=0.4, base_spread_bps=20.0,
    size_coef_bps=5.0, vol_coef=0.5, skew_bps=0.0, max_size=1_000_000, partial_probability=0.0, quote_life_ms=3000,
    last_look_reject_probability=0.0, last_look_tolerance_bps=100.0, seed=7,
)
SURFACE = VolSurface.seeded("ACME", 0.02, 0)
T = 0.25


def option_leg(kind: str, strike: float, side: str = "buy", ratio: int = 1, spot: float = 100.0) -> LegMarket:
    vol = SURFACE.vol(spot, strike, T)
    value = bsm_price(spot, strike, T, vol, kind)
    vega = bsm_greeks(spot, strike, T, vol, kind).vega
    return LegMarket(f"ACME{kind[0].upper()}{strike:g}", side, ratio, value, vega, 0.01)


def equity_leg(side: str, ratio: int, mid: float = 100.0) -> LegMarket:
    return LegMarket("ACME", side, ratio, mid, 0.0, 0.01)


def test_a_straddles_value_is_the_call_plus_the_put_and_its_quote_sits_around_it():
    call, put = option_leg("call", 100), option_leg("put", 100)
    straddle = [call, put]
    assert package_value(straddle) == pytest.approx(call.value + put.value)
    assert package_vega(straddle) == pytest.approx(call.vega + put.vega)
    answer = package_respond(PROFILE, reference="R1", side="two_way", quantity=10, legs=straddle)
    assert answer.quotes and answer.bid < package_value(straddle) < answer.ask
    assert answer.bid_size == answer.ask_size == 10  # the whole package, never a part


def test_a_vertical_spread_nets_the_legs_and_a_credit_package_has_a_negative_price():
    debit = [option_leg("call", 100), option_leg("call", 110, side="sell")]
    assert package_value(debit) == pytest.approx(debit[0].value - debit[1].value) and package_value(debit) > 0
    credit = [option_leg("call", 100, side="sell"), option_leg("call", 110)]
    ask = package_respond(PROFILE, reference="R2", side="buy", quantity=5, legs=credit).ask
    assert package_value(credit) < 0 and ask < 0  # we receive: what we pay per package is negative


def test_the_spread_grows_with_the_packages_vega_and_size():
    small_vega = [option_leg("call", 100), option_leg("call", 105, side="sell")]  # a spread: the vegas mostly cancel
    big_vega = [option_leg("call", 100), option_leg("put", 100)]  # a straddle: they add
    assert abs(package_vega(big_vega)) > abs(package_vega(small_vega))
    no_base = replace(PROFILE, base_spread_bps=0.0, size_coef_bps=0.0)
    assert package_half_spread(no_base, big_vega, 10) > package_half_spread(no_base, small_vega, 10)
    assert package_half_spread(no_base, big_vega, 10) == pytest.approx(0.5 * abs(package_vega(big_vega)) * (1.1 ** 0.5))
    for legs in (small_vega, big_vega):
        sizes = [package_half_spread(PROFILE, legs, q) for q in (1, 100, 1000)]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_the_skew_moves_both_sides():
    legs = [option_leg("call", 100), option_leg("put", 95, side="sell"), equity_leg("sell", 50)]
    flat = package_respond(PROFILE, reference="R3", side="two_way", quantity=10, legs=legs)
    leaning = package_respond(replace(PROFILE, skew_bps=50.0), reference="R3", side="two_way", quantity=10, legs=legs)
    shift = package_gross(legs) * 50 / 10_000
    assert leaning.bid == pytest.approx(flat.bid + shift, abs=0.011) and leaning.ask == pytest.approx(flat.ask + shift, abs=0.011)
    assert leaning.bid > flat.bid and leaning.ask > flat.ask


def test_answers_are_reproducible_per_provider_and_request_and_on_the_cent():
    legs = [option_leg("call", 100), option_leg("call", 110, side="sell")]
    p = replace(PROFILE, response_probability=0.5)
    answers = [package_respond(p, reference=f"R{i}", side="two_way", quantity=3, legs=legs) for i in range(40)]
    assert answers == [package_respond(p, reference=f"R{i}", side="two_way", quantity=3, legs=legs) for i in range(40)]
    assert 5 < sum(a.quotes for a in answers) < 35  # some decline
    for a in answers:
        if a.quotes:
            assert round(a.ask * 100) == pytest.approx(a.ask * 100, abs=1e-6) and a.bid < a.ask


def test_a_one_way_request_gets_only_the_offer_and_a_too_big_one_is_declined():
    legs = [option_leg("put", 95), equity_leg("buy", 40)]
    one_way = package_respond(PROFILE, reference="R4", side="buy", quantity=2, legs=legs)
    assert one_way.bid is None and one_way.ask is not None
    assert not package_respond(replace(PROFILE, max_size=100), reference="R4", side="buy", quantity=3, legs=legs).quotes
    with pytest.raises(ValueError):
        package_respond(PROFILE, reference="R4", side="sell", quantity=2, legs=legs)


def test_cost_is_against_the_value_in_bps_of_the_gross_premium():
    assert package_cost_bps(Decimal("1.10"), Decimal("1.00"), Decimal("10")) == Decimal(100)
    assert package_cost_bps(Decimal("-0.90"), Decimal("-1.00"), Decimal("10")) == Decimal(100)  # a credit: receiving less costs


def test_last_look_rejects_when_the_package_moved_against_the_dealer():
    ok, _ = package_last_look(PROFILE, price=1.2, value_at_quote=1.0, value_now=1.05, gross=10.0, key="K")
    assert ok  # +50 bps of the gross, within its 100
    ok, why = package_last_look(PROFILE, price=1.2, value_at_quote=1.0, value_now=1.2, gross=10.0, key="K")
    assert not ok and "200.0 bps against it" in why
    ok, _ = package_last_look(PROFILE, price=-0.5, value_at_quote=-0.6, value_now=-0.9, gross=10.0, key="K")
    assert ok  # the package got cheaper: the dealer who sold it gains


def _sum(legs: list[SplitLeg], prices: list[Decimal]) -> Decimal:
    return sum((Decimal(1 if leg.side == "buy" else -1) * leg.ratio * p for leg, p in zip(legs, prices, strict=True)), Decimal(0))


def test_the_split_adds_up_to_the_net_price_with_the_residual_on_the_largest_leg():
    legs = [SplitLeg("buy", 1, Decimal("5.123"), Decimal("0.01")), SplitLeg("sell", 1, Decimal("2.004"), Decimal("0.01")),
            SplitLeg("sell", 1, Decimal("3.3333"), Decimal("0.05")), SplitLeg("buy", 50, Decimal("100.017"), Decimal("0.01"))]
    prices = net_split(Decimal("4799.93"), legs)
    assert _sum(legs, prices) == Decimal("4799.93")
    assert prices[:3] == [Decimal("5.12"), Decimal("2.00"), Decimal("3.35")]  # each at its model value on its tick
    assert prices[3] != Decimal("100.02")  # the residual went on the largest leg (50 x 100)


def test_a_residual_a_ratio_cannot_divide_goes_on_a_leg_that_can():
    legs = [SplitLeg("buy", 3, Decimal("50"), Decimal("0.01")), SplitLeg("sell", 1, Decimal("1"), Decimal("0.01"))]
    prices = net_split(Decimal("149.01"), legs)  # residual 0.01: not a multiple of 3 micro-units... of 3 x 1e-6
    assert _sum(legs, prices) == Decimal("149.01") and prices[0] == Decimal("50")


def test_a_split_that_would_need_a_non_positive_leg_price_is_refused():
    legs = [SplitLeg("buy", 1, Decimal("0.05"), Decimal("0.01"))]
    with pytest.raises(Unsplittable):
        net_split(Decimal("-0.10"), legs)


@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 100), st.integers(5, 50_000)), min_size=1, max_size=4),
       st.integers(-200, 200))
def test_any_split_adds_up_exactly(raw, cents_off):
    legs = [SplitLeg(side, ratio, Decimal(value) / 100, Decimal("0.01")) for side, ratio, value in raw]
    if not any(leg.ratio == 1 for leg in legs):
        legs[0] = replace(legs[0], ratio=1)
    value = _sum(legs, [leg.value for leg in legs]).quantize(Decimal("0.01"))
    net = value + Decimal(cents_off) / 100
    try:
        prices = net_split(net, legs)
    except Unsplittable:
        return  # only when a leg would go to zero or below
    assert _sum(legs, prices) == net and all(p > 0 for p in prices)


def test_an_option_with_its_share_hedge_nets_the_cash_both_fills_move():
    call = LegMarket("ACMEC100", "buy", 1, 5.0, 0.2, 0.01, 100)
    hedge = LegMarket("ACME", "sell", 40, 200.0, 0.0, 0.01)
    assert (call.weight, hedge.weight) == (100, 40)
    assert package_value([call, hedge]) == pytest.approx(1 * 100 * 5.0 - 40 * 200.0)  # -7,500: a credit
    assert package_gross([call, hedge]) == pytest.approx(500.0 + 8_000.0)
    assert package_vega([call, hedge]) == pytest.approx(20.0)
    prices = net_split(Decimal("-7499.00"), [SplitLeg("buy", 1, Decimal("5"), Decimal("0.01"), 100),
                                             SplitLeg("sell", 40, Decimal("200"), Decimal("0.01"))])
    assert 100 * prices[0] - 40 * prices[1] == Decimal("-7499.00")
