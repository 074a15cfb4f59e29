"""The simulated market maker: how a liquidity provider answers a request for quote and judges an
acceptance on last look. Pure Python (no Django), handed its profile, the request and the market.

Model, per provider (a :class:`ProviderProfile`, built from a ``LiquidityProvider`` row by
``rfq.selectors.provider_profile``) and per request (a :class:`QuoteRequest`: exactly what it was sent):

* **Latency**: log-normal, ``latency_ms = latency_ms_median * exp(latency_ms_sigma * z)``, ``z ~ N(0, 1)``
  (the median is the log-normal's median), at least 1 ms.
* **Answer or decline**: it answers with probability ``response_probability``; a request below one lot, a
  maximum size below one lot or a market without a positive mid is declined too.
* **Size**: whole lots. It quotes ``min(request, max_size)`` (rounded down to lots: "max size" when that
  cuts the request); when it could take the whole request it still quotes only part with probability
  ``partial_probability``: a uniform share of 25-75% of the request's lots (at least one lot, at most one
  lot short of the request).
* **Price**: for the size it quotes, ``q`` shares, of an instrument with ADV ``adv`` and daily volatility
  ``vol`` (the formula documented on ``rfq.models.LiquidityProvider``)::

      half_spread_bps = base_spread_bps + size_coef_bps * 100 * q / adv + vol_coef * vol * 10_000 * sqrt(q / adv)
      centre = mid * (1 + skew_bps / 10_000)      # skew > 0: it leans to buy, so bid and offer both go up
      bid = floor_tick(centre * (1 - half_spread_bps / 10_000))
      ask = ceil_tick(centre * (1 + half_spread_bps / 10_000))

  Rounding goes away from the centre (bid down, ask up) so the tick never makes it quote tighter than its
  model, and a zero spread still leaves bid < ask by one tick.
* **Sides**: a one-way request gets the side the requester needs only (a "buy" request an offer, a "sell"
  request a bid); a two-way request both, for the same size.
* **Life**: the quote is firm for ``quote_life_ms`` (the platform caps it at the window's end).
* **Last look** (:func:`last_look`): on an acceptance it rejects when the mid moved against it by more
  than ``last_look_tolerance_bps`` since it priced the quote (it sold and the mid rose, or it bought and
  the mid fell), else at random with ``last_look_reject_probability``.

Every draw is reproducible: each decision takes a ``random.Random`` seeded by a SHA-256 of ``(seed, code,
purpose, reference or key)`` (Python's ``hash()`` is salted per process), so the same request gets the
same answer in any worker, and one provider's answers do not depend on who else was asked.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from ems.sim.orders import Side

BPS = 10_000.0
PARTIAL_SHARE = (0.25, 0.75)  # a partial quote shows this share of the request's lots (uniform)
_EPS = 1e-9  # float dust guard when snapping to the tick grid


@dataclass(frozen=True)
class ProviderProfile:
    """One simulated market maker's behaviour (floats and ints, from its ``LiquidityProvider`` row)."""

    code: str
    response_probability: float
    latency_ms_median: float
    latency_ms_sigma: float
    base_spread_bps: float
    size_coef_bps: float
    vol_coef: float
    skew_bps: float
    max_size: int
    partial_probability: float
    quote_life_ms: int
    last_look_reject_probability: float
    last_look_tolerance_bps: float
    seed: int


@dataclass(frozen=True)
class QuoteRequest:
    """Exactly what the provider was sent (built from ``Dissemination.payload``)."""

    reference: str
    symbol: str
    side: str  # "buy" | "sell" | "two_way": the requester's side, or hidden
    quantity: int


@dataclass(frozen=True)
class MarketSnapshot:
    """The market the provider prices from."""

    mid: float
    daily_vol: float
    adv: int
    tick_size: float
    lot_size: int


@dataclass(frozen=True)
class ProviderResponse:
    """The provider's answer: a firm quote (one or both sides) or a decline."""

    quotes: bool  # False = declines
    bid: float | None  # the provider buys at bid (what a seller gets)
    bid_size: int | None
    ask: float | None  # the provider sells at ask (what a buyer pays)
    ask_size: int | None
    life_ms: int
    reason: str


SIDES = ("buy", "sell", "two_way")


