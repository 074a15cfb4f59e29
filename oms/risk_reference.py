"""The price pre-trade risk measures an order against (:class:`RiskReference`), and how prices are written
for people. A read-side rule with no writes: the intake (``oms.services.risk``), the ticket's selector
(``oms.selectors.risk_references``) and the pages all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings


def plain(d: Decimal) -> str:
    """A Decimal for people: no trailing zeros and never exponent notation (100, 0.05, 10)."""
    return format(d.normalize(), "f")


def price_text(d: Decimal) -> str:
    """A price for people: at least two decimals, more only where the price has them (415.20, 456.775)."""
    d = d.normalize()
    return format(d if d.as_tuple().exponent < -2 else d.quantize(Decimal("0.01")), "f")


# --- the price risk measures against ---------------------------------------------------------------

MARKET, STATIC = "market", "reference"


@dataclass(frozen=True, slots=True)
class RiskReference:
    """The price pre-trade risk measures an order against, and where it came from.

    The live market mid (``oms.MarketPrice``, kept current by the EMS) while it is fresh, else the
    instrument's static reference price: a price collar around a price the market left long ago would
    deny orders at the live offer, and value market orders at a price nobody trades at.
    """

    price: Decimal
    source: str  # MARKET or STATIC
    as_of: datetime | None = None  # wall-clock UTC time of the market state (MARKET only)
    max_age_s: int = 0  # how old a market price may be and still be used (STATIC: why it was not)

    @property
    def is_live(self) -> bool:
        return self.source == MARKET

    def describe(self) -> str:
        """E.g. "market mid 456.77 at 14:02:11 UTC" or "reference price 415.20 (no market price in the last 30 s)"."""
        if self.is_live:
            return f"market mid {price_text(self.price)} at {self.as_of:%H:%M:%S} UTC"
        return f"reference price {price_text(self.price)} (no market price in the last {self.max_age_s} s)"


def risk_reference(instrument, mark: tuple[Decimal, datetime] | None, now: datetime) -> RiskReference:
    """The risk reference of ``instrument`` at ``now`` given its latest market ``mark`` (mid, as_of) or None."""
    max_age = settings.RISK_PRICE_MAX_AGE_S
    if mark is not None and now - mark[1] <= timedelta(seconds=max_age):
        return RiskReference(mark[0], MARKET, mark[1], max_age)
    return static_reference(instrument)


def static_reference(instrument) -> RiskReference:
    """The fallback: the instrument's static reference price (reference data, set in the admin)."""
    return RiskReference(instrument.reference_price, STATIC, None, settings.RISK_PRICE_MAX_AGE_S)
