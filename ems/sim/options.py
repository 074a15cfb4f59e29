"""Listed options on the simulated underlyings: Black-Scholes-Merton values and Greeks, a seeded volatility
surface, and the wide quote one simulated options venue displays (issue 22). Pure Python: no Django.

Model, per option (European exercise priced; an American call on a non-dividend payer is worth the same):

* Value: Black-Scholes-Merton with continuous rate ``r`` and dividend yield ``q`` on the underlying's
  simulated mid ``S``::

      d1 = (ln(S/K) + (r - q + v^2/2) T) / (v sqrt T),  d2 = d1 - v sqrt T
      call = S e^{-qT} N(d1) - K e^{-rT} N(d2),  put = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)

  At expiry (``T = 0``) or zero volatility it is the discounted intrinsic value of the forward.
* Greeks from the same model: delta (per 1 of the underlying), gamma (per 1 of the underlying, per 1),
  vega (per 1 volatility point, i.e. per 0.01), theta (per calendar day, the value lost by one day passing).
* Volatility surface, per underlying, deterministic from its seed: the at-the-money volatility
  ``atm(T) = base (1 + term e^{-T/TERM_TAU})``: ``base`` is the underlying's annualised daily volatility
  (x sqrt 252), bent by a term structure that is higher at the short end (``term`` > 0); across strikes a smile in log-moneyness per unit of time, ``m = ln(K/F) / sqrt T``:
  ``v(K, T) = atm(T) (1 + skew m + smile m^2)``, with ``skew`` < 0 (puts richer, the equity skew), floored at
  ``MIN_VOL``. ``skew``, ``smile`` and ``term`` are drawn once per underlying from its seeded stream.
* Displayed quote: the venue shows ``fair -/+ h`` rounded outward to the tick, with the half-spread
  ``h = max(tick, WIDTH_PCT x fair, WIDTH_VEGA_PTS x vega)``: wide, as listed options on size are; the bid
  is never below zero (a zero bid when the option is worth less than the half-spread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.sim.seeding import rng

TRADING_DAYS = 252  # annualising a daily volatility: sigma_year = sigma_day x sqrt(252)
CALENDAR_DAYS = 365.0  # theta per calendar day
MIN_VOL = 0.05
TERM_TAU = 0.25  # years: how fast the short end's premium decays
WIDTH_PCT = 0.03  # the displayed half-spread is at least 3% of the value ...
WIDTH_VEGA_PTS = 0.5  # ... and at least half a volatility point of vega


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    """Sensitivities of one option (per share): delta, gamma per 1 of the underlying; vega per volatility
    point; theta per calendar day."""

    delta: float
    gamma: float
    vega: float
    theta: float


def _check(spot: float, strike: float, t: float, vol: float, kind: str) -> None:
    if kind not in ("call", "put"):
        raise ValueError(f"kind must be call or put, not {kind!r}")
    if not (spot > 0 and strike > 0 and t >= 0 and vol >= 0):
        raise ValueError("spot and strike must be positive, time and volatility not negative")


def _d1_d2(spot: float, strike: float, t: float, vol: float, rate: float, dividend: float) -> tuple[float, float]:
    root = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate - dividend + 0.5 * vol * vol) * t) / root
    return d1, d1 - root


def bsm_price(spot: float, strike: float, t: float, vol: float, kind: str, *, rate: float = 0.0, dividend: float = 0.0) -> float:
    """The Black-Scholes-Merton value of a European option (per share); ``t`` in years, ``vol`` annualised."""
    _check(spot, strike, t, vol, kind)
    fwd_s, disc_k = spot * math.exp(-dividend * t), strike * math.exp(-rate * t)
    if t == 0 or vol == 0:
        return max(fwd_s - disc_k, 0.0) if kind == "call" else max(disc_k - fwd_s, 0.0)
    d1, d2 = _d1_d2(spot, strike, t, vol, rate, dividend)
    if kind == "call":
        return fwd_s * norm_cdf(d1) - disc_k * norm_cdf(d2)
    return disc_k * norm_cdf(-d2) - fwd_s * norm_cdf(-d1)


def bsm_greeks(spot: float, strike: float, t: float, vol: float, kind: str, *, rate: float = 0.0, dividend: float = 0.0) -> Greeks:
    """Delta, gamma, vega (per volatility point) and theta (per calendar day) from the same model."""
    _check(spot, strike, t, vol, kind)
    if t == 0 or vol == 0:
        itm = spot > strike if kind == "call" else spot < strike
        return Greeks(delta=(1.0 if kind == "call" else -1.0) if itm else 0.0, gamma=0.0, vega=0.0, theta=0.0)
    d1, d2 = _d1_d2(spot, strike, t, vol, rate, dividend)
    eq, er, sq = math.exp(-dividend * t), math.exp(-rate * t), math.sqrt(t)
    gamma = eq * norm_pdf(d1) / (spot * vol * sq)
    vega = spot * eq * norm_pdf(d1) * sq / 100.0
    decay = -spot * eq * norm_pdf(d1) * vol / (2 * sq)
    if kind == "call":
        delta = eq * norm_cdf(d1)
        theta = decay - rate * strike * er * norm_cdf(d2) + dividend * spot * eq * norm_cdf(d1)
    else:
        delta = -eq * norm_cdf(-d1)
        theta = decay + rate * strike * er * norm_cdf(-d2) - dividend * spot * eq * norm_cdf(-d1)
    return Greeks(delta=delta, gamma=gamma, vega=vega, theta=theta / CALENDAR_DAYS)


def implied_vol(price: float, spot: float, strike: float, t: float, kind: str, *, rate: float = 0.0, dividend: float = 0.0,
                tol: float = 1e-10) -> float | None:
    """The volatility at which the model gives ``price``; None when no volatility does (below intrinsic, above
    the no-arbitrage bound, or at expiry). Bisection on [1e-6, 5]: the value is increasing in volatility."""
    _check(spot, strike, t, 0.0, kind)
    if t == 0:
        return None
    lo, hi = 1e-6, 5.0
    p_lo = bsm_price(spot, strike, t, lo, kind, rate=rate, dividend=dividend)
    p_hi = bsm_price(spot, strike, t, hi, kind, rate=rate, dividend=dividend)
    if not p_lo - tol <= price <= p_hi + tol:
        return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if bsm_price(spot, strike, t, mid, kind, rate=rate, dividend=dividend) < price:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class VolSurface:
    """One underlying's implied volatility by strike and time (see the module's model)."""

    base: float  # annualised at-the-money volatility
    term: float  # short-end premium (fraction of base at T -> 0)
    skew: float  # slope in m = ln(K/F)/sqrt(T); negative: puts richer
    smile: float  # curvature in m

    @classmethod
    def seeded(cls, symbol: str, daily_vol: float, seed: int = 0) -> VolSurface:
        """The surface of ``symbol`` (same in every process): its base from the daily volatility, its shape drawn
        from its own stream."""
        g = rng(seed, "options.surface", symbol)
        return cls(base=daily_vol * math.sqrt(TRADING_DAYS), term=float(g.uniform(0.05, 0.25)),
                   skew=float(g.uniform(-0.25, -0.08)), smile=float(g.uniform(0.02, 0.08)))

    def atm(self, t: float) -> float:
        return self.base * (1.0 + self.term * math.exp(-t / TERM_TAU))

    def vol(self, spot: float, strike: float, t: float, *, rate: float = 0.0, dividend: float = 0.0) -> float:
        """The implied volatility of a ``strike`` option expiring in ``t`` years with the underlying at ``spot``."""
        if t <= 0:
            return self.atm(0.0)
        m = math.log(strike / (spot * math.exp((rate - dividend) * t))) / math.sqrt(t)
        return max(MIN_VOL, self.atm(t) * (1.0 + self.skew * m + self.smile * m * m))


@dataclass(frozen=True)
class OptionQuote:
    """What the simulated options venue displays for one option, with the model behind it."""

    bid: float
    ask: float
    mid: float  # the model value
    vol: float
    greeks: Greeks

    @property
    def vol_pct(self) -> float:
        return 100.0 * self.vol


def option_quote(spot: float, strike: float, t: float, kind: str, surface: VolSurface, *, tick: float = 0.01,
                 rate: float = 0.0, dividend: float = 0.0) -> OptionQuote:
    """The model value, Greeks and displayed quote of one option with the underlying at ``spot``."""
    vol = surface.vol(spot, strike, t, rate=rate, dividend=dividend)
    fair = bsm_price(spot, strike, t, vol, kind, rate=rate, dividend=dividend)
    greeks = bsm_greeks(spot, strike, t, vol, kind, rate=rate, dividend=dividend)
    half = max(tick, WIDTH_PCT * fair, WIDTH_VEGA_PTS * greeks.vega)
    bid = max(0.0, math.floor(round((fair - half) / tick, 9)) * tick)
    ask = math.ceil(round((fair + half) / tick, 9)) * tick
    return OptionQuote(bid=round(bid, 10), ask=round(ask, 10), mid=fair, vol=vol, greeks=greeks)
