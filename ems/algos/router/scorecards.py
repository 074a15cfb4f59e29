"""Venue scorecards (pure): each venue's record computed from our past orders, fills and reports.

The router (:mod:`ems.algos.router.planning`) blends a scorecard into a venue's score in proportion to the
evidence behind it: the measured effective cost replaces the book's promise, an adverse markout (the mid
moved against our fills afterwards) is added, and so is the cost of misses; the measured latency replaces
the profile's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from ems.sim.orders import ExecutionReport, Fill, Side


@dataclass(frozen=True, slots=True)
class VenueScorecard:
    """A venue's record, computed from our past orders and fills (never typed in).

    ``fill_rate``: shares filled / shares sent; ``avg_latency_us``: one-way report latency measured on
    reports (``time - transact_time``; NaN without reports); ``effective_cost_bps``: quantity-weighted
    ``side (price - mid at the fill) / mid`` plus fees, positive = cost; ``markout_bps``: quantity-weighted
    ``side (mid(t + horizon) - mid(t)) / mid`` after our fills, positive = the price went on in our
    direction (a negative markout is adverse selection); ``n_orders``: orders sent there.
    """

    venue: str
    fill_rate: float
    avg_latency_us: float
    effective_cost_bps: float
    markout_bps: float
    n_orders: int


class _OrderLike(Protocol):
    venue: str
    qty: int


def scorecards_from_fills(
    fills: Iterable[Fill],
    orders: Iterable[_OrderLike],
    market_mid_at: Callable[[int], float],
    horizon_us: int,
    reports: Iterable[ExecutionReport] = (),
) -> dict[str, VenueScorecard]:
    """Return ``{venue: VenueScorecard}`` from past ``orders`` (anything with ``venue`` and ``qty``: an
    ``OrderRequest`` or the simulator's ``OrderState``), their ``fills``, the market mid at a time and the
    markout ``horizon_us``; ``reports`` (optional) give the measured latency."""
    sent: dict[str, list[int]] = {}
    for o in orders:
        acc = sent.setdefault(o.venue, [0, 0])
        acc[0] += 1
        acc[1] += int(o.qty)
    per: dict[str, list[float]] = {}  # venue -> [filled, cost numerator, markout numerator, mid notional]
    for f in fills:
        mid = market_mid_at(f.time)
        later = market_mid_at(f.time + horizon_us)
        sign = Side(f.side).sign
        acc = per.setdefault(f.venue, [0.0, 0.0, 0.0, 0.0])
        acc[0] += f.qty
        acc[1] += sign * (f.price - mid) * f.qty + f.fee
        acc[2] += sign * (later - mid) * f.qty
        acc[3] += mid * f.qty
    latency: dict[str, list[float]] = {}
    for r in reports:
        acc = latency.setdefault(r.venue, [0.0, 0.0])
        acc[0] += r.time - r.transact_time
        acc[1] += 1
    out = {}
    for venue in sorted(set(sent) | set(per)):
        n_orders, qty = sent.get(venue, (0, 0))
        filled, cost, markout, notional = per.get(venue, (0.0, 0.0, 0.0, 0.0))
        lat = latency.get(venue)
        out[venue] = VenueScorecard(
            venue=venue,
            fill_rate=min(1.0, filled / qty) if qty else 0.0,
            avg_latency_us=lat[0] / lat[1] if lat else math.nan,
            effective_cost_bps=cost / notional * 1e4 if notional else math.nan,
            markout_bps=markout / notional * 1e4 if notional else math.nan,
            n_orders=n_orders,
        )
    return out
