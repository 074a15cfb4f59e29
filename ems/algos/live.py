"""The live driver's context: the same algorithms, the same venues, worked in chunks between Celery ticks.

A parent order is worked by one :class:`~ems.sim.exchange.VenueSimulator` (its venues' view of our
orders), one :class:`LiveContext` (the algorithm's timers and clock) and one algorithm
(:class:`~ems.algos.base.ExecutionAlgo`), all three plain JSON between ticks. Each tick restores them,
runs the shared event loop (:func:`ems.algos.backtest.drive`, the very loop of the backtest) up to market
time "now", and saves them again. The market itself is never saved: each tick rebuilds it from the seed
and our fills (``Market(..., fills=...)``), so any worker computes the same prices.

Running a strategy this way, in any number of chunks with a JSON round trip of everything between them,
gives exactly the fills, reports and child orders of one :func:`ems.algos.backtest.run_backtest` over the
same window (tests/ems/algos/test_live_context.py proves it for every algorithm).

The context records what the strategy sent and cancelled during a chunk, and the reports delivered, in the
order they happened (:attr:`LiveContext.journal`), so the Django side can write the child order rows, book
the fills and write the audit events in that order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ems.algos.backtest import BacktestContext, Run, drive
from ems.algos.context import Strategy
from ems.sim.clock import VirtualClock
from ems.sim.exchange import VenueSimulator
from ems.sim.market import Market
from ems.sim.orders import ExecutionReport, Fill, OrderRequest

__all__ = ["LiveContext", "SentOrder", "decision_reason", "drive", "live_state", "pending_fills", "Run"]


@dataclass(frozen=True)
class SentOrder:
    """An order the strategy sent during a chunk: the venue's order id, the request, when, and why."""

    order_id: str
    req: OrderRequest
    t_us: int
    reason: str


class LiveContext(BacktestContext):
    """The algorithm's context under the live driver: a virtual clock the driver moves up to "now"."""

    def __init__(self, market: Market, sim: VenueSimulator, start: int, prefix: str = "", *, now: int | None = None) -> None:
        super().__init__(market, sim, VirtualClock(market.day, sim.time if now is None else now), start, prefix)
        self.sent: list[SentOrder] = []
        self.cancelled: list[tuple[str, int]] = []  # (venue order id, market µs)
        self.strategy: Strategy | None = None  # whose decision log explains each order sent
        # Everything in the order it happened: ("send", SentOrder) | ("cancel", order id, t) | ("report", report)
        self.journal: list[tuple] = []

    def send(self, req: OrderRequest) -> str:
        order_id = super().send(req)
        sent = SentOrder(order_id, self.open_orders[order_id], self.now, decision_reason(self.strategy))
        self.sent.append(sent)
        self.journal.append(("send", sent))
        return order_id

    def cancel(self, order_id: str) -> None:
        super().cancel(order_id)
        self.cancelled.append((order_id, self.now))
        self.journal.append(("cancel", order_id, self.now))

    def record(self, report: ExecutionReport) -> None:
        super().record(report)
        self.journal.append(("report", report))

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
    def from_state(cls, market: Market, sim: VenueSimulator, state: dict, *, prefix: str = "") -> LiveContext:
        """Rebuild a context from :meth:`state` over a restored simulator (its clock at the saved "now")."""
        ctx = cls(market, sim, int(state["start"]), prefix, now=int(state["now"]))
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

    @property
    def next_timer(self) -> int | None:
        """Market time of the earliest timer the strategy asked for (None: none)."""
        return self._timers[0][0] if self._timers else None


def live_state(ctx: LiveContext, sim: VenueSimulator) -> dict:
    """The driver state persisted between ticks: the simulator and the context."""
    return {"sim": sim.state(), "ctx": ctx.state()}


def pending_fills(driver_state: dict) -> list[Fill]:
    """Fills the simulator made whose reports are not delivered yet: part of the market's footprint
    already, but not booked anywhere, so the market of the next tick must be given them too."""
    return VenueSimulator.state_fills(driver_state["sim"]) if driver_state.get("sim") else []


def decision_reason(strategy: Strategy | None) -> str:
    """The latest decision of an :class:`~ems.algos.base.ExecutionAlgo` as ``action:reason_code``."""
    log = getattr(strategy, "s", {}).get("log") if strategy is not None else None
    if not log:
        return ""
    _, action, code, _numbers = log[-1]
    return f"{action}:{code}"
