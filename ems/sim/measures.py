"""Execution measures every app shares (pure: no Django), each written once with its sign convention.

``ems.algos`` (backtests), the EMS's own pages, the RFQ platform and TCA import these; TCA's float
measures (:mod:`tca.measures`) build on them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from ems.sim.orders import Side

Number = TypeVar("Number", float, Decimal)


def slippage_bps(side: Side | str, price: Number, benchmark: Number) -> Number:
    """Return the slippage of ``price`` against ``benchmark`` in basis points, ``s (B - P) / B * 10_000``
    with ``s`` = +1 for a buy, -1 for a sell.

    Positive = better than the benchmark: bought below it, or sold above it; paying up is negative.
    Floats in, a float out; Decimals in, an unrounded Decimal out (the caller quantizes). A cost against
    a benchmark (positive = paid away from it) is minus this.
    """
    return Side(side).sign * (benchmark - price) / benchmark * 10_000
