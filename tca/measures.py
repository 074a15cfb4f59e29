"""Transaction cost measures: pure functions of prices and quantities (no Django, no market model).

Floats in, floats out; Decimals from the database are accepted at the edges (``float(x)``). ``side`` is
``"buy"`` or ``"sell"`` (or an :class:`ems.sim.orders.Side`); ``s`` below is its sign, +1 buy, -1 sell.

One sign convention for every figure a person or an API client reads: **positive = better for us**
(:func:`ems.sim.measures.slippage_bps`). A cost is a negative figure; nothing is reported as "+ = cost".

**Units** (issue 22): quantities stay in the instrument's unit (shares of an equity, contracts of an option),
prices are per share, and **every currency amount is price x quantity x the instrument's contract multiplier**
``m`` (``oms.models.Instrument.multiplier``: 1 for an equity, 100 for a listed option): a notional, a slippage in
currency, the shortfall's components, fees excepted (they are currency already). :func:`currency` is the one
place the multiplier is applied (:func:`notional`, :func:`slippage_ccy`, :func:`implementation_shortfall` and the
SQL groupings of ``tca.selectors`` go through it); a 10-lot option fill at 2.50 is a notional of
``2.50 x 10 x 100 = 2,500``. Figures in bps are ratios of two currency amounts of the same instrument, so the
multiplier cancels out of them; an aggregate over several instruments weights by currency amounts (below), so
equities and options add up in one unit.

* **Slippage and markouts.**
  Slippage of a price (or average price) ``P`` against a benchmark ``B``:
  ``bps = s (B - P) / B * 1e4`` and ``ccy = s (B - P) q m`` (currency saved). A buy below its benchmark and a
  sell above it are positive; paying up is negative.
  Markout after a fill at ``p``, ``h`` seconds later (:data:`MARKOUT_HORIZONS_S`):
  ``s (mid(t + h) - p) / p * 1e4``: positive = the price went our way after we traded; persistently
  negative markouts at a venue are adverse selection (toxic flow).
* **Implementation shortfall components** (Perold 1988), in currency, as saved against the paper
  portfolio: positive = better than trading everything at the decision price, negative = it cost us. For a
  parent of ``X`` shares (contracts), decision price ``D`` (the quantity-weighted mid when its orders were accepted),
  arrival price ``A`` (the mid when the parent was created), fills ``(q_i, p_i)`` at mids ``m_i``,
  ``Q = sum q_i``, end price ``E`` (the mid at the end of the window) and fees ``F``, each component a
  slippage (:func:`slippage_ccy`) of one price against another::

      delay       = s (D - A) Q m               the price moved between the decision and the arrival
      timing      = s sum q_i (A - m_i) m       the price moved while we worked (drift + our own impact)
      impact      = s sum q_i (m_i - p_i) m     what each fill paid over the mid (half-spread, sweeps)
      opportunity = s (X - Q) (D - E) m         what the unfilled part would have cost at the end
      fees        = -F                          explicit costs (positive: net rebates)
      total       = delay + timing + impact + opportunity + fees
                  = s (Q D - sum q_i p_i) m + opportunity - F        (the telescoping identity)

  (``m`` the contract multiplier, ``m_i`` the mids.) Each component in bps is ``component / (X D m) * 1e4`` (of
  the paper portfolio's value), so the bps add up too. The filled part's is its slippage against ``D``:
  ``delay + timing + impact = slippage_ccy(side, avg_price, D, Q, m)``. (Perold's shortfall, a cost, is
  minus ``total``.)

Spread measures of one fill at ``p`` with the consolidated quote ``bid / ask`` and the mid ``m``:
``spread capture = s (mid_q - p) / (spread / 2)`` with ``mid_q = (bid + ask) / 2``: 1 = traded at our own
side's touch (bought at the bid), 0 = at the midpoint, -1 = paid the far touch, below -1 = through it;
``effective spread = 2 |p - m| / m * 1e4`` bps (always >= 0: what a round trip at that price would cost).

Participation = our filled quantity / the market's volume over the window, the market's prints being the
other participants' (ours are not on the simulated tape): the ratio the algorithms' ``max_participation``
caps.

Aggregates are quantity-weighted (:func:`weighted_bps`): a 10,000-share fill counts a hundred times a
100-share one; across prices and instruments, weight by notional (``q * B * m``) so that the result is the bps
of the summed currency amounts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from ems.sim import measures
from ems.sim.orders import Side

MARKOUT_HORIZONS_S = (1, 10, 60, 300)
IS_COMPONENTS = ("delay", "timing", "impact", "opportunity", "fees", "total")


def side_sign(side: str) -> int:
    """Return +1 for a buy and -1 for a sell (:attr:`ems.sim.orders.Side.sign`), from either vocabulary's
    enum or its value in any case."""
    try:
        return Side(str(getattr(side, "value", side)).lower()).sign
    except ValueError:
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}") from None


def _positive(name: str, x) -> float:
    v = float(x)
    if not v > 0 or math.isinf(v):
        raise ValueError(f"{name} must be a positive price, got {x!r}")
    return v


def slippage_bps(side: str, price: float, benchmark: float) -> float:
    """Return ``s (B - P) / B * 1e4`` in floats (:func:`ems.sim.measures.slippage_bps`, Decimals accepted):
    positive = better than the benchmark."""
    return measures.slippage_bps(side, float(price), _positive("benchmark", benchmark))


def currency(amount, multiplier: int = 1):
    """Return ``amount``, a price per share x a quantity in the instrument's unit (or a sum of such products of
    one instrument), in currency: x the instrument's contract ``multiplier`` (module docstring, "Units"). Any
    number type: Decimals stay Decimals."""
    return amount * int(multiplier)


def notional(price, quantity, multiplier: int = 1):
    """Return the currency value of ``quantity`` units at ``price`` per share: ``p q m``."""
    return currency(price * quantity, multiplier)


def slippage_ccy(side: str, price: float, benchmark: float, qty: int, multiplier: int = 1) -> float:
    """Return ``s (B - P) q m`` in currency: positive = saved against the benchmark."""
    return side_sign(side) * currency((float(benchmark) - float(price)) * int(qty), multiplier)


def slippage_ccy_paid(side: str, benchmark, qty: int, paid, multiplier: int = 1):
    """Return ``s (B q m - paid)``: the currency saved against ``benchmark`` by ``qty`` units that cost ``paid``
    (currency, the multiplier in it: a notional), i.e. :func:`slippage_ccy` of their average price, computed
    from the amount paid so that Decimals stay exact (no rounded average price in between)."""
    return side_sign(side) * (notional(benchmark, qty, multiplier) - paid)


def package_price(legs: Iterable[tuple[str, float, float]]) -> float:
    """The net price of one unit of a package bought, from its legs ``(side, weight, price per share)``:
    ``sum s_i w_i p_i`` (a leg sold in the package counts negative, so a package can cost a credit; a package's
    leg weighs ratio x contract multiplier, ``rfq.package_pricing``). A single option is the package of one leg
    ``("buy", 1, p)``: its own price."""
    return sum(side_sign(side) * float(ratio) * float(price) for side, ratio, price in legs)


def rfq_slippage(side: str, price: float, benchmark: float | None, quantity: int, multiplier: int) -> tuple[float | None, float | None]:
    """An RFQ execution of ``quantity`` units (contracts, packages) at ``price`` against ``benchmark``:
    (``slippage_bps``, or None when the benchmark is not a positive price (a package priced at a credit), and
    ``slippage_ccy`` x the multiplier: ``s (B - P) q m``). Positive = better than the benchmark."""
    if benchmark is None:
        return None, None
    bps = slippage_bps(side, price, benchmark) if float(benchmark) > 0 else None
    return bps, slippage_ccy(side, price, benchmark, quantity, multiplier)


def weighted_bps(rows: Iterable[tuple[float, float]]) -> float | None:
    """Return ``sum bps * w / sum w`` over ``(bps, weight)`` rows; rows whose bps is None are left out
    (a fill with no benchmark). None when no weight is left."""
    num = den = 0.0
    for bps, w in rows:
        if bps is None:
            continue
        w = float(w)
        num += float(bps) * w
        den += w
    return num / den if den else None


@dataclass(frozen=True)
class FillPoint:
    """One fill as the shortfall sees it: quantity, price, the mid at that instant, its fee (currency,
    positive = paid)."""

    side: str
    qty: int
    price: float
    mid: float
    fee: float = 0.0
    time_us: int = 0
    venue: str = ""


@dataclass(frozen=True)
class Shortfall:
    """Implementation shortfall of a parent, by component, in currency (positive = better: saved against the
    paper portfolio, negative = cost) and in bps of ``X * D``."""

    delay: float
    timing: float
    impact: float
    opportunity: float
    fees: float
    total: float
    bps: dict[str, float] = field(default_factory=dict)  # the same keys (IS_COMPONENTS)


def implementation_shortfall(
    *, side: str, quantity: int, decision: float, arrival: float, end_price: float, fills: list[FillPoint],
    multiplier: int = 1,
) -> Shortfall:
    """Decompose a parent's implementation shortfall (module docstring) into delay, timing, impact,
    opportunity and fees, each positive when better for us (a cost is negative), in currency (x the
    instrument's contract ``multiplier``; the fees are currency already)."""
    s = side_sign(side)
    x = int(quantity)
    if x <= 0:
        raise ValueError("quantity must be positive")
    d, a, e = _positive("decision", decision), _positive("arrival", arrival), _positive("end_price", end_price)
    q = sum(int(f.qty) for f in fills)
    if q > x:
        raise ValueError(f"fills ({q}) exceed the parent quantity ({x})")
    if any(side_sign(f.side) != s for f in fills):
        raise ValueError("every fill must be on the parent's side")
    # Each component is a slippage (one formula, one sign): of one price against another, over a quantity.
    m = multiplier
    delay = slippage_ccy(side, a, d, q, m)
    timing = sum(slippage_ccy(side, f.mid, a, f.qty, m) for f in fills)
    impact = sum(slippage_ccy(side, f.price, f.mid, f.qty, m) for f in fills)
    opportunity = slippage_ccy(side, e, d, x - q, m)
    fees = -sum(float(f.fee) for f in fills)
    total = delay + timing + impact + opportunity + fees
    values = dict(zip(IS_COMPONENTS, (delay, timing, impact, opportunity, fees, total), strict=True))
    paper = notional(d, x, m)
    return Shortfall(**values, bps={k: v / paper * 1e4 for k, v in values.items()})


def markout_bps(side: str, price: float, mid_after: float) -> float:
    """Return ``s (mid_after - p) / p * 1e4``: positive = the price moved our way after the fill."""
    p = _positive("price", price)
    return side_sign(side) * (float(mid_after) - p) / p * 1e4


def spread_capture(side: str, price: float, bid: float, ask: float) -> float | None:
    """Return ``s (mid - p) / (spread / 2)`` against the quote (1 = our own touch, 0 = mid, -1 = far
    touch); None without a two-sided, uncrossed quote."""
    bid, ask = float(bid), float(ask)
    if not (math.isfinite(bid) and math.isfinite(ask)) or ask <= bid:
        return None
    return side_sign(side) * ((bid + ask) / 2.0 - float(price)) / ((ask - bid) / 2.0)


def effective_spread_bps(price: float, mid: float) -> float:
    """Return ``2 |p - mid| / mid * 1e4``."""
    m = _positive("mid", mid)
    return 2.0 * abs(float(price) - m) / m * 1e4


def participation(filled: int, market_volume: int) -> float | None:
    """Return our filled quantity as a fraction of the market volume (None: the market printed nothing)."""
    return int(filled) / int(market_volume) if int(market_volume) > 0 else None
