"""How a simulated dealer prices a multi-leg package (a spread, a straddle, an option with its delta hedge),
judges an acceptance on last look, and how an executed net price is split into leg prices. Pure Python (no
Django), beside ``rfq.pricing`` (the one-instrument dealer), whose profile, random streams and tick rounding
it reuses.

**A package** is 1-4 legs, each an instrument, our side and a whole ratio; one package is ``ratio`` units of
every leg (contracts of an option, shares of an equity), and a request is for ``quantity`` packages.

**Sign convention and unit.** The *net price* of a package is what the requester pays per package, **in
currency** (the legs' currency):

    net = sum over legs of sign(side) x weight x leg price        (buy: +1, sell: -1)
    weight = ratio x the leg's contract multiplier               (a contract of a listed option is 100 shares)

positive = a debit (we pay), negative = a credit (we receive). A leg's price stays per share (as every order's
price), so an option leg weighs ``ratio x 100`` and a share leg ``ratio``: a call at 5.00 hedged by selling 40
shares at 200.00 nets 1 x 100 x 5.00 - 40 x 200.00 = -7,500.00 per package, which is exactly the cash the two
fills move. (Weighting by the ratio alone would mix a contract's per-share premium with whole shares.) A
dealer's *ask* is the net it wants to receive from a requester who does the package as defined, its *bid* what
it pays for the opposite package; so a requester doing the package as defined trades at the ask, and the best
quote is the lowest ask.

**A dealer's net quote** (:func:`package_respond`), from the legs' model values now (an option's
Black-Scholes-Merton value on the simulated surface, an equity's mid: ``LegMarket.value``) and their vegas:

    value = sum sign x weight x leg value                      the package's model value (its "mid")
    gross = sum weight x |leg value|                           the premium at stake per package
    vega  = sum sign x weight x leg vega                       per volatility point, per package
    half  = gross x (base_spread_bps + size_coef_bps x quantity / SIZE_UNIT) / 10_000
            + vol_coef x |vega| x sqrt(1 + quantity / SIZE_UNIT)
    centre = value + gross x skew_bps / 10_000                 skew > 0: it leans to buy (bid and ask go up)
    bid = floor_tick(centre - half, NET_TICK),  ask = ceil_tick(centre + half, NET_TICK)

so the spread grows with the package's |vega| (half a vega point, times ``vol_coef``) and with its size, and the
skew moves both sides. It answers with ``response_probability`` (the same draw as a one-instrument request)
and quotes the whole package or declines: no partial packages. ``quantity`` packages of more than its
``max_size`` units of the largest leg are declined.

**Cost against the model** (:func:`package_cost_bps`): the net price against the package's model value at
request, in bps of its gross premium (a package's value may be zero or negative; its premium is not).

**Last look** (:func:`package_last_look`): ``rfq.pricing.last_look`` on the package's model value, the move
measured in bps of the gross premium: it rejects when the package's value moved against it by more than
its tolerance since it quoted, else at random.

**The split** (:func:`net_split`): every leg at its model value at quote time rounded to its tick (at least
one tick), then the residual ``net - sum sign x weight x leg price`` put on one leg so that the sum is the net
price exactly: the leg with the largest ``weight x price`` among those whose weight divides the residual at
the price precision (``PRICE_STEP``, 1e-6 per share), at ``price + residual / (sign x weight)``.
A split that would leave a leg at zero or below, or no leg able to take the residual, is refused
(:class:`Unsplittable`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from ems.sim.orders import Side
from rfq.pricing import BPS, ProviderProfile, ProviderResponse, _decline, _rng, ceil_tick, floor_tick, last_look

MAX_LEGS = 4
NET_TICK = 0.01  # a package's net price is quoted in cents, whatever its legs' ticks
SIZE_UNIT = 100  # packages: the size term adds size_coef_bps per 100 packages, the vega term grows as sqrt(1 + q / 100)
PRICE_STEP = Decimal("0.000001")  # a fill's price precision (oms.money.PRICE_Q, numeric(18, 6))


@dataclass(frozen=True)
class LegMarket:
    """One leg as a dealer prices it: our side, its ratio, its model value (per share), its vega (per volatility
    point, per share; 0 for an equity), its tick and its contract multiplier (1 for an equity)."""

    symbol: str
    side: str
    ratio: int
    value: float
    vega: float
    tick: float
    multiplier: int = 1

    @property
    def sign(self) -> int:
        return Side(self.side).sign

    @property
    def weight(self) -> int:
        """Shares per package: what one unit of its per-share price weighs in the package (module docstring)."""
        return self.ratio * self.multiplier


def signed_sum(legs, prices):
    """sum sign(side) x weight x price over ``legs`` (anything with ``side`` and ``weight``) and their per-share
    ``prices`` (floats or Decimals): the net of a package at those prices, in currency per package (positive: a
    debit). The one formula."""
    return sum((Side(leg.side).sign * leg.weight * p for leg, p in zip(legs, prices, strict=True)), 0 * next(iter(prices), 0))


def package_value(legs: list[LegMarket]) -> float:
    """The package's model value per package: the signed sum of its legs' values (positive: a debit)."""
    return signed_sum(legs, [leg.value for leg in legs])


def package_gross(legs: list[LegMarket]) -> float:
    """The premium at stake per package, in currency: sum weight x |value| (the denominator of a package's bps)."""
    return sum(leg.weight * abs(leg.value) for leg in legs)


def package_vega(legs: list[LegMarket]) -> float:
    """The package's vega per package, in currency per volatility point: sum sign x weight x vega."""
    return sum(leg.sign * leg.weight * leg.vega for leg in legs)


def package_half_spread(profile: ProviderProfile, legs: list[LegMarket], quantity: int) -> float:
    """The half-spread a dealer quotes around a package's value, currency per package (module docstring)."""
    size = quantity / SIZE_UNIT
    return (package_gross(legs) * (profile.base_spread_bps + profile.size_coef_bps * size) / BPS
            + profile.vol_coef * abs(package_vega(legs)) * math.sqrt(1.0 + size))


def package_respond(profile: ProviderProfile, *, reference: str, side: str, quantity: int, legs: list[LegMarket]) -> ProviderResponse:
    """Answer a package request: decline, or quote one net bid and/or ask for the whole package (module docstring).
    ``side`` is what the dealer was told: "buy" (the requester does the package as defined), or "two_way"."""
    if side not in ("buy", "two_way"):
        raise ValueError(f"a package request is 'buy' or 'two_way', got {side!r}")
    if not 1 <= len(legs) <= MAX_LEGS:
        raise ValueError(f"a package has 1 to {MAX_LEGS} legs")
    r = _rng(profile, "respond", reference)
    if r.random() >= profile.response_probability:
        return _decline(profile, "declined")
    if quantity < 1 or any(not leg.value > 0 for leg in legs):
        return _decline(profile, "declined: no market in a leg")
    if quantity * max(leg.ratio for leg in legs) > profile.max_size:
        return _decline(profile, "declined: more than its max size")
    gross = package_gross(legs)
    half = package_half_spread(profile, legs, quantity)
    centre = package_value(legs) + gross * profile.skew_bps / BPS
    bid = floor_tick(centre - half, NET_TICK)
    ask = ceil_tick(centre + half, NET_TICK)
    if ask <= bid:
        ask = ceil_tick(bid + NET_TICK, NET_TICK)
    want_bid = side == "two_way"
    shown = f"{bid:.2f} / {ask:.2f}" if want_bid else f"offer {ask:.2f}"
    reason = (f"quoted the {len(legs)}-leg package {shown} (value {package_value(legs):.4f}, vega {package_vega(legs):+.2f}/pt) "
              f"for {quantity:,}")
    return ProviderResponse(True, bid if want_bid else None, quantity if want_bid else None, ask, quantity,
                            int(profile.quote_life_ms), reason)


def package_cost_bps(price: Decimal, value: Decimal, gross: Decimal) -> Decimal:
    """Cost of paying the net ``price`` for a package worth ``value``, bps of its ``gross`` premium (positive = we
    pay above the model)."""
    if not gross > 0:
        return Decimal(0)
    return (price - value) / gross * BPS_D


BPS_D = Decimal(10_000)


def package_last_look(profile: ProviderProfile, *, price: float, value_at_quote: float, value_now: float, gross: float,
                      key: str) -> tuple[bool, str]:
    """Decide whether the dealer honours an acceptance of its net ``price`` (it sold the package to us): the
    one-instrument last look on the package's value, the move in bps of ``gross`` (module docstring)."""
    base = max(gross, 1e-9)
    return last_look(profile, provider_side="sell", price=price, mid_at_quote=base, mid_now=base + (value_now - value_at_quote),
                     key=key)


class Unsplittable(ValueError):
    """The net price cannot be split into positive leg prices on the price grid."""


@dataclass(frozen=True)
class SplitLeg:
    side: str
    ratio: int
    value: Decimal  # model value at quote time, per share
    tick: Decimal
    multiplier: int = 1

    @property
    def weight(self) -> int:
        return self.ratio * self.multiplier


def leg_price_at_tick(value: Decimal, tick: Decimal) -> Decimal:
    """A leg's model value rounded to its tick (half-even), at least one tick."""
    return max(tick, (value / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick)


def net_split(net: Decimal, legs: list[SplitLeg]) -> list[Decimal]:
    """Per-share leg prices, one per leg in order, with sum sign x weight x price == ``net`` exactly (module docstring)."""
    prices = [leg_price_at_tick(leg.value, leg.tick) for leg in legs]
    residual = net - signed_sum(legs, prices)
    if residual == 0:
        return prices
    steps = residual / PRICE_STEP
    if steps != steps.to_integral_value():
        raise Unsplittable(f"net price {net} is finer than the price precision")
    candidates = sorted((i for i, leg in enumerate(legs) if int(steps) % leg.weight == 0),
                        key=lambda i: (-legs[i].weight * prices[i], i))
    for i in candidates:
        leg = legs[i]
        adjusted = prices[i] + residual / (Side(leg.side).sign * leg.weight)
        if adjusted > 0:
            prices[i] = adjusted.quantize(PRICE_STEP, rounding=ROUND_CEILING)
            return prices
    raise Unsplittable(f"net price {net} cannot be split into positive leg prices")


__all__ = [
    "MAX_LEGS", "NET_TICK", "LegMarket", "SplitLeg", "Unsplittable", "leg_price_at_tick", "net_split", "package_cost_bps",
    "package_gross", "package_half_spread", "signed_sum", "package_last_look", "package_respond", "package_value", "package_vega",
]
