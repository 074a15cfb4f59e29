"""One parent's TCA figures, computed on the market of its instrument-day rebuilt with our fills (not
saved: ``tca.services.parent_tca_compute`` stores them as the ParentTCA and FillMetrics rows).

**The market.** Every benchmark is read off the deterministic market of the instrument-day rebuilt
exactly as the live driver rebuilds it (``ems.selectors.instrument_day_market``): the seeded model plus
every lit and dark fill of ours on that instrument-day (:func:`day_market`), so the mids, quotes and prints
carry the impact of all our trading. RFQ fills and internal crosses leave no footprint (the driver does
not give them to the model either).

**Signs** (``tca.measures``): slippage and markouts in bps are scores, **positive = better than the
benchmark** (bought below it, sold above it; the price moved our way after the fill), and so are the
implementation shortfall components in currency (saved against the paper portfolio; a cost is negative). Interval VWAP is the market's prints
over the window, **our own prints excluded** (the simulated tape is the other participants'; a VWAP that
contains our trades compares a large order partly with itself and flatters it).

The formulas are the pure modules' (``tca.measures``, ``tca.benchmarks``); this module reads their inputs
through ``tca.selectors`` and turns the results into (unsaved) rows.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
from django.conf import settings

from ems.models import ExecStatus, Fill, ParentOrder
from ems.option_market import option_quote_now
from ems.selectors import instrument_day_market, instrument_params, live_clock, market_now_for, venue_profiles
from ems.sim.clock import SESSION_US, US
from ems.sim.market import BBO, Bars, Market
from oms.models import Instrument
from oms.money import PRICE_Q
from tca.benchmarks import Benchmarks, fill_benchmarks, parent_benchmarks
from tca.measures import (
    IS_COMPONENTS,
    MARKOUT_HORIZONS_S,
    FillPoint,
    Shortfall,
    currency,
    implementation_shortfall,
    participation,
    slippage_bps,
)
from tca.models import FillMetrics, ParentTCA
from tca.selectors import constituent_intakes, market_fills_stamp, parent_fills_in_time

BPS_Q = Decimal("0.0001")
BPS_MAX = Decimal("99999999.9999")  # what a BPS column (12 digits, 4 decimals) holds
CLOSED = (ExecStatus.FILLED, ExecStatus.CANCELLED, ExecStatus.EXPIRED, ExecStatus.DONE_FOR_DAY)  # a GTC parent's day: TCA of that day


# --- the market of an instrument-day ------------------------------------------------------------------

_MARKETS: OrderedDict[tuple, Market] = OrderedDict()
_MARKETS_MAX = 16


class OptionModelMarket:
    """The market TCA reads for a listed option: the options model (``ems.option_market``, the model the options
    venue and the dealers price from) on its underlying's market of the day (:func:`day_market`, with our fills).

    No lit tape of options is simulated: an option's mid at market time ``t`` is its Black-Scholes-Merton value
    with the underlying at its mid at ``t`` (time to expiry from that instant's wall time), its quote the options
    venue's displayed bid and offer around it; it has no prints, so no interval VWAP, no day's volume and no
    participation (left out, never made up). Arrival, decision, TWAP, open / close, the shortfall and the
    markouts all follow the model, so an option parent's figures are in the option's own prices.
    """

    def __init__(self, option: Instrument, underlying_market: Market, day: int):
        self.option, self.underlying_market, self.day = option, underlying_market, day
        self.data = _NoTape()

    def _quote(self, t_us: int):
        spot = self.underlying_market.mid(min(max(int(t_us), 0), SESSION_US))
        at = datetime.fromtimestamp(live_clock().wall_time(self.day, int(t_us)), tz=UTC)
        return option_quote_now(self.option, self.option.underlying, spot, at)

    def mid(self, t_us: int) -> float:
        return self._quote(t_us).mid

    def mids(self, times) -> np.ndarray:
        return np.array([self.mid(int(t)) for t in times], dtype=float)

    def mid_series(self, t0: int, t1: int, step_us: int = US) -> tuple[np.ndarray, np.ndarray]:
        # The model is evaluated per point: at most 400 points, whatever the step asked.
        step = max(int(step_us), (int(t1) - int(t0)) // 400 or 1)
        times = np.arange(int(t0), int(t1), step, dtype=np.int64)
        return times, self.mids(times)

    def bbo(self, t_us: int) -> BBO:
        q = self._quote(t_us)
        return BBO(t_us=int(t_us), bid=q.bid, bid_size=0, ask=q.ask, ask_size=0, bid_venues=(), ask_venues=())

    def twap(self, t0: int, t1: int) -> float:
        times = np.linspace(int(t0), int(t1), 61) if t1 > t0 else np.array([int(t0)])
        return float(self.mids(times).mean())

    def vwap(self, t0: int, t1: int) -> None:
        return None

    def volume(self, t0: int, t1: int) -> int:
        return 0

    def bars(self, t0: int, t1: int, bar_us: int = 60 * US) -> Bars:
        empty = np.array([], dtype=np.int64)
        return Bars(time=empty, open=empty, high=empty, low=empty, close=empty, volume=empty, vwap=empty)


class _NoTape:
    class prints:  # noqa: N801 (the shape of Market.data.prints)
        t = ()


def day_market(instrument: Instrument, day: int) -> Market:
    """The market of the instrument-day rebuilt with every lit / dark fill of ours on it (an option's: the model on
    its underlying's, :class:`OptionModelMarket`).

    Kept per process while the day's fills are unchanged (fills are append-only: their count and highest id
    say whether a new one arrived), so a report shown twice does not replay the footprint twice.
    """
    if instrument.is_option:
        return OptionModelMarket(instrument, day_market(instrument.underlying, day), day)
    n, last = market_fills_stamp(instrument.pk, day)
    key = (instrument.pk, day, n, last, settings.SIM_SEED, venue_profiles(), instrument_params(instrument))
    market = _MARKETS.get(key)
    if market is None:
        market = instrument_day_market(instrument, day)
        _MARKETS[key] = market
        while len(_MARKETS) > _MARKETS_MAX:
            _MARKETS.popitem(last=False)
    else:
        _MARKETS.move_to_end(key)
    return market


def prev_day_market(instrument: Instrument, day: int) -> Market | None:
    return day_market(instrument, day - 1) if day > 0 else None


# --- one parent's figures -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParentFigures:
    """A parent's TCA computed from the market (not saved): the ParentTCA and FillMetrics rows to store,
    the fills they describe (time order), and the measures behind them."""

    tca: ParentTCA
    metrics: list[FillMetrics]
    fills: list[Fill]
    benchmarks: Benchmarks
    shortfall: Shortfall
    decision_price: float


def as_decimal(x: float | None, q: Decimal = PRICE_Q, *, limit: Decimal | None = None) -> Decimal | None:
    """``x`` as a Decimal quantized to ``q``; None when missing, not finite, or beyond ``limit``."""
    if x is None or not math.isfinite(x):
        return None
    d = Decimal(repr(float(x))).quantize(q)
    if limit is not None and abs(d) > limit:
        return None  # a figure the column cannot hold (a price near zero): shown as missing, never wrapped
    return d


def _bps(x: float | None) -> Decimal | None:
    return as_decimal(x, BPS_Q, limit=BPS_MAX)


def execution_end(parent: ParentOrder, fills: list[Fill]) -> int:
    """Market µs the parent's execution window ends: its last fill when FILLED, else where it stopped
    working (its last tick, capped at its end and the close); "now" for a parent still working."""
    last_fill = max((f.market_time_us for f in fills), default=parent.start_us)
    if parent.status == ExecStatus.FILLED:
        return max(last_fill, parent.start_us)
    if parent.status in CLOSED:
        stopped = min(parent.last_tick_us, parent.end_us, SESSION_US)
    else:
        stopped = min(market_now_for(parent), SESSION_US)
    return max(stopped, last_fill, parent.start_us)


def decision_price(parent: ParentOrder, market: Market) -> float:
    """The quantity-weighted mid when the parent's orders were accepted (their intake time on the market
    clock). An order accepted on another market day counts at the parent's start."""
    clock = live_clock()
    num = den = 0.0
    for quantity, created_at in constituent_intakes(parent):
        mt = clock.market_time(created_at.timestamp())
        t = min(max(mt.t_us, 0), parent.end_us, SESSION_US) if mt.day == parent.market_day else parent.start_us
        num += quantity * market.mid(t)
        den += quantity
    return num / den if den else float(parent.arrival_price)


