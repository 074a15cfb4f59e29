"""The algorithms' only window on the world: :class:`AlgoContext`, and the :class:`Strategy` callbacks.

An execution algorithm is handed a context and answers four callbacks::

    on_start(ctx)            once, at the start of its run
    on_timer(ctx)            at each time it asked for with ctx.wake_at(t_us) / ctx.set_timer(seconds)
    on_report(ctx, report)   at each execution report's delivery (ack, fills, cancel, reject, expiry)
    on_end(ctx)              once, at the end of the run

There is one context class, whoever drives it: the backtest (:func:`ems.algos.backtest.run_backtest`, one
call of the loop over a day), the what-if replay (:mod:`tca.replay`) and the live driver
(:mod:`ems.services.working`, the loop in chunks between Celery ticks, the context saved as JSON between
them). The loop itself is :func:`ems.algos.loop.drive`.

The context has two faces, kept apart by name (tests/ems/algos/test_algorithms.py pins both, and checks
that the algorithms touch only the first):

- **What a strategy may see and do** (:data:`STRATEGY_API`): the time, the market as it is *now* (mid,
  consolidated BBO, a venue's ladder, prints and volume so far, the intraday volume curve known before the
  day), ``send`` / ``place`` / ``cancel`` orders, timers, ``stop``, and its own fills. Never the future,
  never the simulator's internals.
- **What a driver needs** (:data:`DRIVER_API`): the virtual clock, the timers due, the loop's phase
  (``ended``, ``drain_until``), the journal of what happened in a chunk (orders sent and cancelled, reports
  delivered, in order: the live driver writes them to the database in that order), and the JSON round trip
  (:meth:`AlgoContext.state` / :meth:`AlgoContext.from_state`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from ems.sim.clock import US, VirtualClock
from ems.sim.exchange import OrderState, VenueSimulator
from ems.sim.market import BBO, Book, Market, Prints, volume_curve
from ems.sim.orders import ExecutionReport, Fill, OrderRequest, OrderType, Side, TimeInForce

_CURVE = volume_curve()

STRATEGY_API = frozenset({
    "params", "venues", "lit_venues", "dark_venues", "start", "fills", "open_orders", "filled",
    "now", "day", "mid", "bbo", "snapshot", "snapshots", "prints", "market_volume", "market_vwap",
    "expected_volume_share", "send", "place", "cancel", "wake_at", "set_timer", "stop",
})  # fmt: skip
"""What an algorithm may use of its context."""

DRIVER_API = frozenset({
    "clock", "stopped", "ended", "drain_until", "next_timer", "pop_due_timers", "record",
    "algo", "journal", "sent", "cancelled", "order", "state", "from_state", "idle", "owner",
})  # fmt: skip
"""What a driver (the loop, the backtest, the live driver, the replay) uses besides."""


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


@dataclass(frozen=True)
class SentOrder:
    """An order the strategy sent: the venue's order id, the request, when (market µs), and why."""

    order_id: str
    req: OrderRequest
    t_us: int
    reason: str


