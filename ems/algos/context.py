"""The algorithms' only window on the world: :class:`AlgoContext`, and the :class:`Strategy` callbacks.

An execution algorithm is handed a context and answers four callbacks::

    on_start(ctx)            once, at the start of its run
    on_timer(ctx)            at each time it asked for with ctx.wake_at(t_us) / ctx.set_timer(seconds)
    on_report(ctx, report)   at each execution report's delivery (ack, fills, cancel, reject, expiry)
    on_end(ctx)              once, at the end of the run

The context shows the time, the market as it is *now* (mid, consolidated BBO, a venue's ladder, prints
and volume so far, and the intraday volume curve known before the day), takes orders (``send`` /
``place`` / ``cancel``) and keeps the algorithm's own fills. It never shows the future nor the
simulator's internals, so the same algorithm runs on two drivers: the backtest
(:class:`ems.algos.backtest.BacktestContext`, a virtual clock over :mod:`ems.sim`) and, in the next issue,
the live one (Celery ticks against the same venues). A driver subclasses :class:`AlgoContext`, implements
its abstract methods and calls :meth:`AlgoContext.record` with each report before handing it to the
algorithm.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ems.sim.clock import US
from ems.sim.instrument import InstrumentParams
from ems.sim.market import BBO, Book, Prints, volume_curve
from ems.sim.orders import ExecutionReport, Fill, OrderRequest, OrderType, Side, TimeInForce
from ems.sim.venues import VenueProfile

_CURVE = volume_curve()


class Strategy:
    """Base class of strategies driven through an :class:`AlgoContext`: every callback does nothing
    until overridden."""

    def on_start(self, ctx: AlgoContext) -> None:
        pass

    def on_timer(self, ctx: AlgoContext) -> None:
        pass

    def on_report(self, ctx: AlgoContext, report: ExecutionReport) -> None:
        pass

    def on_end(self, ctx: AlgoContext) -> None:
        pass


class AlgoContext(ABC):
    """What a strategy may see and do at the current instant (times are µs since the day's open)."""

    params: InstrumentParams
    venues: tuple[VenueProfile, ...]
    start: int

    def __init__(self, params: InstrumentParams, venues: tuple[VenueProfile, ...], start: int) -> None:
        self.params = params
        self.venues = tuple(venues)
        self.lit_venues = tuple(v for v in self.venues if v.is_lit)
        self.dark_venues = tuple(v for v in self.venues if not v.is_lit)
        self.start = start
        self.fills: list[Fill] = []
        self.open_orders: dict[str, OrderRequest] = {}
        self.filled = {Side.BUY: 0, Side.SELL: 0}

    # --- time and market (as of now) --------------------------------------------------------------
    @property
    @abstractmethod
    def now(self) -> int:
        """Microseconds since the open."""

    @property
    @abstractmethod
    def day(self) -> int:
        """Trading-day index."""

    @abstractmethod
    def mid(self) -> float: ...

    @abstractmethod
    def bbo(self) -> BBO: ...

    @abstractmethod
    def snapshot(self, venue: str) -> Book: ...

    @abstractmethod
    def snapshots(self) -> dict[str, Book]: ...

    @abstractmethod
    def prints(self, since: int) -> Prints:
        """Market prints from ``since`` up to now."""

    @abstractmethod
    def market_volume(self, since: int) -> int:
        """Shares printed by the market from ``since`` up to now (our fills excluded)."""

    @abstractmethod
    def market_vwap(self, since: int) -> float | None: ...

    def expected_volume_share(self, t0: int, t1: int) -> float:
        """Return the share of a day's volume the intraday curve expects in ``[t0, t1)``.

        The U-shaped curve is known before the day (it is the model's, not the realised volume), so a
        VWAP schedule built on it never looks ahead.
        """
        return expected_volume_share(t0, t1)

    # --- orders -------------------------------------------------------------------------------------
    @abstractmethod
    def send(self, req: OrderRequest) -> str:
        """Send an order now; return its venue order id (reports arrive through ``on_report``)."""

    @abstractmethod
    def cancel(self, order_id: str) -> None:
        """Ask the venue to cancel ``order_id`` (answered by CANCELLED or CANCEL_REJECTED)."""

    def place(
        self,
        venue: str,
        side: Side | str,
        qty: int,
        *,
        price: float | None = None,
        order_type: OrderType | str | None = None,
        tif: TimeInForce | str = TimeInForce.DAY,
    ) -> str:
        """Send a limit order (``price`` given) or a market order (no price) now; return its order id."""
        if order_type is None:
            order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        return self.send(OrderRequest(venue, side, qty, order_type, price, tif))

    # --- timers ---------------------------------------------------------------------------------------
    @abstractmethod
    def wake_at(self, t_us: int) -> None:
        """Call ``on_timer`` once at ``t_us`` (now, if that is in the past)."""

    @abstractmethod
    def set_timer(self, interval_s: float) -> None:
        """Call ``on_timer`` every ``interval_s`` market seconds from now on."""

    @abstractmethod
    def stop(self) -> None:
        """End the run after the current callback (``on_end`` still runs)."""

    # --- own fills (the driver calls record() with each report before the strategy sees it) --------
    def record(self, report: ExecutionReport) -> None:
        if report.fill is not None:
            self.fills.append(report.fill)
            self.filled[report.side] += report.fill.qty
        if report.is_terminal:
            self.open_orders.pop(report.order_id, None)


def expected_volume_share(t0: int, t1: int) -> float:
    """Return the share of a day's volume the model's intraday curve expects in ``[t0, t1)``."""
    return float(_curve_cum(t1) - _curve_cum(t0))


def _curve_cum(t_us: int) -> float:
    """Cumulative expected volume share from the open to ``t_us`` (linear within a minute)."""
    minute, rest = divmod(max(0, int(t_us)), 60 * US)
    if minute >= len(_CURVE):
        return 1.0
    return float(_CUM[minute] + _CURVE[minute] * rest / (60 * US))


_CUM = np.concatenate([[0.0], np.cumsum(_CURVE)])
