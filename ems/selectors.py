"""EMS reads. The live market view is computed from the seeded model at the current market time.

Nothing here holds the market in memory between requests: a day's arrays are a pure function of
(seed, instrument, venues, day) and are cached per process only as a recomputable convenience.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.conf import settings

from ems.services import venue_profiles
from ems.sim import SESSION_US, US, InstrumentParams, LiveClock, Market, format_clock
from oms.models import Instrument
from oms.services.market_price import PriceTick

RECENT_PRINTS = 25
CHART_MINUTES = 60


def live_clock() -> LiveClock:
    """The deployment's clock: every process derives the same market time from settings."""
    anchor = settings.SIM_ANCHOR
    if anchor is None:  # start of the current UTC day: all processes agree without coordination
        now = datetime.now(UTC)
        anchor = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()
    return LiveClock(speed=settings.SIM_SPEED, anchor_wall=anchor)


def instrument_params(instrument: Instrument) -> InstrumentParams:
    return InstrumentParams(
        instrument.symbol, reference_price=instrument.reference_price, adv=instrument.adv,
        daily_vol=instrument.daily_volatility, spread_bps=instrument.spread_bps,
        tick_size=instrument.tick_size, lot_size=instrument.lot_size,
    )


@lru_cache(maxsize=64)
def _market(params: InstrumentParams, seed: int, day: int, venues) -> Market:
    return Market(params, seed=seed, day=day, venues=venues)


def market_for(instrument: Instrument, day: int, venues=None) -> Market:
    """The simulated market of ``instrument`` on ``day`` over the active venues."""
    venues = venue_profiles() if venues is None else venues
    return _market(instrument_params(instrument), settings.SIM_SEED, day, venues)


def market_prices(instruments, *, wall: float | None = None, venues=None) -> list[PriceTick]:
    """The consolidated bid/ask, mid and last print of each instrument at wall time ``wall`` (default now).

    What the market-data page shows at that moment (same clock, same model), as the OMS stores it for
    pre-trade risk. The ticks are stamped with ``wall`` itself, at µs precision, so that the market
    state behind a stored price can be recomputed exactly from its ``as_of``. An instrument whose book
    has an empty side (no lit venue, or a side we swept) gets no tick: its last price stays and ages.
    """
    as_of = datetime.now(UTC) if wall is None else datetime.fromtimestamp(wall, UTC)
    mt = live_clock().market_time(as_of.timestamp())
    t = min(mt.t_us, SESSION_US)
    venues = venue_profiles() if venues is None else venues
    ticks = []
    for instrument in instruments:
        market = market_for(instrument, mt.day, venues)
        bbo = market.bbo(t)
        if math.isnan(bbo.bid) or math.isnan(bbo.ask):
            continue
        bid, ask = _decimal(bbo.bid), _decimal(bbo.ask)
        _, n_prints = market.print_range(0, t + 1)
        last = _decimal(market.price(int(market.print_ticks(n_prints - 1, n_prints)[0]))) if n_prints else None
        ticks.append(PriceTick(instrument.id, bid, ask, (bid + ask) / 2, last, as_of))
    return ticks


def _decimal(price: float) -> Decimal:
    # Prices come off the tick grid rounded to the tick's decimals: their shortest repr is the exact price.
    return Decimal(repr(price))


def _px(x: float | None, decimals: int = 6) -> float | None:
    return None if x is None or math.isnan(x) else round(x, decimals)


def market_view(instrument: Instrument, *, wall: float | None = None, venues=None, chart_minutes: int = CHART_MINUTES) -> dict:
    """Everything the market-data page shows for one instrument at wall time ``wall`` (default now).

    L2 ladder per lit venue, the consolidated BBO, the latest prints, and a per-second mid and per-minute
    VWAP series for the chart. JSON-ready.
    """
    mt = live_clock().market_time(wall)
    market = market_for(instrument, mt.day, venues)
    t = min(mt.t_us, SESSION_US)
    books = market.snapshots(t)
    bbo = market.bbo(t)
    lo = max(0, t - 120 * US)
    prints = market.prints(lo, t + 1)
    n = len(prints)
    recent = [
        {"t": format_clock(int(prints.time[i]))[:12], "venue": prints.venues[int(prints.venue[i])],
         "price": float(prints.price[i]), "size": int(prints.size[i]), "side": "buy" if prints.side[i] > 0 else "sell"}
        for i in range(n - 1, max(-1, n - 1 - RECENT_PRINTS), -1)
    ]
    start = max(0, t - chart_minutes * 60 * US)
    step = max(US, (t - start) // 600 // US * US)  # at most ~600 chart points
    times, mids = market.mid_series(start, t + 1, step)
    return {
        "symbol": instrument.symbol,
        "day": mt.day,
        "t_us": t,
        "clock": format_clock(t)[:8],
        "speed": live_clock().speed,
        "bbo": {
            "bid": _px(bbo.bid), "bid_size": bbo.bid_size, "ask": _px(bbo.ask), "ask_size": bbo.ask_size,
            "mid": _px(bbo.mid), "spread": _px(bbo.spread),
            "bid_venues": list(bbo.bid_venues), "ask_venues": list(bbo.ask_venues),
        },
        "venues": [
            {"code": code, "bids": [[lvl.price, lvl.size] for lvl in book.bids], "asks": [[lvl.price, lvl.size] for lvl in book.asks]}
            for code, book in books.items()
        ],
        "prints": recent,
        "volume_2m": int(prints.size.sum()) if n else 0,
        "chart": {"t": [int(x) // US for x in times], "mid": [round(float(m), 6) for m in mids]},
    }