class AlgoContext:
    """A strategy's context over the simulated market and venues (times are µs since the day's open).

    ``prefix`` starts the client order ids the context gives orders sent without one (``<prefix>C<n>``);
    ``now`` is where its virtual clock starts (default: the simulator's time).
    """

    def __init__(self, market: Market, sim: VenueSimulator, start: int, prefix: str = "", *, now: int | None = None,
                 owner: int | str | None = None) -> None:
        self.params = market.params
        self.venues = tuple(market.venues)
        self.lit_venues = tuple(v for v in self.venues if v.is_lit)
        self.dark_venues = tuple(v for v in self.venues if not v.is_lit)
        self.start = start
        self.fills: list[Fill] = []
        self.open_orders: dict[str, OrderRequest] = {}
        self.filled = {Side.BUY: 0, Side.SELL: 0}
        self._market = market
        self._sim = sim
        self._clock = VirtualClock(market.day, sim.time if now is None else now)
        self._prefix = prefix
        self.owner = owner  # whose orders the simulator is sent (several strategies may share one simulator)
        self._timers: list[tuple[int, int, int]] = []  # (time, seq, period or 0)
        self._timer_seq = 0
        self._n_sent = 0
        self._stopped = False
        self.ended = False  # on_end has run (the loop is draining the reports still in flight)
        self.drain_until: int | None = None
        self.algo: Strategy | None = None  # whose decision log explains each order sent
        self.sent: list[SentOrder] = []
        self.cancelled: list[tuple[str, int]] = []  # (venue order id, market µs)
        # Everything in the order it happened: ("send", SentOrder) | ("cancel", order id, t) | ("report", report)
        self.journal: list[tuple] = []

    # --- time and market (as of now) --------------------------------------------------------------
    @property
    def now(self) -> int:
        """Microseconds since the open."""
        return self._clock.now()

    @property
    def day(self) -> int:
        """Trading-day index."""
        return self._clock.day

    def mid(self) -> float:
        return self._market.mid(self.now)

    def bbo(self) -> BBO:
        return self._market.bbo(self.now)

    def snapshot(self, venue: str) -> Book:
        return self._market.snapshot(venue, self.now)

    def snapshots(self) -> dict[str, Book]:
        return self._market.snapshots(self.now)

    def prints(self, since: int) -> Prints:
        """Market prints from ``since`` up to now."""
        return self._market.prints(since, self.now)

    def market_volume(self, since: int) -> int:
        """Shares printed by the market from ``since`` up to now (our fills excluded)."""
        return self._market.volume(since, self.now)

    def market_vwap(self, since: int) -> float | None:
        return self._market.vwap(since, self.now)

    def expected_volume_share(self, t0: int, t1: int) -> float:
        """Return the share of a day's volume the intraday curve expects in ``[t0, t1)``.

        The U-shaped curve is known before the day (it is the model's, not the realised volume), so a
        VWAP schedule built on it never looks ahead.
        """
        return expected_volume_share(t0, t1)

    # --- orders -------------------------------------------------------------------------------------
    def send(self, req: OrderRequest) -> str:
        """Send an order now; return its venue order id (reports arrive through ``on_report``)."""
        if req.client_order_id is None:
            self._n_sent += 1
            req = OrderRequest(req.venue, req.side, req.qty, req.order_type, req.price, req.tif, f"{self._prefix}C{self._n_sent}")
        order_id = self._sim.submit(req, self.now, owner=self.owner)
        self.open_orders[order_id] = req
        sent = SentOrder(order_id, req, self.now, decision_reason(self.algo))
        self.sent.append(sent)
        self.journal.append(("send", sent))
        return order_id

    def cancel(self, order_id: str) -> None:
        """Ask the venue to cancel ``order_id`` (answered by CANCELLED or CANCEL_REJECTED)."""
        self._sim.cancel(order_id, self.now)
        self.cancelled.append((order_id, self.now))
        self.journal.append(("cancel", order_id, self.now))

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
    def wake_at(self, t_us: int) -> None:
        """Call ``on_timer`` once at ``t_us`` (now, if that is in the past)."""
        self._add_timer(max(int(t_us), self.now), 0)

    def set_timer(self, interval_s: float) -> None:
        """Call ``on_timer`` every ``interval_s`` market seconds from now on."""
        period = int(interval_s * US)
        if period <= 0:
            raise ValueError("timer interval must be positive")
        self._add_timer(self.now + period, period)

    def stop(self) -> None:
        """End the run after the current callback (``on_end`` still runs)."""
        self._stopped = True

    def _add_timer(self, t: int, period: int) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (t, self._timer_seq, period))

    # --- the driver's side -----------------------------------------------------------------------------
    @property
    def clock(self) -> VirtualClock:
        """The context's virtual clock: the loop moves it to each event's time."""
        return self._clock

    @property
    def stopped(self) -> bool:
        """The strategy called :meth:`stop`."""
        return self._stopped

    @property
    def next_timer(self) -> int | None:
        """Market time of the earliest timer the strategy asked for (None: none)."""
        return self._timers[0][0] if self._timers else None

    def pop_due_timers(self, t: int) -> int:
        """Pop the timers due at ``t`` (re-arming periodic ones); return how many fired."""
        n = 0
        while self._timers and self._timers[0][0] <= t:
            _, _, period = heapq.heappop(self._timers)
            if period:
                self._add_timer(t + period, period)
            n += 1
        return n

    def record(self, report: ExecutionReport) -> None:
        """Take ``report`` into the strategy's own fills and open orders, and the journal (the loop calls
        it with each report before the strategy sees it)."""
        if report.fill is not None:
            self.fills.append(report.fill)
            self.filled[report.side] += report.fill.qty
        if report.is_terminal:
            self.open_orders.pop(report.order_id, None)
        self.journal.append(("report", report))

    def order(self, order_id: str) -> OrderState:
        """The venue's view of an order (for drivers and tests; algorithms never use it)."""
        return self._sim.order(order_id)

    def state(self) -> dict:
        """Return the context's working state as plain JSON (timers, counters, open orders, loop phase)."""
        return {
            "v": 1,
            "start": self.start,
            "now": self.now,
            "timers": [list(t) for t in self._timers],
            "timer_seq": self._timer_seq,
            "n_sent": self._n_sent,
            "stopped": self._stopped,
            "ended": self.ended,
            "drain_until": self.drain_until,
            "filled": {side.value: qty for side, qty in self.filled.items()},
            "open_orders": {
                oid: [r.venue, r.side.value, r.qty, r.order_type.value, r.price, r.tif.value, r.client_order_id]
                for oid, r in self.open_orders.items()
            },
        }

    @classmethod
    def from_state(cls, market: Market, sim: VenueSimulator, state: dict, *, prefix: str = "",
                   owner: int | str | None = None) -> AlgoContext:
        """Rebuild a context from :meth:`state` over a restored simulator (its clock at the saved "now")."""
        ctx = cls(market, sim, int(state["start"]), prefix, now=int(state["now"]), owner=owner)
        ctx._timers = [(int(t), int(seq), int(period)) for t, seq, period in state["timers"]]
        heapq.heapify(ctx._timers)
        ctx._timer_seq = int(state["timer_seq"])
        ctx._n_sent = int(state["n_sent"])
        ctx._stopped = bool(state["stopped"])
        ctx.ended = bool(state["ended"])
        ctx.drain_until = None if state["drain_until"] is None else int(state["drain_until"])
        for side in ctx.filled:
            ctx.filled[side] = int(state["filled"][side.value])
        ctx.open_orders = {oid: OrderRequest(*r) for oid, r in state["open_orders"].items()}
        return ctx

    @classmethod
    def idle(cls, sim: VenueSimulator, *, owner: int | str | None = None) -> AlgoContext:
        """A context with no strategy behind it, at the simulator's time, its run over (``ended``): what a
        driver uses to see a parent's orders through when no algorithm may act (paused, halted, cancelling)."""
        ctx = cls(sim.market, sim, sim.time, owner=owner)
        ctx.ended = True
        return ctx


def decision_reason(algo: Strategy | None) -> str:
    """The latest decision of an :class:`~ems.algos.base.ExecutionAlgo` as ``action:reason_code``."""
    log = getattr(algo, "s", {}).get("log") if algo is not None else None
    if not log:
        return ""
    _, action, code, _numbers = log[-1]
    return f"{action}:{code}"


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

__all__ = ["DRIVER_API", "STRATEGY_API", "AlgoContext", "SentOrder", "Strategy", "decision_reason",
           "expected_volume_share"]