def parent_arrival(parent: ParentOrder, market: Market) -> Decimal:
    """The arrival price TCA measures against: the mid the parent recorded at its creation; an option's, the model's
    mid then (:class:`OptionModelMarket`: a market price row of an option may be missing when the parent is made, and
    its listing's reference price is only a placeholder)."""
    if isinstance(market, OptionModelMarket):
        return as_decimal(market.mid(parent.start_us))
    return parent.arrival_price


def parent_figures(parent: ParentOrder, *, market: Market | None = None, prev_market: Market | None = None) -> ParentFigures:
    """Compute a parent's benchmarks, per-fill metrics and implementation shortfall on the rebuilt market."""
    inst = parent.instrument
    market = market if market is not None else day_market(inst, parent.market_day)
    prev_market = prev_market if prev_market is not None else prev_day_market(inst, parent.market_day)
    fills = parent_fills_in_time(parent)
    end = execution_end(parent, fills)
    arrival = parent_arrival(parent, market)
    bench = parent_benchmarks(market, prev_market, start_us=parent.start_us, end_us=end, arrival=float(arrival))
    decision = decision_price(parent, market)
    metrics, points = [], []
    for f in fills:
        fb = fill_benchmarks(market, side=f.side, price=float(f.price), time_us=f.market_time_us)
        metrics.append(FillMetrics(
            fill=f, mid=as_decimal(fb.mid), spread_bps=_bps(fb.spread_bps), effective_spread_bps=_bps(fb.effective_spread_bps),
            spread_capture=as_decimal(fb.spread_capture, BPS_Q, limit=Decimal("999999.9999")),
            **{f"markout_{h}s_bps": _bps(fb.markouts.get(h)) for h in MARKOUT_HORIZONS_S},
        ))
        points.append(FillPoint(side=f.side, qty=f.quantity, price=float(f.price), mid=fb.mid, fee=float(f.fee),
                                time_us=f.market_time_us, venue=f.venue.code))
    shortfall = implementation_shortfall(side=parent.side, quantity=parent.quantity, decision=decision,
                                         arrival=float(arrival), end_price=bench.end_price, fills=points,
                                         multiplier=inst.multiplier)
    filled = sum(f.quantity for f in fills)
    value = sum((f.price * f.quantity for f in fills), Decimal(0))  # price x quantity: the average price's numerator
    notional = currency(value, inst.multiplier)
    fees = sum((f.fee for f in fills), Decimal(0))
    avg = (value / filled).quantize(PRICE_Q) if filled else None
    prices = {"arrival": bench.arrival, "interval_vwap": bench.interval_vwap, "interval_twap": bench.interval_twap,
              "open": bench.open, "close": bench.close, "prev_close": bench.prev_close}
    slip = {name: (_bps(slippage_bps(parent.side, float(avg), b)) if avg is not None and b else None) for name, b in prices.items()}
    tca = ParentTCA(
        parent=parent, instrument=inst, side=parent.side, strategy=parent.strategy, market_day=parent.market_day,
        start_us=parent.start_us, end_us=end, quantity=parent.quantity, filled_quantity=filled, avg_price=avg,
        notional=notional.quantize(PRICE_Q), fees=fees.quantize(PRICE_Q), decision_price=as_decimal(decision),
        arrival_price=arrival, interval_vwap=as_decimal(bench.interval_vwap), interval_twap=as_decimal(bench.interval_twap),
        open_price=as_decimal(bench.open), close_price=as_decimal(bench.close), prev_close=as_decimal(bench.prev_close),
        slippage_arrival_bps=slip["arrival"], slippage_vwap_bps=slip["interval_vwap"], slippage_twap_bps=slip["interval_twap"],
        slippage_open_bps=slip["open"], slippage_close_bps=slip["close"], slippage_prev_close_bps=slip["prev_close"],
        **{f"is_{k}": as_decimal(getattr(shortfall, k)) for k in IS_COMPONENTS},
        participation=as_decimal(participation(filled, bench.market_volume)),
    )
    return ParentFigures(tca, metrics, fills, bench, shortfall, decision)
