"""Simulated market and venues (pure Python + NumPy: nothing here imports Django or the apps).

Main entry points::

    params = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5)
    market = Market(params, seed=7, day=3)              # one instrument-day, optionally replaying our fills
    market.snapshot("XSMA", t_us) / market.snapshots(t_us) / market.bbo(t_us) / market.mid(t_us)
    market.prints(t0, t1) / market.tape(t0, t1) / market.vwap(t0, t1) / market.bars(t0, t1)
    sim = VenueSimulator(market); sim.submit(OrderRequest(...), t_send); sim.advance(t) -> reports
    LiveClock(speed=60, anchor_wall=...).market_time() -> MarketTime(day, t_us)

Times are integer microseconds since the 09:30 open of a simulated day (see :mod:`ems.sim.clock`).
"""

from ems.sim.clock import (
    SESSION_SECONDS,
    SESSION_US,
    US,
    Clock,
    LiveClock,
    MarketTime,
    VirtualClock,
    format_clock,
    market_datetime,
)
from ems.sim.exchange import OrderState, VenueSimulator
from ems.sim.impact import Footprint, ImpactParams, ImpactState, walk_book
from ems.sim.instrument import InstrumentParams
from ems.sim.market import (
    BBO,
    N_LEVELS,
    Bars,
    Book,
    Level,
    Market,
    MarketDay,
    Prints,
    Quotes,
    Tape,
    market_day,
    volume_curve,
)
from ems.sim.orders import (
    ExecutionReport,
    Fill,
    Liquidity,
    OrderRequest,
    OrderType,
    ReportKind,
    Side,
    TimeInForce,
)
from ems.sim.venues import DARK, DEFAULT_VENUES, LIT, VenueProfile

__all__ = [
    "BBO",
    "Bars",
    "Book",
    "Clock",
    "DARK",
    "DEFAULT_VENUES",
    "ExecutionReport",
    "Fill",
    "Footprint",
    "ImpactParams",
    "ImpactState",
    "InstrumentParams",
    "LIT",
    "Level",
    "Liquidity",
    "LiveClock",
    "Market",
    "MarketDay",
    "MarketTime",
    "N_LEVELS",
    "OrderRequest",
    "OrderState",
    "OrderType",
    "Prints",
    "Quotes",
    "ReportKind",
    "SESSION_SECONDS",
    "SESSION_US",
    "Side",
    "Tape",
    "TimeInForce",
    "US",
    "VenueProfile",
    "VenueSimulator",
    "VirtualClock",
    "format_clock",
    "market_datetime",
    "market_day",
    "volume_curve",
    "walk_book",
]
