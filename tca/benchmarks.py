"""Benchmarks of an execution, read off the deterministic market of its instrument-day (no Django).

The caller hands in the :class:`~ems.sim.market.Market` rebuilt exactly as the live driver rebuilds it
(``Market(instrument_params, seed=SIM_SEED, day=day, venues=venue_profiles(), fills=<every lit and dark fill
of ours on that instrument-day>)``), so the mids and prints carry the impact of all our trading: the
benchmarks are those of the market we actually traded in, not of an untouched one.

Per parent (:func:`parent_benchmarks`), over its window ``[start_us, end_us)``:

* arrival: given (the parent's ``arrival_price``, the mid when it was created);
* interval VWAP: :meth:`Market.vwap` of the market's prints in the window. **Our own fills are not in it**:
  the simulated tape is the other participants' trades (our fills move their prices through impact, but
  add no prints). Comparing an order with a VWAP that contains its own trades flatters it, the more so the
  larger its share of the volume (at 100 % participation it is compared with itself and always scores 0);
  the market-only VWAP measures what we did against what everyone else paid;
* interval TWAP: :meth:`Market.twap`, the mean of the mid at each whole second of the window;
* open: the day's first print (the mid at the open on a day without prints); close: the mid at the close
  (``SESSION_US``); previous close: the close of day - 1 (``prev_market``, None without one);
* end price: the mid at ``end_us`` (the implementation shortfall's opportunity cost is priced there);
* market volume: the shares printed in the window (participation's denominator).

Per fill (:func:`fill_benchmarks`): the mid at the fill (the impact of our fills strictly before it), the
consolidated quote the fill met (read one microsecond before the fill: the rebuilt market already shows
the displayed depth the fill itself took), the spread, the effective spread, the spread capture and the
markouts at :data:`tca.measures.MARKOUT_HORIZONS_S` (a horizon past the close uses the close). Signs as in
:mod:`tca.measures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.sim.clock import SESSION_US, US
from ems.sim.market import Market
from tca.measures import MARKOUT_HORIZONS_S, effective_spread_bps, markout_bps, spread_capture


@dataclass(frozen=True)
class Benchmarks:
    """A parent's benchmarks (prices; ``market_volume`` in shares)."""

    arrival: float
    interval_vwap: float | None  # None: no market print in the window
    interval_twap: float
    open: float
    close: float
    prev_close: float | None
    end_price: float
    market_volume: int


@dataclass(frozen=True)
class FillBench:
    """The market around one fill: mid, quoted and effective spread (bps), spread capture, markouts by
    horizon in seconds (bps, positive = the price moved our way)."""

    mid: float
    spread_bps: float | None  # None: one side of the consolidated book was empty
    effective_spread_bps: float
    spread_capture: float | None
    markouts: dict[int, float]


def _clamp(t_us: int) -> int:
    return min(max(int(t_us), 0), SESSION_US)


def day_open(market: Market) -> float:
    """Return the day's first print price (the mid at the open when nothing printed)."""
    times = market.data.prints.t
    if not len(times):
        return market.mid(0)
    t0 = int(times[0])
    return float(market.prints(t0, t0 + 1).price[0])


def parent_benchmarks(market: Market, prev_market: Market | None, *, start_us: int, end_us: int, arrival: float) -> Benchmarks:
    """Return the benchmarks of an execution window ``[start_us, end_us)`` on ``market`` (module docstring)."""
    start, end = _clamp(start_us), _clamp(end_us)
    if end < start:
        raise ValueError("the window must not end before it starts")
    return Benchmarks(
        arrival=float(arrival),
        interval_vwap=market.vwap(start, end),
        interval_twap=market.twap(start, end),
        open=day_open(market),
        close=market.mid(SESSION_US),
        prev_close=prev_market.mid(SESSION_US) if prev_market is not None else None,
        end_price=market.mid(end),
        market_volume=market.volume(start, end),
    )


def fill_benchmarks(market: Market, *, side: str, price: float, time_us: int) -> FillBench:
    """Return the mid, spreads, spread capture and markouts of one fill of ours (module docstring)."""
    t = _clamp(time_us)
    p = float(price)
    mid = market.mid(t)
    quote = market.bbo(max(t - 1, 0))
    two_sided = math.isfinite(quote.bid) and math.isfinite(quote.ask) and quote.ask > quote.bid
    return FillBench(
        mid=mid,
        spread_bps=(quote.ask - quote.bid) / quote.mid * 1e4 if two_sided else None,
        effective_spread_bps=effective_spread_bps(p, mid),
        spread_capture=spread_capture(side, p, quote.bid, quote.ask) if two_sided else None,
        markouts={h: markout_bps(side, p, market.mid(min(t + h * US, SESSION_US))) for h in MARKOUT_HORIZONS_S},
    )


def cumulative_vwap(market: Market, start: int, t1: int, step: int) -> dict:
    """The market's VWAP from ``start`` to each step (our prints are not on the tape)."""
    if t1 <= start:
        return {"t": [], "price": []}
    bars = market.bars(start, t1, step)
    vol, notional = 0, 0.0
    ts, px = [], []
    for k in range(len(bars.time)):
        vol += int(bars.volume[k])
        notional += float(bars.vwap[k]) * int(bars.volume[k])
        if vol:
            ts.append(int(bars.time[k] + step) // US)
            px.append(round(notional / vol, 6))
    return {"t": ts, "price": px}
