"""Option values and Greeks against published Black-Scholes figures, put-call parity and the no-arbitrage
bounds; the seeded surface and the venue's quote (issue 22)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.sim.options import VolSurface, bsm_greeks, bsm_price, implied_vol, option_quote


def test_hull_example_values():
    # Hull, Options, Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5.
    assert bsm_price(42, 40, 0.5, 0.2, "call", rate=0.1) == pytest.approx(4.76, abs=0.005)
    assert bsm_price(42, 40, 0.5, 0.2, "put", rate=0.1) == pytest.approx(0.81, abs=0.005)


def test_hull_example_greeks():
    # Hull, Examples 19.1-19.6: S=49, K=50, r=5%, sigma=20%, T=0.3846 (20 weeks), a call.
    g = bsm_greeks(49, 50, 0.3846, 0.2, "call", rate=0.05)
    assert g.delta == pytest.approx(0.522, abs=0.001)
    assert g.gamma == pytest.approx(0.066, abs=0.001)
    assert g.vega == pytest.approx(12.1 / 100, abs=0.001)  # 12.1 per 100 volatility points
    assert g.theta == pytest.approx(-4.31 / 365, abs=0.0005)  # -4.31 a year


def test_merton_dividend_yield_example():
    # Hull, Example 17.1 (index option): S=930, K=900, r=8%, q=3%, sigma=20%, T=2/12: call 51.83.
    assert bsm_price(930, 900, 2 / 12, 0.2, "call", rate=0.08, dividend=0.03) == pytest.approx(51.83, abs=0.01)


def test_at_expiry_and_at_zero_volatility_the_value_is_intrinsic():
    assert bsm_price(105, 100, 0, 0.3, "call") == 5 and bsm_price(105, 100, 0, 0.3, "put") == 0
    assert bsm_price(95, 100, 1, 0.0, "put") == pytest.approx(5)


@pytest.mark.parametrize("bad", [dict(spot=0), dict(strike=-1), dict(t=-0.1), dict(vol=-0.2), dict(kind="straddle")])
def test_bad_inputs_raise(bad):
    args = dict(spot=100, strike=100, t=1, vol=0.2, kind="call") | bad
    with pytest.raises(ValueError):
        bsm_price(**args)


finite = dict(allow_nan=False, allow_infinity=False)
spots = st.floats(20, 500, **finite)
moneyness = st.floats(0.5, 1.5, **finite)
times = st.floats(1 / 365, 3, **finite)
vols = st.floats(0.05, 1.5, **finite)
rates = st.floats(0, 0.1, **finite)
dividends = st.floats(0, 0.05, **finite)


@settings(max_examples=300, deadline=None)
@given(spots, moneyness, times, vols, rates, dividends)
def test_put_call_parity(s, m, t, v, r, q):
    k = s * m
    call, put = bsm_price(s, k, t, v, "call", rate=r, dividend=q), bsm_price(s, k, t, v, "put", rate=r, dividend=q)
    assert call - put == pytest.approx(s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-9 * s)


@settings(max_examples=300, deadline=None)
@given(spots, moneyness, times, vols, rates)
def test_values_are_bounded_by_intrinsic_and_the_underlying(s, m, t, v, r):
    k = s * m
    call, put = bsm_price(s, k, t, v, "call", rate=r), bsm_price(s, k, t, v, "put", rate=r)
    assert max(s - k * math.exp(-r * t), 0) - 1e-9 <= call <= s + 1e-9
    assert max(k * math.exp(-r * t) - s, 0) - 1e-9 <= put <= k * math.exp(-r * t) + 1e-9


@settings(max_examples=200, deadline=None)
@given(spots, st.floats(0.5, 1.4, **finite), st.floats(0.01, 0.2, **finite), times, vols)
def test_calls_fall_and_puts_rise_with_the_strike(s, m, dm, t, v):
    k1, k2 = s * m, s * (m + dm)
    assert bsm_price(s, k2, t, v, "call") <= bsm_price(s, k1, t, v, "call") + 1e-12
    assert bsm_price(s, k2, t, v, "put") >= bsm_price(s, k1, t, v, "put") - 1e-12


@settings(max_examples=200, deadline=None)
@given(spots, moneyness, times, vols)
def test_greeks_match_finite_differences(s, m, t, v):
    k = s * m
    g, h = bsm_greeks(s, k, t, v, "put", rate=0.03), 1e-4 * s
    price = lambda **kw: bsm_price(kw.get("s", s), k, kw.get("t", t), kw.get("v", v), "put", rate=0.03)  # noqa: E731
    assert g.delta == pytest.approx((price(s=s + h) - price(s=s - h)) / (2 * h), rel=1e-3, abs=1e-4)
    assert g.vega == pytest.approx((price(v=v + 1e-4) - price(v=v - 1e-4)) / 2e-4 / 100, rel=1e-3, abs=1e-5 * s)
    eps = 1e-6
    assert g.theta == pytest.approx(-(price(t=t + eps) - price(t=t - eps)) / (2 * eps) / 365, rel=1e-3, abs=1e-6 * s)
    assert g.gamma >= 0 and -1 <= g.delta <= 0


@settings(max_examples=200, deadline=None)
@given(spots, st.floats(0.7, 1.3, **finite), st.floats(0.05, 2, **finite), st.floats(0.1, 1.0, **finite), st.sampled_from(["call", "put"]))
def test_implied_vol_recovers_the_volatility(s, m, t, v, kind):
    price = bsm_price(s, s * m, t, v, kind, rate=0.02)
    iv = implied_vol(price, s, s * m, t, kind, rate=0.02)
    assert iv is not None
    assert bsm_price(s, s * m, t, iv, kind, rate=0.02) == pytest.approx(price, abs=1e-8 * s)
    if bsm_greeks(s, s * m, t, v, kind, rate=0.02).vega > 1e-4 * s:  # where the value carries the volatility
        assert iv == pytest.approx(v, abs=1e-5)


def test_no_volatility_gives_a_price_below_intrinsic():
    assert implied_vol(1.0, 110, 100, 0.5, "call") is None
    assert implied_vol(5.0, 100, 100, 0, "call") is None


def test_the_surface_is_seeded_skewed_and_higher_at_the_short_end():
    a, b = VolSurface.seeded("ACME", 0.02), VolSurface.seeded("ACME", 0.02)
    assert a == b and VolSurface.seeded("GLOBX", 0.02) != a
    assert a.base == pytest.approx(0.02 * math.sqrt(252))
    assert a.vol(100, 90, 0.25) > a.vol(100, 100, 0.25)  # the equity skew: puts richer
    assert a.atm(1 / 12) > a.atm(1.0) > a.base


def test_the_displayed_quote_is_wide_on_ticks_around_the_model_value():
    surface = VolSurface.seeded("ACME", 0.02)
    q = option_quote(100, 95, 0.25, "put", surface, tick=0.05)
    assert q.bid < q.mid < q.ask
    assert (q.ask - q.bid) >= 2 * 0.03 * q.mid - 1e-9
    assert all(abs(x / 0.05 - round(x / 0.05)) < 1e-9 for x in (q.bid, q.ask))
    far = option_quote(100, 40, 0.05, "put", surface, tick=0.05)
    assert far.bid == 0 and far.ask >= 0.05
