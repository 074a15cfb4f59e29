"""Decimal precision of money figures: prices, average prices and fees are stored to 6 decimal places
(``numeric(18, 6)`` columns), so every price the apps compute is quantized with :data:`PRICE_Q` before it
is written or compared with a stored one."""

from __future__ import annotations

from decimal import Decimal

PRICE_Q = Decimal("0.000001")  # one unit of the last stored decimal of a price, an average price or a fee

__all__ = ["PRICE_Q"]
