"""Simulated lit exchanges and dark pools for one instrument-day, event driven on market time.

Rules (one :class:`VenueSimulator` runs every venue of one :class:`~ems.sim.market.Market`):

* Latency: an order (or cancel) sent at ``t`` reaches the venue at ``t + latency_us``; the venue's
  reports carry that ``transact_time`` and reach us ``latency_us`` later (``ExecutionReport.time``).
* Lit, marketable on arrival: walks the venue's displayed ladder at arrival time (one fill per price
  level, TAKER); what it takes leaves the displayed book and refills (see :class:`~ems.sim.impact.Footprint`).
  The remainder of an IOC or MARKET order is CANCELLED (a market order never rests); a DAY limit rests.
  Depth taken at an instant is gone at that instant: a second order of ours in the same microsecond
  walks what the first left.
* Lit, resting: fills at its limit (MAKER) from market prints on its venue whose aggressor is on the other
  side (a seller-initiated print, at the bid, fills our buys) and that reach it: at its price, or through it
  (a sell print below our bid).
* One venue's book is shared by all our orders (of every owner): **a print of S shares fills at most S across
  all of them**, from one pool in price-time priority. First the orders it trades through (limit better than
  the print's price), best limit first, then in arrival order, each taking what it can; then, from what is
  left, the line at the print's price. That line is market shares and our orders in arrival order, each of
  ours keeping ``queue`` = the market shares ahead of it: on arrival, the displayed size at its price (0 if
  it improves the touch), and never less than the queue of our earlier orders still resting at that price
  on that venue and side (it is behind them). With S' shares left, our orders o at the price, in arrival
  order, get ``clamp(S' - o.queue - B_o, 0, o.leaves)`` where ``B_o`` is the leaves (before this print) of
  our earlier orders there; each queue then drops by the market shares the print took ahead of the order,
  ``o.queue = max(0, o.queue - max(0, S' - F_o))`` with ``F_o`` what ours ahead got from it. Queues are never
  replenished by cancellations ahead of us (a conservative queue model); ours never trade with each other
  (resting orders are not in the displayed book that marketable orders walk).
* Dark: orders below the pool's ``min_size`` are REJECTED; hidden contra interest (never below
  ``min_size``) is present in a given second with the pool's ``fill_probability``; we cross with it at the
  consolidated lit midpoint (MID), subject to our optional limit. An order crosses on arrival with the
  contra present in that second (an IOC sees nothing else); a DAY order then waits and crosses with each
  contra that shows up after its arrival (at its seeded instant within its second). A dark MARKET order is an
  unpriced midpoint peg and keeps its time in force. **A contra fills at most its size across all our
  orders**: at its instant the orders resting in the pool cross it in arrival order, each from what is left;
  an order arriving in its second before that instant crosses it on arrival and leaves the rest to them.
* DAY orders still working at the close are EXPIRED. Orders reaching a venue after the close are REJECTED.

Persistence: :meth:`VenueSimulator.state` is plain JSON and :meth:`VenueSimulator.from_state` carries on
from it exactly; the market's footprint is rebuilt by the caller from the fills. The live driver keeps one
simulator per instrument-day in the owning worker's memory (:meth:`VenueSimulator.compact` after each tick
keeps it as small as its open orders) and saves its state for a worker that takes over. Each order may
carry an ``owner`` (e.g. its parent order's id) so that one simulator can serve many parents; matching
ignores it.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from ems.sim.clock import SESSION_US, US
from ems.sim.impact import walk_book
from ems.sim.market import Market
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
from ems.sim.venues import VenueProfile

_NEVER = 1 << 62
_ARRIVE, _CANCEL, _CLOSE = 0, 1, 2
_CLEARS_LEAVES = (ReportKind.CANCELLED, ReportKind.REJECTED, ReportKind.EXPIRED)


class _Order:
    __slots__ = (
        "order_id",
        "client_order_id",
        "req",
        "venue",
        "side",
        "sign",
        "qty",
        "limit",
        "ioc",
        "lit_i",
        "dark_j",
        "cum",
        "notional",
        "n_fills",
        "queue",
        "done",
        "owner",
    )

    def __init__(
        self, order_id: str, req: OrderRequest, venue: VenueProfile, limit: int | None, owner: int | str | None = None
    ) -> None:
        self.order_id = order_id
        self.client_order_id = req.client_order_id or order_id
        self.req = req
        self.venue = venue
        self.side = req.side
        self.sign = req.side.sign
        self.qty = req.qty
        self.limit = limit  # price ticks, None = no limit
        # A lit market order never rests; a dark "market" order is an unpriced midpoint peg and keeps its TIF.
        self.ioc = req.tif is TimeInForce.IOC or (req.order_type is OrderType.MARKET and venue.is_lit)
        self.lit_i = -1
        self.dark_j = -1
        self.cum = 0
        self.notional = 0.0
        self.n_fills = 0
        self.queue = 0  # market shares ahead of us at our price (lit, resting); ours ahead are not in it
        self.done = False
        self.owner = owner


@dataclass(frozen=True, slots=True)
class OrderState:
    """A read-only view of an order at the venue."""

    order_id: str
    client_order_id: str
    venue: str
    side: Side
    qty: int
    cum_qty: int
    leaves_qty: int
    avg_price: float | None
    queue_ahead: int  # lit, resting: market shares ahead at our price (our own orders ahead are not counted)
    is_open: bool
    owner: int | str | None = None  # as given to VenueSimulator.submit


class VenueSimulator:
    """Run every venue of ``market``: accept orders and cancels, match them, and emit execution reports.

    Drive it forward with :meth:`advance` (everything up to a time) or :meth:`step` (up to the next
    report delivery, for an event loop that reacts at that instant). ``id_prefix`` namespaces order and
    exec ids when several simulators' fills share one store (ids are otherwise
    ``<venue>-<symbol>-<day>-<n>`` and ``<order id>-<k>``).
    """

    def __init__(self, market: Market, *, id_prefix: str = "") -> None:
        self.market = market
        self.time = 0
        self.fills: list[Fill] = []
        self._prefix = id_prefix
        self._lit_index = market.lit_index
        self._dark_index = {v.code: j for j, v in enumerate(v for v in market.venues if not v.is_lit)}
        self._events: list[tuple[int, int, int, object]] = []
        self._outbox: list[tuple[int, int, ExecutionReport]] = []
        self._seq = 0
        self._orders: dict[str, _Order] = {}
        # Resting orders by id, in arrival order; the same lit orders by line (venue, sign, limit) and dark
        # ones by (pool, sign), each in arrival order, so matching looks only where a print or contra can reach.
        self._lit_resting: dict[str, _Order] = {}
        self._dark_resting: dict[str, _Order] = {}
        self._lines: dict[tuple[int, int, int], list[_Order]] = {}
        self._pools: dict[tuple[int, int], list[_Order]] = {}
        self._pcursor = 0  # next market print to apply to resting lit orders
        self._ccursor = [0] * len(self._dark_index)  # next contra per dark pool
        self._contra_used: dict[tuple[int, int], int] = {}
        self._closed = False
        self._n = 0  # orders ever sent: numbers venue order ids, and goes on across state() / from_state()
        self._push(SESSION_US, _CLOSE, None)

    # --- requests -----------------------------------------------------------------------------------
    def submit(self, req: OrderRequest, t_send: int, *, owner: int | str | None = None) -> str:
        """Send ``req`` at ``t_send``; return the venue order id. Reports follow via :meth:`advance` / :meth:`step`.

        ``owner`` (e.g. the parent order's id) is kept with the order and handed back by :meth:`owner_of`
        and :meth:`order`; matching never looks at it. It must be JSON-serialisable (it goes into :meth:`state`).
        """
        self._check_time(t_send)
        profile = self.market.venue_by_code.get(req.venue)
        if profile is None:
            raise KeyError(f"unknown venue {req.venue!r}")
        self._n += 1
        order_id = f"{self._prefix}{req.venue}-{self.market.params.symbol}-{self.market.day}-{self._n}"
        # A lit market order has no limit; on a dark pool a price on any order caps the midpoint.
        lit_market = profile.is_lit and req.order_type is OrderType.MARKET
        limit = None if req.price is None or lit_market else self.market.ticks(req.price)
        o = _Order(order_id, req, profile, limit, owner)
        if profile.is_lit:
            o.lit_i = self._lit_index[profile.code]
        else:
            o.dark_j = self._dark_index[profile.code]
        self._orders[order_id] = o
        self._push(t_send + profile.latency_us, _ARRIVE, o)
        return order_id

    def cancel(self, order_id: str, t_send: int) -> None:
        """Send a cancel for ``order_id`` at ``t_send`` (answered by CANCELLED or CANCEL_REJECTED)."""
        self._check_time(t_send)
        o = self._orders[order_id]
        self._push(t_send + o.venue.latency_us, _CANCEL, o)

    def order(self, order_id: str) -> OrderState:
        o = self._orders[order_id]
        return OrderState(
            o.order_id,
            o.client_order_id,
            o.venue.code,
            o.side,
            o.qty,
            o.cum,
            0 if o.done else o.qty - o.cum,
            o.notional / o.cum if o.cum else None,
            o.queue,
            not o.done,
            o.owner,
        )

    def owner_of(self, order_id: str) -> int | str | None:
        """Return the ``owner`` given to :meth:`submit` for ``order_id`` (KeyError for an order dropped by
        :meth:`state`, as in :meth:`order`)."""
        return self._orders[order_id].owner

    def orders(self) -> list[OrderState]:
        """Every order sent, in sending order."""
        return [self.order(order_id) for order_id in self._orders]

    def open_orders(self, *, owner: int | str | None = None) -> list[OrderState]:
        """The orders still working at the venues (``owner``'s only, when given), in sending order."""
        return [self.order(o.order_id) for o in self._orders.values() if not o.done and (owner is None or o.owner == owner)]

    def busy_for(self, owner: int | str | None) -> bool:
        """Whether anything of ``owner``'s is in flight: an order working or travelling, a cancel travelling,
        a report not delivered (:attr:`busy`, for one owner of a shared simulator)."""
        return (any(not o.done and o.owner == owner for o in self._orders.values())
                or any(payload is not None and payload.owner == owner for _, _, _, payload in self._events)
                or any(self._orders[r.order_id].owner == owner for _, _, r in self._outbox))

    def next_report_time(self) -> int | None:
        """Delivery time of the earliest report already produced (more may appear as time advances)."""
        return self._outbox[0][0] if self._outbox else None

    @property
    def busy(self) -> bool:
        """Whether anything is in flight: orders or cancels travelling, reports undelivered, or orders resting."""
        return bool(self._outbox or len(self._events) > (0 if self._closed else 1) or self._lit_resting or self._dark_resting)

    # --- persistence --------------------------------------------------------------------------------
    def state(self) -> dict:
        """Return everything needed to carry on later, as plain JSON: time, counters, the orders that may
        still matter (working, travelling, or with a report not yet delivered), the event heap (arrivals
        and cancels in flight, the close), the undelivered reports, the print cursor and the dark pools'
        cursors and used contra. Orders that are done and whose reports were all delivered are dropped
        (the order counter goes on, so no venue order id or exec id ever repeats).

        The market's footprint is not in it: restore with a :class:`Market` built with ``fills=`` every
        fill so far, including :meth:`state_fills` (the fills of reports still undelivered)."""
        keep = self._still_matter()
        return {
            "v": 1,
            "time": self.time,
            "seq": self._seq,
            "n": self._n,
            "closed": self._closed,
            "pcursor": self._pcursor,
            "ccursor": list(self._ccursor),
            "contra_used": [[j, k, q] for (j, k), q in self._contra_used.items()],
            "orders": [_order_state(o) for o in self._orders.values() if o.order_id in keep],
            "lit_resting": list(self._lit_resting),
            "dark_resting": list(self._dark_resting),
            "events": [[t, seq, kind, None if payload is None else payload.order_id] for t, seq, kind, payload in self._events],
            "outbox": [[t, seq, _report_state(r)] for t, seq, r in self._outbox],
        }

    @classmethod
    def from_state(cls, market: Market, state: dict, *, id_prefix: str = "") -> VenueSimulator:
        """Rebuild a simulator from :meth:`state` (e.g. after ``json.loads``) over ``market``."""
        sim = cls(market, id_prefix=id_prefix)
        sim.time = int(state["time"])
        sim._seq = int(state["seq"])
        sim._n = int(state["n"])
        sim._closed = bool(state["closed"])
        sim._pcursor = int(state["pcursor"])
        sim._ccursor = [int(c) for c in state["ccursor"]]
        sim._contra_used = {(int(j), int(k)): int(q) for j, k, q in state["contra_used"]}
        sim._orders = {}
        for d in state["orders"]:
            o = sim._order_from_state(d)
            sim._orders[o.order_id] = o
        for order_id in state["lit_resting"] + state["dark_resting"]:
            sim._rest(sim._orders[order_id])
        # Saved in heap order: a list in heap order is a heap.
        sim._events = [(int(t), int(seq), int(kind), None if oid is None else sim._orders[oid]) for t, seq, kind, oid in state["events"]]
        sim._outbox = [(int(t), int(seq), _report_from_state(r)) for t, seq, r in state["outbox"]]
        heapq.heapify(sim._events)
        heapq.heapify(sim._outbox)
        return sim

    def _still_matter(self) -> set[str]:
        keep = {o.order_id for o in self._orders.values() if not o.done}
        keep.update(payload.order_id for _, _, kind, payload in self._events if kind != _CLOSE)
        keep.update(r.order_id for _, _, r in self._outbox)
        return keep

    def compact(self) -> None:
        """Forget what can no longer matter, as :meth:`state` leaves it out: orders done with every report
        delivered, the fills list, and the dark contra already passed. A simulator kept in memory all day (the
        live driver's) then costs per call what its open orders cost, not what the day has done."""
        keep = self._still_matter()
        self._orders = {k: o for k, o in self._orders.items() if k in keep}
        self.fills.clear()
        sec = self.time // US
        self._contra_used = {(j, k): q for (j, k), q in self._contra_used.items()
                             if k >= self._ccursor[j] or int(self.market.data.contra(j).sec[k]) >= sec}

    @staticmethod
    def state_fills(state: dict) -> list[Fill]:
        """The fills of the reports in ``state`` not delivered yet (already in the footprint, not yet booked)."""
        return [f for f in (_report_from_state(r).fill for _, _, r in state["outbox"]) if f is not None]

    def _order_from_state(self, d: dict) -> _Order:
        req = OrderRequest(d["venue"], d["side"], d["qty"], d["order_type"], d["price"], d["tif"], d["client_order_id"])
        o = _Order(d["order_id"], req, self.market.venue_by_code[d["venue"]], d["limit"])
        o.client_order_id = d["client_order_id"]
        o.ioc = bool(d["ioc"])
        o.lit_i, o.dark_j = int(d["lit_i"]), int(d["dark_j"])
        o.cum, o.notional, o.n_fills = int(d["cum"]), float(d["notional"]), int(d["n_fills"])
        o.queue, o.done = int(d["queue"]), bool(d["done"])
        o.owner = d.get("owner")  # states saved before owners existed carry none
        return o

    # --- time ---------------------------------------------------------------------------------------
    def advance(self, t_until: int) -> list[ExecutionReport]:
        """Run the venues up to ``t_until``; return every report delivered meanwhile, in delivery order."""
        out = self.step(t_until)
        while self.time < t_until:
            out.extend(self.step(t_until))
        return out

    def step(self, t_until: int) -> list[ExecutionReport]:
        """Run the venues up to ``t_until`` or to the first report delivery before it, whichever is first.

        Sets :attr:`time` to where it stopped and returns the reports delivered at that instant, so an
        event loop can react (send orders) at exactly that time.
        """
        self._check_time(t_until)
        while True:
            stop = min(t_until, self._outbox[0][0] if self._outbox else _NEVER)
            event_time = self._events[0][0] if self._events else _NEVER
            horizon = min(stop, event_time)
            if (self._lit_resting or self._dark_resting) and self._match_resting(horizon):
                continue
            if event_time <= stop:
                _, _, kind, payload = heapq.heappop(self._events)
                self.time = max(self.time, event_time)
                if kind == _ARRIVE:
                    self._arrive(payload, event_time)
                elif kind == _CANCEL:
                    self._cancel(payload, event_time)
                else:
                    self._close(event_time)
                continue
            self.time = max(self.time, stop)
            break
        out = []
        while self._outbox and self._outbox[0][0] <= self.time:
            out.append(heapq.heappop(self._outbox)[2])
        return out

    def _check_time(self, t: int) -> None:
        if t < self.time:
            raise ValueError(f"time {t} is before the simulator's time {self.time}")

    def _push(self, t: int, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, kind, payload))

    # --- reports and fills --------------------------------------------------------------------------
    def _report(self, o: _Order, kind: ReportKind, t: int, reason: str = "", fill: Fill | None = None) -> None:
        leaves = 0 if kind in _CLEARS_LEAVES else o.qty - o.cum
        report = ExecutionReport(
            kind,
            o.order_id,
            o.client_order_id,
            o.venue.code,
            o.side,
            t + o.venue.latency_us,
            t,
            o.qty,
            o.cum,
            leaves,
            o.notional / o.cum if o.cum else None,
            fill,
            reason,
        )
        self._seq += 1
        heapq.heappush(self._outbox, (report.time, self._seq, report))

    def _fill(self, o: _Order, qty: int, price: float, liquidity: Liquidity, t: int) -> None:
        o.cum += qty
        o.notional += qty * price
        o.n_fills += 1
        v = o.venue
        fill = Fill(
            f"{o.order_id}-{o.n_fills}",
            o.order_id,
            o.client_order_id,
            v.code,
            o.side,
            qty,
            price,
            liquidity,
            v.fee(liquidity, qty),
            t,
            self.market.day,
        )
        self.fills.append(fill)
        self.market.footprint.record(t, v.code, o.side, qty, price, liquidity)
        if o.cum >= o.qty:
            o.done = True
            self._report(o, ReportKind.FILL, t, fill=fill)
        else:
            self._report(o, ReportKind.PARTIAL, t, fill=fill)

    def _finish(self, o: _Order, kind: ReportKind, t: int, reason: str) -> None:
        o.done = True
        self._report(o, kind, t, reason)

    # --- arrivals -----------------------------------------------------------------------------------
    def _reject_reason(self, o: _Order, t: int) -> str:
        req = o.req
        if self._closed or t >= SESSION_US:
            return "market_closed"
        if req.qty <= 0:
            return "invalid_quantity"
        if req.order_type is OrderType.LIMIT and req.price is None:
            return "missing_price"
        if req.price is not None and (req.price <= 0 or not self.market.on_tick_grid(req.price)):
            return "invalid_price"
        if not o.venue.is_lit and req.qty < o.venue.min_size:
            return "below_min_size"
        return ""

    def _arrive(self, o: _Order, t: int) -> None:
        reason = self._reject_reason(o, t)
        if reason:
            self._finish(o, ReportKind.REJECTED, t, reason)
            return
        self._report(o, ReportKind.ACK, t)
        if o.lit_i >= 0:
            self._arrive_lit(o, t)
        else:
            self._arrive_dark(o, t)

    def _arrive_lit(self, o: _Order, t: int) -> None:
        bids, asks = self.market.ladder_ticks(o.lit_i, t)
        # Walk the book as it stood on arrival; impact of each level's fill shows from the next instant.
        for price, qty in walk_book(asks if o.sign > 0 else bids, o.qty, o.limit, o.side):
            self._fill(o, qty, self.market.price(price), Liquidity.TAKER, t)
        if o.done:
            return
        if o.ioc:
            self._finish(o, ReportKind.CANCELLED, t, "ioc_remainder" if o.req.tif is TimeInForce.IOC else "no_more_depth")
            return
        o.queue = _queue_ahead(bids if o.sign > 0 else asks, o.limit, o.sign)
        line = self._lines.get((o.lit_i, o.sign, o.limit))
        if line:
            o.queue = max(o.queue, max(r.queue for r in line))  # behind our earlier orders at this price
        pr = self.market.data.prints
        self._pcursor = max(self._pcursor, int(np.searchsorted(pr.t, t, "right")))
        self._rest(o)

    def _arrive_dark(self, o: _Order, t: int) -> None:
        contra = self.market.data.contra(o.dark_j)
        k = int(np.searchsorted(contra.sec, t // US))
        if k < len(contra.sec) and contra.sec[k] == t // US:
            self._cross(o, k, t)  # contra present in this second
        if o.done:
            return
        if o.ioc:
            self._finish(o, ReportKind.CANCELLED, t, "ioc_remainder")
            return
        # Resting from now on: the pool's contra after this instant. Not past the rest of this second: a contra
        # showing up later in it is still due to the orders resting before us. We met it on arrival, so for us
        # it is used up or on our side, or was past our limit then (we may meet it again when it shows up).
        self._ccursor[o.dark_j] = max(self._ccursor[o.dark_j], int(np.searchsorted(contra.t, t, "right")))
        self._rest(o)

    def _cross(self, o: _Order, k: int, t: int) -> bool:
        """Cross ``o`` with contra ``k`` of its pool at the lit midpoint if sides and limit allow."""
        contra = self.market.data.contra(o.dark_j)
        if bool(contra.buy[k]) == (o.sign > 0):
            return False
        left = int(contra.size[k]) - self._contra_used.get((o.dark_j, k), 0)
        if left <= 0:
            return False
        bbo = self.market.bbo(t)
        mid = bbo.mid
        if math.isnan(mid):
            return False
        if o.limit is not None:
            limit = self.market.price(o.limit)
            if (mid > limit + 1e-9) if o.sign > 0 else (mid < limit - 1e-9):
                return False
        qty = min(left, o.qty - o.cum)
        self._contra_used[(o.dark_j, k)] = self._contra_used.get((o.dark_j, k), 0) + qty
        self._fill(o, qty, round(mid, self.market.params.price_decimals + 1), Liquidity.MID, t)
        return True

    # --- cancels and the close ----------------------------------------------------------------------
    def _cancel(self, o: _Order, t: int) -> None:
        if o.done:
            self._report(o, ReportKind.CANCEL_REJECTED, t, "too_late_to_cancel")
            return
        self._unrest(o)
        self._finish(o, ReportKind.CANCELLED, t, "cancel_requested")

    def _rest(self, o: _Order) -> None:
        if o.lit_i >= 0:
            self._lit_resting[o.order_id] = o
            self._lines.setdefault((o.lit_i, o.sign, o.limit), []).append(o)
        else:
            self._dark_resting[o.order_id] = o
            self._pools.setdefault((o.dark_j, o.sign), []).append(o)

    def _unrest(self, o: _Order) -> None:
        resting, groups, key = (
            (self._lit_resting, self._lines, (o.lit_i, o.sign, o.limit))
            if o.lit_i >= 0
            else (self._dark_resting, self._pools, (o.dark_j, o.sign))
        )
        if resting.pop(o.order_id, None) is not None:
            group = groups[key]
            group.remove(o)
            if not group:
                del groups[key]

    def _close(self, t: int) -> None:
        for o in [*self._lit_resting.values(), *self._dark_resting.values()]:
            self._finish(o, ReportKind.EXPIRED, t, "session_close")
        self._lit_resting.clear()
        self._dark_resting.clear()
        self._lines.clear()
        self._pools.clear()
        self._closed = True

    # --- resting orders -----------------------------------------------------------------------------
    def _match_resting(self, horizon: int) -> bool:
        """Apply prints and dark contra up to ``horizon`` to resting orders, stopping at the first one that
        may fill us (prices after a fill depend on its impact). Return whether it stopped before ``horizon``.

        On one venue and side only our best line (most aggressive limit) can be filled first: a print that
        reaches a worse line trades through the best one, so it fills someone. Each best line is scanned for
        the first print that would fill one of its orders were it alone; ours ahead of it in the line only
        delay that, so the earliest over the best lines is a safe place to stop, and
        :meth:`_fill_from_print` shares that print out."""
        pr = self.market.data.prints
        lo = self._pcursor
        hi = int(np.searchsorted(pr.t, horizon, "right")) if self._lines else lo
        lit_pos, lit_t = -1, _NEVER
        ticks = None
        scans: list[tuple[list[_Order], _Scan]] = []  # the best lines, when there are new prints
        if hi > lo:
            ticks = self.market.print_ticks(lo, hi)
            venues, sizes, buys = pr.venue[lo:hi], pr.size[lo:hi], pr.buy[lo:hi]
            best: dict[tuple[int, int], int] = {}
            for lit_i, sign, limit in self._lines:
                b = best.get((lit_i, sign))
                if b is None or (limit - b) * sign > 0:
                    best[(lit_i, sign)] = limit
            for (lit_i, sign), limit in best.items():
                line = self._lines[(lit_i, sign, limit)]
                scan = _scan_prints(lit_i, sign, limit, ticks, venues, sizes, buys)
                scans.append((line, scan))
                first = scan.first_fill(min(o.queue for o in line))
                if first >= 0 and (lit_pos < 0 or first < lit_pos):
                    lit_pos = first
            if lit_pos >= 0:
                lit_t = int(pr.t[lo + lit_pos])
        dark = self._next_contra(min(horizon, lit_t)) if self._pools else None
        if dark is not None and dark[0] < lit_t:
            t_c, j, k = dark
            end = int(np.searchsorted(pr.t, t_c, "right"))
            for line, scan in scans:
                scan.consume_before(line, end - lo)
            self._pcursor = max(lo, end)
            self.time = max(self.time, t_c)
            # The pool's resting orders that can cross this contra, in arrival order, from what is left of it.
            contra = self.market.data.contra(j)
            for o in list(self._pools.get((j, -1 if contra.buy[k] else 1), ())):
                if self._cross(o, k, t_c) and o.done:
                    self._unrest(o)
                if self._contra_used.get((j, k), 0) >= contra.size[k]:
                    break
            self._ccursor[j] = k + 1
            return True
        if lit_pos < 0:
            for line, scan in scans:
                scan.consume_before(line, hi - lo)
            self._pcursor = hi
            return False
        self.time = max(self.time, lit_t)
        for line, scan in scans:
            scan.consume_before(line, lit_pos)
        self._fill_from_print(lo + lit_pos, int(ticks[lit_pos]), lit_t)
        self._pcursor = lo + lit_pos + 1
        return True

    def _fill_from_print(self, p: int, price: int, t: int) -> None:
        """Share print ``p`` (at ``price`` ticks) out among the resting orders it reaches, in price-time priority."""
        pr = self.market.data.prints
        lit_i = int(pr.venue[p])
        sign = -1 if pr.buy[p] else 1  # a buyer lifts resting sells; a seller hits resting buys
        left = int(pr.size[p])
        fills: list[tuple[_Order, int]] = []
        # Traded through: better limit first, then arrival (each line is in arrival order).
        through = sorted(
            (key for key in self._lines if key[:2] == (lit_i, sign) and (key[2] - price) * sign > 0),
            key=lambda key: -key[2] * sign,
        )
        for key in through:
            for o in self._lines[key]:
                if left <= 0:
                    break
                qty = min(left, o.qty - o.cum)
                fills.append((o, qty))
                left -= qty
        # The line at the print's price: market shares ahead of each order (its queue) and ours ahead of it.
        ours_ahead = filled_ahead = 0
        for o in self._lines.get((lit_i, sign, price), ()):
            leaves = o.qty - o.cum
            qty = min(max(left - o.queue - ours_ahead, 0), leaves)
            # What the print took ahead of us that was not ours was the market's queue.
            o.queue = max(0, o.queue - max(0, left - filled_ahead))
            ours_ahead += leaves
            filled_ahead += qty
            if qty:
                fills.append((o, qty))
        for o, qty in fills:
            self._fill(o, qty, self.market.price(o.limit), Liquidity.MAKER, t)
            if o.done:
                self._unrest(o)

    def _next_contra(self, horizon: int) -> tuple[int, int, int] | None:
        """Return ``(time, pool, contra index)`` of the earliest contra up to ``horizon`` that some resting
        dark order can cross with, moving each pool's cursor past contra nobody can use."""
        best: tuple[int, int, int] | None = None
        for j in sorted({j for j, _ in self._pools}):
            contra = self.market.data.contra(j)
            k = self._ccursor[j]
            end = int(np.searchsorted(contra.t, horizon, "right"))
            if k < end:
                if (j, 1) in self._pools and (j, -1) in self._pools:
                    usable = k  # both sides rest: any contra will do
                else:
                    # Only our buys rest: a seller's contra (buy flag False), and the other way round.
                    hits = np.flatnonzero(contra.buy[k:end] == ((j, -1) in self._pools))
                    usable = k + int(hits[0]) if len(hits) else end
                if usable < end:
                    t_k = int(contra.t[usable])
                    if best is None or t_k < best[0]:
                        best = (t_k, j, usable)
                k = usable
            self._ccursor[j] = k
        return best


def _order_state(o: _Order) -> dict:
    r = o.req
    return {
        "order_id": o.order_id, "client_order_id": o.client_order_id, "venue": r.venue, "side": r.side.value,
        "qty": r.qty, "order_type": r.order_type.value, "price": r.price, "tif": r.tif.value, "limit": o.limit,
        "ioc": o.ioc, "lit_i": o.lit_i, "dark_j": o.dark_j, "cum": o.cum, "notional": o.notional,
        "n_fills": o.n_fills, "queue": o.queue, "done": o.done, "owner": o.owner,
    }


def _fill_state(f: Fill) -> dict:
    return {"exec_id": f.exec_id, "order_id": f.order_id, "client_order_id": f.client_order_id, "venue": f.venue,
            "side": f.side.value, "qty": f.qty, "price": f.price, "liquidity": f.liquidity.value, "fee": f.fee,
            "time": f.time, "day": f.day}


def _fill_from_state(d: dict) -> Fill:
    return Fill(d["exec_id"], d["order_id"], d["client_order_id"], d["venue"], Side(d["side"]), int(d["qty"]),
                float(d["price"]), Liquidity(d["liquidity"]), float(d["fee"]), int(d["time"]), int(d["day"]))


def _report_state(r: ExecutionReport) -> dict:
    return {"kind": r.kind.value, "order_id": r.order_id, "client_order_id": r.client_order_id, "venue": r.venue,
            "side": r.side.value, "time": r.time, "transact_time": r.transact_time, "order_qty": r.order_qty,
            "cum_qty": r.cum_qty, "leaves_qty": r.leaves_qty, "avg_price": r.avg_price,
            "fill": None if r.fill is None else _fill_state(r.fill), "reason": r.reason}


def _report_from_state(d: dict) -> ExecutionReport:
    return ExecutionReport(
        ReportKind(d["kind"]), d["order_id"], d["client_order_id"], d["venue"], Side(d["side"]), int(d["time"]),
        int(d["transact_time"]), int(d["order_qty"]), int(d["cum_qty"]), int(d["leaves_qty"]), d["avg_price"],
        None if d["fill"] is None else _fill_from_state(d["fill"]), d["reason"],
    )


def _queue_ahead(own: list[tuple[int, int]], limit: int, sign: int) -> int:
    """Displayed shares ahead of a new resting order at ``limit`` on its own side (best first)."""
    if not own or (limit - own[0][0]) * sign > 0:
        return 0  # improves the touch: first in line
    for price, size in own:
        if price == limit:
            return size
    # Behind the displayed levels: assume a queue like the deepest one shown.
    return own[-1][1] if (own[-1][0] - limit) * sign > 0 else 0


class _Scan:
    """Where the market prints of one interval meet one line of ours (venue, side, limit): the prints that
    reach it (the other side's aggressor, at or through its price), in tape order."""

    __slots__ = ("pos", "cum", "through")

    def __init__(self, pos: np.ndarray, cum: np.ndarray, through: int) -> None:
        self.pos = pos  # positions in the interval of the prints that reach the line
        self.cum = cum  # running total of their sizes at the line's price (a print through it counts 0)
        self.through = through  # index into pos of the first print through the price (len(pos) if none)

    def first_fill(self, queue: int) -> int:
        """Return the position of the first print that would fill an order of the line with ``queue`` market
        shares ahead of it, were it alone (-1 if none in the interval)."""
        k = min(self.through, int(np.searchsorted(self.cum, queue, "right")))
        return int(self.pos[k]) if k < len(self.pos) else -1

    def consume_before(self, line: list[_Order], end: int) -> None:
        """Let prints at the line's price before relative position ``end`` eat the queue ahead of each of its
        orders (none of them fills anyone of the line: they all come before its first fill)."""
        n = int(np.searchsorted(self.pos, end, "left"))
        if n and self.cum[n - 1]:
            eaten = int(self.cum[n - 1])
            for o in line:
                o.queue -= eaten


def _scan_prints(
    lit_i: int, sign: int, limit: int, ticks: np.ndarray, venues: np.ndarray, sizes: np.ndarray, buys: np.ndarray
) -> _Scan:
    # Prints reaching the line: on its venue, aggressor on the other side, at or through its limit.
    pos = np.flatnonzero((venues == lit_i) & (buys != (sign > 0)) & ((limit - ticks) * sign >= 0))
    eq = ticks[pos] == limit
    cum = np.cumsum(np.where(eq, sizes[pos], 0))
    through = len(pos) if eq.all() else int(np.argmin(eq))
    return _Scan(pos, cum, through)
