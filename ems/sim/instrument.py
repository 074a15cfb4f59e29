"""Reference data of one simulated instrument, in its own module so that the market model
(:mod:`ems.sim.market`), the impact model (:mod:`ems.sim.impact`) and the algorithms can all import it
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class InstrumentParams:
    """Simulation parameters of one instrument (the Instrument row's reference data)."""

    symbol: str
    reference_price: float
    adv: int  # average daily volume, shares
    daily_vol: float  # daily volatility of log price, e.g. 0.02
    spread_bps: float  # typical quoted spread
    tick_size: float = 0.01
    lot_size: int = 100
    listed_option: bool = False  # an option: no lit book of it is simulated; strategy selection sends it to RFQ

    def __post_init__(self) -> None:
        # Accept Decimal / str from a database row; keep floats and ints inside the model.
        for name in ("reference_price", "daily_vol", "spread_bps", "tick_size"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("adv", "lot_size"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if min(self.reference_price, self.adv, self.daily_vol, self.spread_bps, self.tick_size, self.lot_size) <= 0:
            raise ValueError(f"instrument parameters must be positive: {self}")

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick_size)


@lru_cache(maxsize=64)
def _decimals(tick: float) -> int:
    return max(0, -Decimal(repr(tick)).normalize().as_tuple().exponent)
