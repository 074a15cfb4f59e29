"""The simulated market maker (rfq.pricing): pure, no database."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfq.pricing import (
    MarketSnapshot,
    ProviderProfile,
    QuoteRequest,
    ceil_tick,
    floor_tick,
    half_spread_bps,
    last_look,
    respond,
    response_latency_ms,
)

PROFILE = ProviderProfile(
    code="TEST", response_probability=1.0, latency_ms_median=500.0, latency_ms_sigma=0.4, base_spread_bps=3.0,
    size_coef_bps=1.0, vol_coef=0.3, skew_bps=0.0, max_size=1_000_000, partial_probability=0.0, quote_life_ms=3000,
    last_look_reject_probability=0.0, last_look_tolerance_bps=10.0, seed=7,
)
MARKET = MarketSnapshot(mid=100.0, daily_vol=0.02, adv=10_000_000, tick_size=0.01, lot_size=100)


def req(ref: str = "R1", side: str = "two_way", quantity: int = 50_000) -> QuoteRequest:
    return QuoteRequest(reference=ref, symbol="ACME", side=side, quantity=quantity)


def test_same_request_same_answer_and_latency():
    p = replace(PROFILE, response_probability=0.5, partial_probability=0.5)
    for i in range(50):
        assert respond(p, req(f"R{i}"), MARKET) == respond(p, req(f"R{i}"), MARKET)
        assert response_latency_ms(p, f"R{i}") == response_latency_ms(p, f"R{i}")


def test_answers_depend_on_the_seed_and_the_reference():
    a = [response_latency_ms(PROFILE, f"R{i}") for i in range(20)]
    assert len(set(a)) > 10  # a distribution, not a constant
    assert a != [response_latency_ms(replace(PROFILE, seed=8), f"R{i}") for i in range(20)]
    assert a != [response_latency_ms(replace(PROFILE, code="OTHER"), f"R{i}") for i in range(20)]


def test_latency_is_lognormal_around_its_median():
    lat = sorted(response_latency_ms(PROFILE, f"R{i}") for i in range(4000))
    median = lat[len(lat) // 2]
    assert 470 <= median <= 530
    logs = [math.log(x) for x in lat]
    mean = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / len(logs))
    assert 0.37 <= sd <= 0.43
    assert min(lat) >= 1


@pytest.mark.parametrize("probability", [0.0, 0.35, 0.8, 1.0])
def test_declines_at_the_stated_probability(probability):
    p = replace(PROFILE, response_probability=probability)
    n = 4000
    answered = sum(respond(p, req(f"R{i}"), MARKET).quotes for i in range(n))
    # 4 standard deviations of a binomial: fails by chance about once in 15,000 runs (and it is seeded).
    assert abs(answered / n - probability) <= 4 * math.sqrt(probability * (1 - probability) / n) + 1e-9


def test_a_decline_carries_no_prices():
    r = respond(replace(PROFILE, response_probability=0.0), req(), MARKET)
    assert (r.quotes, r.bid, r.ask, r.bid_size, r.ask_size, r.reason) == (False, None, None, None, None, "declined")


def test_half_spread_follows_the_documented_formula():
    # 1% of ADV: 3 + 1 * 100 * 0.01 + 0.3 * 200 * 0.1 = 3 + 1 + 6 = 10 bps
    assert half_spread_bps(PROFILE, 100_000, MARKET) == pytest.approx(10.0)


def test_spread_grows_with_size():
    widths = []
    for q in (1_000, 20_000, 200_000, 900_000):
        r = respond(PROFILE, req(quantity=q), MARKET)
        widths.append(r.ask - r.bid)
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_spread_grows_with_volatility():
    calm = respond(PROFILE, req(), MARKET)
    wild = respond(PROFILE, req(), replace(MARKET, daily_vol=0.06))
    assert wild.ask - wild.bid > calm.ask - calm.bid


def test_positive_skew_moves_both_sides_up_negative_down():
    flat = respond(PROFILE, req(), MARKET)
    up = respond(replace(PROFILE, skew_bps=8), req(), MARKET)
    down = respond(replace(PROFILE, skew_bps=-8), req(), MARKET)
    assert up.bid > flat.bid and up.ask > flat.ask
    assert down.bid < flat.bid and down.ask < flat.ask


def test_one_way_requests_get_only_the_side_the_requester_needs():
    buy = respond(PROFILE, req(side="buy"), MARKET)
    assert buy.ask is not None and buy.ask_size == 50_000 and buy.bid is None and buy.bid_size is None
    sell = respond(PROFILE, req(side="sell"), MARKET)
    assert sell.bid is not None and sell.bid_size == 50_000 and sell.ask is None and sell.ask_size is None
    both = respond(PROFILE, req(side="two_way"), MARKET)
    assert (both.bid, both.ask) == (sell.bid, buy.ask) and both.bid_size == both.ask_size == 50_000


def test_unknown_side_is_an_error():
    with pytest.raises(ValueError):
        respond(PROFILE, req(side="both"), MARKET)


def test_a_request_larger_than_max_size_gets_max_size_in_whole_lots():
    r = respond(replace(PROFILE, max_size=30_050), req(quantity=100_000), MARKET)
    assert r.quotes and r.bid_size == r.ask_size == 30_000  # 300 lots; the odd 50 shares are not a lot
    assert "(max size)" in r.reason


def test_a_max_size_below_one_lot_declines():
    r = respond(replace(PROFILE, max_size=99), req(), MARKET)
    assert not r.quotes and "lot" in r.reason


def test_less_than_one_lot_declines():
    assert not respond(PROFILE, req(quantity=50), MARKET).quotes


def test_partial_quotes_are_part_of_the_request_in_whole_lots():
    p = replace(PROFILE, partial_probability=1.0)
    sizes = [respond(p, req(f"R{i}", quantity=10_000), MARKET).ask_size for i in range(200)]
    assert all(s % 100 == 0 and 2_500 - 100 <= s <= 7_500 for s in sizes)
    assert len(set(sizes)) > 5


def test_partial_probability_is_respected():
    p = replace(PROFILE, partial_probability=0.3)
    n = 3000
    partial = sum(respond(p, req(f"R{i}", quantity=10_000), MARKET).ask_size < 10_000 for i in range(n))
    assert abs(partial / n - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / n)


def test_a_one_lot_request_is_never_partial():
    r = respond(replace(PROFILE, partial_probability=1.0), req(quantity=100), MARKET)
    assert r.bid_size == r.ask_size == 100


def test_prices_round_away_from_the_mid_onto_the_tick():
    # half-spread for 1,000 shares: 3 + 0.01 + 0.3 * 200 * 0.01 = 3.61 bps -> 99.96390 / 100.03610
    r = respond(PROFILE, req(quantity=1_000), MARKET)
    assert (r.bid, r.ask) == (99.96, 100.04)
    assert floor_tick(100.019999, 0.01) == 100.01 and ceil_tick(100.010001, 0.01) == 100.02
    assert floor_tick(100.02, 0.01) == 100.02 and ceil_tick(100.02, 0.01) == 100.02  # on the grid: unchanged
    assert floor_tick(12.3449, 0.05) == 12.3 and ceil_tick(12.3001, 0.05) == 12.35


def test_a_zero_spread_still_leaves_one_tick():
    p = replace(PROFILE, base_spread_bps=0, size_coef_bps=0, vol_coef=0)
    r = respond(p, req(), MARKET)
    assert (r.bid, r.ask) == (100.0, 100.01)


def test_quote_life_is_the_profiles():
    assert respond(replace(PROFILE, quote_life_ms=1234), req(), MARKET).life_ms == 1234


@given(
    mid=st.floats(1.0, 5_000.0), vol=st.floats(0.001, 0.1), adv=st.integers(10_000, 500_000_000),
    quantity=st.integers(1, 5_000_000), lot=st.sampled_from([1, 10, 100]), tick=st.sampled_from([0.01, 0.05, 0.001, 1.0]),
    skew=st.floats(-20, 20), base=st.floats(0, 50), max_size=st.integers(1, 10_000_000), partial=st.floats(0, 1),
    ref=st.text(min_size=1, max_size=12),
)
def test_quotes_are_sane(mid, vol, adv, quantity, lot, tick, skew, base, max_size, partial, ref):
    p = replace(PROFILE, skew_bps=skew, base_spread_bps=base, max_size=max_size, partial_probability=partial)
    m = MarketSnapshot(mid=mid, daily_vol=vol, adv=adv, tick_size=tick, lot_size=lot)
    r = respond(p, req(ref, quantity=quantity), m)
    if not r.quotes:
        return
    assert 0 < r.bid < r.ask
    assert r.bid_size == r.ask_size and r.bid_size > 0 and r.bid_size % lot == 0
    assert r.bid_size <= quantity and r.bid_size <= max_size
    for price in (r.bid, r.ask):
        assert abs(price / tick - round(price / tick)) < 1e-6


# --- last look ------------------------------------------------------------------------------------


def test_last_look_rejects_when_the_mid_moved_against_it_beyond_tolerance():
    # It sold to us (we bought) and the mid rose 12 bps > 10 tolerance.
    ok, reason = last_look(PROFILE, provider_side="sell", price=100.05, mid_at_quote=100.0, mid_now=100.12, key="A1")
    assert not ok and "against" in reason and "tolerance" in reason
    # It bought from us and the mid fell 12 bps.
    ok, _ = last_look(PROFILE, provider_side="buy", price=99.95, mid_at_quote=100.0, mid_now=99.88, key="A1")
    assert not ok


def test_last_look_accepts_within_tolerance_or_when_the_move_favours_it():
    assert last_look(PROFILE, provider_side="sell", price=100.05, mid_at_quote=100.0, mid_now=100.09, key="A1")[0]
    assert last_look(PROFILE, provider_side="sell", price=100.05, mid_at_quote=100.0, mid_now=99.0, key="A1")[0]
    assert last_look(PROFILE, provider_side="buy", price=99.95, mid_at_quote=100.0, mid_now=101.0, key="A1")[0]


def test_last_look_random_rejection_at_its_probability_and_reproducible():
    p = replace(PROFILE, last_look_reject_probability=0.25)
    n = 4000
    results = [last_look(p, provider_side="sell", price=100.05, mid_at_quote=100.0, mid_now=100.0, key=f"K{i}") for i in range(n)]
    rejected = [r for r in results if not r[0]]
    assert abs(len(rejected) / n - 0.25) <= 4 * math.sqrt(0.25 * 0.75 / n)
    assert all("random" in reason for _, reason in rejected)
    again = [last_look(p, provider_side="sell", price=100.05, mid_at_quote=100.0, mid_now=100.0, key=f"K{i}") for i in range(n)]
    assert again == results


def test_last_look_never_rejects_at_random_with_zero_probability():
    assert all(last_look(PROFILE, provider_side="buy", price=99.9, mid_at_quote=100.0, mid_now=100.0, key=f"K{i}")[0]
               for i in range(500))


def test_last_look_wants_a_provider_side():
    with pytest.raises(ValueError):
        last_look(PROFILE, provider_side="two_way", price=100.0, mid_at_quote=100.0, mid_now=100.0, key="K")