def _rng(profile: ProviderProfile, purpose: str, key: str) -> random.Random:
    digest = hashlib.sha256(f"{profile.seed}|{profile.code}|{purpose}|{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _decimals(tick: float) -> int:
    return max(0, -Decimal(repr(tick)).normalize().as_tuple().exponent)


def floor_tick(price: float, tick: float) -> float:
    """Round ``price`` down to the tick grid."""
    return round(math.floor(price / tick + _EPS) * tick, _decimals(tick))


def ceil_tick(price: float, tick: float) -> float:
    """Round ``price`` up to the tick grid."""
    return round(math.ceil(price / tick - _EPS) * tick, _decimals(tick))


def half_spread_bps(profile: ProviderProfile, quantity: int, market: MarketSnapshot) -> float:
    """Return the half-spread the provider quotes for ``quantity`` shares, bps of the mid."""
    participation = quantity / max(int(market.adv), 1)
    return (profile.base_spread_bps + profile.size_coef_bps * 100.0 * participation
            + profile.vol_coef * market.daily_vol * BPS * math.sqrt(participation))


def response_latency_ms(profile: ProviderProfile, reference: str) -> int:
    """Return how long the provider takes to answer request ``reference``, ms (log-normal)."""
    z = _rng(profile, "latency", reference).gauss(0.0, 1.0)
    return max(1, round(profile.latency_ms_median * math.exp(profile.latency_ms_sigma * z)))


def _decline(profile: ProviderProfile, reason: str) -> ProviderResponse:
    return ProviderResponse(False, None, None, None, None, profile.quote_life_ms, reason)


def respond(profile: ProviderProfile, request: QuoteRequest, market: MarketSnapshot) -> ProviderResponse:
    """Answer ``request``: decline, or quote the side(s) asked for in whole lots, on the tick grid."""
    if request.side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {request.side!r}")
    r = _rng(profile, "respond", request.reference)
    # Always draw the same numbers in the same order: changing one parameter moves no other decision.
    u_answer, u_partial, u_share = r.random(), r.random(), r.random()
    if u_answer >= profile.response_probability:
        return _decline(profile, "declined")
    if not market.mid > 0:
        return _decline(profile, "declined: no market")
    lot = max(int(market.lot_size), 1)
    want_lots = int(request.quantity) // lot
    max_lots = int(profile.max_size) // lot
    if want_lots < 1:
        return _decline(profile, "declined: less than one lot")
    if max_lots < 1:
        return _decline(profile, "declined: its max size is below one lot")

    note = ""
    lots = min(want_lots, max_lots)
    if lots < want_lots:
        note = " (max size)"
    elif want_lots >= 2 and u_partial < profile.partial_probability:
        lo, hi = PARTIAL_SHARE
        lots = min(want_lots - 1, max(1, math.floor(want_lots * (lo + (hi - lo) * u_share))))
        note = " (partial)"
    size = lots * lot

    h = half_spread_bps(profile, size, market)
    centre = market.mid * (1.0 + profile.skew_bps / BPS)
    tick = market.tick_size
    bid = floor_tick(centre * (1.0 - h / BPS), tick)
    ask = ceil_tick(centre * (1.0 + h / BPS), tick)
    if ask <= bid:  # a zero spread on the grid: keep a one-tick market
        ask = ceil_tick(bid + tick, tick)

    want_bid = request.side in ("sell", "two_way")
    want_ask = request.side in ("buy", "two_way")
    if want_bid and bid <= 0:
        return _decline(profile, "declined: no positive bid")
    if want_bid and want_ask:
        width = (ask - bid) / market.mid * BPS
        reason = f"quoted 2-way {width:.1f} bps wide for {size:,}{note}"
    elif want_ask:
        reason = f"quoted offer {(ask - market.mid) / market.mid * BPS:.1f} bps over mid for {size:,}{note}"
    else:
        reason = f"quoted bid {(market.mid - bid) / market.mid * BPS:.1f} bps under mid for {size:,}{note}"
    return ProviderResponse(
        True,
        bid if want_bid else None, size if want_bid else None,
        ask if want_ask else None, size if want_ask else None,
        int(profile.quote_life_ms), reason,
    )


def last_look(profile: ProviderProfile, *, provider_side: str, price: float, mid_at_quote: float, mid_now: float,
              key: str) -> tuple[bool, str]:
    """Decide whether the provider honours an acceptance of its quote at ``price``: (accepts, reason).

    ``provider_side`` is the provider's side of the trade: "sell" when we buy (it sold at its offer), "buy"
    when we sell. ``key`` identifies the acceptance (the random rejection is reproducible per key).
    """
    if provider_side not in ("buy", "sell"):
        raise ValueError(f"provider_side must be 'buy' or 'sell', got {provider_side!r}")
    if not mid_at_quote > 0:
        raise ValueError("mid_at_quote must be positive")
    moved = (mid_now - mid_at_quote) / mid_at_quote * BPS
    against = -Side(provider_side).sign * moved  # a seller loses when the mid rises
    verb = "sold" if provider_side == "sell" else "bought"
    if against > profile.last_look_tolerance_bps:
        return False, (f"rejected on last look: mid moved {against:.1f} bps against it since it quoted "
                       f"(tolerance {profile.last_look_tolerance_bps:.1f} bps)")
    if _rng(profile, "last_look", key).random() < profile.last_look_reject_probability:
        return False, f"rejected on last look (it rejects {profile.last_look_reject_probability:.0%} at random)"
    return True, (f"{verb} at {price:g} on last look (mid {moved:+.1f} bps since it quoted, "
                  f"tolerance {profile.last_look_tolerance_bps:.1f} bps against it)")
