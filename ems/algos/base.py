"""The execution-algorithm base class: parameters, JSON state, schedule tracking and slice execution.

Every algorithm (:mod:`ems.algos.twap`, ``vwap``, ``pov``, ``is_``, ``direct``) is an
:class:`ExecutionAlgo`: a :class:`~ems.algos.context.Strategy` whose whole working state is one plain
JSON dict (:meth:`ExecutionAlgo.state` / :meth:`ExecutionAlgo.from_state`), so a live driver can persist
it between ticks and a crashed worker's successor resumes it exactly (random draws are counter-based:
the counter is in the state).

The decision cycle (the same in every algorithm; the subclasses give the target and the cadence):

1. At each wake (``on_timer``), compare the quantity done with the target of the schedule now
   (:meth:`ExecutionAlgo.target`). Resting orders that no longer fit are cancelled first: a passive
   order no longer at the near touch; everything, dark pegs included, when ahead of schedule by more
   than the tolerance ("slow down") or in the finish. The new slice is decided once those cancels are
   confirmed (the over-fill guard counts an order until the venue says it is done).
2. The slice is what the schedule wants by the next wake, within the participation cap
   (``max_participation`` of the market volume printed since start), the min/max child size and the lot.
   Its style follows how far behind the schedule we are (``tolerance``, in shares): on or near schedule,
   post passively at the near touch and peg the slice at the midpoint of the dark pools that take it (a
   peg stays until it fills or the algorithm slows down); behind by more than the tolerance, cross the
   spread (limit at the far touch); by more than two tolerances, sweep (a few ticks through). Takes go
   through the smart order router (:class:`~ems.algos.router.session.RoutingSession`: it picks the venues and
   the mode; parallel for the finish and for HIGH urgency). Urgency narrows (HIGH) or widens (LOW) the
   tolerance. The limit price caps every order.
3. After each fill, the same comparison runs: ahead by more than the tolerance cancels the resting
   orders at once; behind by more than two tolerances (with nothing in flight) triggers a catch-up slice.
4. In the last interval before ``end`` (the "finish"), everything left is taken: sprayed across the lit
   venues through the router (IOC limited to the depth seen, or to the limit price), again each second
   until done or ``end``.

Over-fill guard: an order is sent only if ``filled + outstanding + qty <= parent qty``, where outstanding
counts every child (and routing session) until its terminal report, so no interleaving of latencies,
partial fills and reports can over-fill the parent.

Every decision appends ``[t_us, action, reason_code, {numbers}]`` to a bounded decision log in the state.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

from ems.algos.context import AlgoContext, Strategy
from ems.algos.router import RouteRequest, RoutingSession, SmartOrderRouter
from ems.algos.types import RoutingMode, StrategyName, Urgency
from ems.sim.clock import SESSION_US, US
from ems.sim.instrument import InstrumentParams
from ems.sim.orders import ExecutionReport, OrderRequest, OrderType, ReportKind, Side, TimeInForce
from ems.sim.seeding import stable_hash

LOG_MAX = 256  # decision-log entries kept in the state (the oldest are dropped; ``log_n`` counts all)

# Tolerance multiplier per urgency: HIGH escalates sooner, LOW waits longer on passive orders.
_URGENCY_TOL = {Urgency.LOW: 2.0, Urgency.MEDIUM: 1.0, Urgency.HIGH: 0.5}
_FINISH_RETRY_US = 1 * US  # the finish retries each second until done or end

# Child kinds kept in the state.
PASSIVE, TAKE, DARK, FINISH = "passive", "take", "dark", "finish"


@dataclass(frozen=True)
class AlgoParams:
    """Parameters every algorithm takes (times in µs since the open; quantities in shares).

    side, qty: the parent order.
    start, end: the working window; the algorithm finishes by ``end`` when the market allows.
    limit_price: never buy above / sell below it (None: no limit).
    max_participation: cap on our filled + outstanding quantity as a fraction of the market volume
        printed since ``start`` (plus one minimum child, so the first slice can go); the finish ignores it
        only when ``finish_uncapped``.
    urgency: LOW / MEDIUM / HIGH: how early the algorithm escalates (and IS's risk aversion).
    min_child, max_child: bounds of one child order (a smaller remainder is sent as is).
    lot_size: child quantities are whole lots (but the last remainder).
    interval_s: decision period (seconds).
    tolerance: how far behind/ahead of schedule (fraction of qty) counts as off schedule.
    sweep_ticks: how far through the far touch a sweep goes.
    dark: peg each slice in the dark pools too.
    venue: send everything to this one lit venue (no dark, no routing): the benchmark of smart routing.
    seed: seeds the algorithm's own random draws (jitter).
    """

    side: Side
    qty: int
    start: int = 0
    end: int = SESSION_US
    limit_price: float | None = None
    max_participation: float = 0.25
    urgency: Urgency = Urgency.MEDIUM
    min_child: int = 100
    max_child: int = 50_000
    lot_size: int = 100
    interval_s: float = 60.0
    tolerance: float = 0.01
    sweep_ticks: int = 3
    dark: bool = True
    venue: str | None = None
    finish_uncapped: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "urgency", Urgency(self.urgency))
        if self.qty <= 0:
            raise ValueError("qty must be positive")
        if not 0 <= self.start < self.end <= SESSION_US:
            raise ValueError("need 0 <= start < end <= SESSION_US")
        if self.min_child <= 0 or self.max_child < self.min_child or self.lot_size <= 0:
            raise ValueError("need 0 < min_child <= max_child and lot_size > 0")
        if self.interval_s <= 0 or self.max_participation <= 0:
            raise ValueError("interval_s and max_participation must be positive")

    def to_dict(self) -> dict:
        """Return the parameters as a JSON-ready dict (enums as their string values)."""
        return {k: (v.value if hasattr(v, "value") else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> AlgoParams:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class ExecutionAlgo(Strategy):
    """Base class of the execution algorithms (see the module docstring for the decision cycle)."""

    name: ClassVar[StrategyName]
    Params: ClassVar[type[AlgoParams]] = AlgoParams

    def __init__(self, params: AlgoParams, instrument: InstrumentParams) -> None:
        self.p = params
        self.instrument = instrument
        self.s: dict = {
            "filled": 0,
            "notional": 0.0,
            "children": {},  # order_id -> {"kind", "venue", "qty", "cum", "price", "cancelling"}
            "sessions": [],  # working routing sessions: their to_dict()
            "n_sessions": 0,
            "draws": 0,  # counter of the seeded random draws
            "next_wake": None,
            "replace": False,  # a slice is due once the cancels in flight are confirmed
            "started": False,
            "ended": False,
            "sched": None,  # [[t_us, cumulative qty], ...], fixed at the first use
            "log": [],
            "log_n": 0,
        }
        self._times: list[int] | None = None  # the schedule's times, for bisect (derived from the state)
        self._sessions: list[RoutingSession] | None = None  # s["sessions"] as objects, once a context is at hand
        self._router: SmartOrderRouter | None = None

    # --- state ----------------------------------------------------------------------------------------
    def state(self) -> dict:
        """Return the whole working state as a plain JSON-ready dict."""
        s = dict(self.s)
        if self._sessions is not None:
            s["sessions"] = [x.to_dict() for x in self._sessions]
        return {
            "algo": self.name.value,
            "params": self.p.to_dict(),
            "instrument": {f.name: getattr(self.instrument, f.name) for f in fields(self.instrument)},
            "state": s,
        }

    @classmethod
    def from_state(cls, d: dict) -> ExecutionAlgo:
        """Rebuild an algorithm from :meth:`state` (e.g. after ``json.loads``)."""
        algo = cls(cls.Params.from_dict(d["params"]), InstrumentParams(**d["instrument"]))
        algo.restore(d["state"])
        return algo

    def restore(self, s: dict) -> None:
        self.s = dict(s)
        self._times = None
        self._sessions = None

    # --- progress ---------------------------------------------------------------------------------------
    @property
    def filled(self) -> int:
        return self.s["filled"]

    @property
    def outstanding(self) -> int:
        own = sum(c["qty"] - c["cum"] for c in self.s["children"].values())
        if self._sessions is not None:
            return own + sum(x.outstanding for x in self._sessions)
        return own + sum(d["outstanding"] for d in self.s["sessions"])

    @property
    def left(self) -> int:
        return self.p.qty - self.s["filled"]

    @property
    def done(self) -> bool:
        return self.s["filled"] >= self.p.qty

    @property
    def avg_price(self) -> float | None:
        return self.s["notional"] / self.s["filled"] if self.s["filled"] else None

    @property
    def decisions(self) -> list[list]:
        return self.s["log"]

    def tol_qty(self) -> int:
        """How many shares off the schedule count as off schedule."""
        return max(self.p.lot_size, round(self.p.tolerance * self.p.qty * _URGENCY_TOL[self.p.urgency]))

    # --- schedule -------------------------------------------------------------------------------------------
    def build_schedule(self) -> list[tuple[int, int]]:
        """Return the target cumulative quantity over time, ``[(t_us, qty), ...]`` from start to end."""
        raise NotImplementedError

    def schedule(self) -> list[tuple[int, int]]:
        """Return the schedule the algorithm follows: ``[(t_us, target cumulative qty), ...]``."""
        if self.s["sched"] is None:
            self.s["sched"] = [[int(t), int(q)] for t, q in self.build_schedule()]
        return [(t, q) for t, q in self.s["sched"]]

    def target(self, ctx: AlgoContext, t: int) -> float:
        """Return the cumulative quantity the schedule wants done by ``t`` (linear between points)."""
        if self.s["sched"] is None:
            self.schedule()
        sched = self.s["sched"]
        if self._times is None:
            self._times = [row[0] for row in sched]
        if t <= sched[0][0]:
            return float(sched[0][1])
        k = bisect_right(self._times, t)
        if k >= len(sched):
            return float(sched[-1][1])
        (t0, q0), (t1, q1) = sched[k - 1], sched[k]
        return q0 + (q1 - q0) * (t - t0) / (t1 - t0)

    def next_wake(self, ctx: AlgoContext) -> int:
        """Return when to decide next (subclasses jitter it)."""
        return ctx.now + int(self.p.interval_s * US)

    def slice_size(self, ctx: AlgoContext, want: int) -> int:
        """Adjust the slice the schedule wants (TWAP jitters it)."""
        return want

    # --- randomness (counter-based: the counter is in the state) --------------------------------------------
    def uniform(self) -> float:
        """Return a seeded uniform draw in [0, 1)."""
        self.s["draws"] += 1
        return random.Random(stable_hash(f"{self.p.seed}:{self.name.value}:{self.s['draws']}")).random()

    # --- decision log -----------------------------------------------------------------------------------------
    def log(self, ctx: AlgoContext, action: str, code: str, **numbers: float | int | str | None) -> None:
        log = self.s["log"]
        log.append([ctx.now, action, code, numbers])
        if len(log) > LOG_MAX:
            del log[: len(log) - LOG_MAX]
        self.s["log_n"] += 1

    # --- callbacks ---------------------------------------------------------------------------------------------
    def on_start(self, ctx: AlgoContext) -> None:
        if self.s["started"]:
            return
        self.s["started"] = True
        self.schedule()
        self.log(ctx, "start", "start", qty=self.p.qty, end=self.p.end, limit=self.p.limit_price)
        self._arm(ctx, max(ctx.now, self.p.start))

    def on_timer(self, ctx: AlgoContext) -> None:
        for x in self._materialise(ctx):
            x.on_timer(ctx)  # a rested dark leg's wait may be over
        wake = self.s["next_wake"]
        if wake is None or ctx.now < wake or self.s["ended"]:
            return  # a stale or duplicated timer (e.g. re-armed by a restarted driver)
        self.s["next_wake"] = None
        self._wake(ctx)

    def on_report(self, ctx: AlgoContext, report: ExecutionReport) -> None:
        child = self.s["children"].get(report.order_id)
        if child is None:
            self.other_report(ctx, report)
            return
        if report.fill is not None:
            child["cum"] += report.fill.qty
            self._book_fill(report)
        if report.is_terminal:
            del self.s["children"][report.order_id]
            if report.kind is ReportKind.REJECTED:
                self.log(ctx, "child", "rejected", venue=report.venue, reason=report.reason)
        if self.s["ended"]:
            return
        if self.done:
            self._finish_parent(ctx)
            return
        if report.fill is not None:
            self._after_fill(ctx)
        if self.s["replace"] and not any(c["cancelling"] for c in self.s["children"].values()):
            self.s["replace"] = False
            self._slice(ctx)

    def on_end(self, ctx: AlgoContext) -> None:
        if not self.s["ended"]:
            self.s["ended"] = True
            self._cancel_all(ctx)
            self.log(ctx, "end", "done" if self.done else "end_time", filled=self.filled, qty=self.p.qty)

    # --- the cycle --------------------------------------------------------------------------------------------
    def _arm(self, ctx: AlgoContext, t: int) -> None:
        self.s["next_wake"] = int(t)
        ctx.wake_at(int(t))

    def _closed(self, ctx: AlgoContext) -> bool:
        """End the parent if it is done or its time is up; return whether it ended."""
        if self.done:
            self._finish_parent(ctx)
            return True
        if ctx.now >= self.p.end:
            self.s["ended"] = True
            self._cancel_all(ctx)
            self.log(ctx, "end", "end_time", filled=self.filled, qty=self.p.qty)
            return True
        return False

    def _wake(self, ctx: AlgoContext) -> None:
        if self._closed(ctx):
            return
        now = ctx.now
        finishing = self.finishing(now)
        if finishing:
            self._arm(ctx, min(now + _FINISH_RETRY_US, self.p.end))
        else:
            # Never jump over the start of the finish (a jittered wake could land past it).
            finish_start = self.p.end - int(self.p.interval_s * US)
            t = self.next_wake(ctx)
            self._arm(ctx, min(t, finish_start if now < finish_start else self.p.end, self.p.end))
        dev = self.filled - self.target(ctx, now)
        ahead = not finishing and self.is_ahead(ctx, dev)
        n = self._cancel_stale(ctx, everything=ahead or finishing)
        if ahead:
            self.log(ctx, "slow_down", "ahead", filled=self.filled, target=round(self.filled - dev), cancels=n)
            return
        if n:
            self.s["replace"] = True  # slice once the cancels are confirmed
            return
        self._slice(ctx)

    def finishing(self, now: int) -> bool:
        """Whether ``now`` is in the last interval before ``end`` (take everything left)."""
        return now >= self.p.end - int(self.p.interval_s * US)

    def _after_fill(self, ctx: AlgoContext) -> None:
        now = ctx.now
        if self.finishing(now):
            return
        dev = self.filled - self.target(ctx, now)
        if self.is_ahead(ctx, dev):
            n = self._cancel_stale(ctx, everything=True)
            if n:
                self.log(ctx, "slow_down", "ahead_after_fill", filled=self.filled, target=round(self.filled - dev), cancels=n)
        elif self.escalation(ctx, -dev) == "sweep" and self.outstanding == 0 and not self.s["replace"]:
            self._slice(ctx)

    def is_ahead(self, ctx: AlgoContext, dev: float) -> bool:
        """Whether ``dev`` shares ahead of the schedule is ahead enough to slow down."""
        return dev > self.tol_qty()

    def escalation(self, ctx: AlgoContext, behind: float) -> str:
        """Return the style for ``behind`` shares behind the schedule: passive, cross or sweep."""
        tol = self.tol_qty()
        return PASSIVE if behind <= tol else ("cross" if behind <= 2 * tol else "sweep")

    def _slice(self, ctx: AlgoContext) -> None:
        """Decide and send one slice (the capacity check is in :meth:`_send`)."""
        now = ctx.now
        p = self.p
        if now >= p.end or self.done:
            return
        finishing = self.finishing(now)
        target_now = self.target(ctx, now)
        behind = target_now - self.filled
        room = p.qty - self.filled - self.outstanding
        if finishing:
            want = room
            style = FINISH
        else:
            horizon = min(self.s["next_wake"] or now, p.end)
            want = math.ceil(self.target(ctx, horizon) - self.filled - self.outstanding)
            want = min(self.slice_size(ctx, want), room)
            style = self.escalation(ctx, behind)
        cap = self.participation_room(ctx)
        if not (finishing and p.finish_uncapped) and want > cap:
            self.log(ctx, "capped", "participation_cap", want=want, cap=cap)
            want = cap
        want = self._lots(want, room)
        if want <= 0 or (want < p.min_child and want < self.left and not finishing):
            self.log(ctx, "wait", "on_schedule", filled=self.filled, target=round(target_now), outstanding=self.outstanding)
            return
        want = min(want, p.max_child) if style != FINISH else want
        self.log(ctx, style, _REASONS[style], qty=want, filled=self.filled, target=round(target_now), behind=round(behind))
        if style == PASSIVE:
            self._post_passive(ctx, want)
            if p.dark and p.venue is None:
                self._peg_dark(ctx, want)
        elif style == FINISH:
            self._take(ctx, want, None, FINISH)
        else:
            self._take(ctx, want, 0 if style == "cross" else p.sweep_ticks, TAKE)

    def participation_room(self, ctx: AlgoContext) -> int:
        """Shares we may still add under ``max_participation`` of the market volume since start."""
        vol = ctx.market_volume(self.p.start)
        return max(0, int(self.p.max_participation * vol) + self.p.min_child - self.filled - self.outstanding)

    def _lots(self, q: int, room: int) -> int:
        lot = self.p.lot_size
        if q >= room:
            return room  # the remainder may be an odd lot
        return (q // lot) * lot

    # --- orders -----------------------------------------------------------------------------------------------
    def _send(
        self,
        ctx: AlgoContext,
        kind: str,
        venue: str,
        qty: int,
        order_type: OrderType,
        price: float | None,
        tif: TimeInForce,
        min_qty: int = 1,
    ) -> str | None:
        qty = min(qty, self.p.qty - self.filled - self.outstanding)  # the over-fill guard
        if qty < max(1, min_qty):
            return None
        order_id = ctx.send(OrderRequest(venue, self.p.side, qty, order_type, price, tif))
        self.s["children"][order_id] = {"kind": kind, "venue": venue, "qty": qty, "cum": 0, "price": price, "cancelling": False}
        return order_id

    def _cancel_stale(self, ctx: AlgoContext, *, everything: bool) -> int:
        """Cancel passive orders no longer at the near touch (or every resting order, dark pegs included);
        return how many. A dark peg otherwise stays: it waits at the midpoint for contra."""
        n = 0
        touch = None
        for order_id, c in self.s["children"].items():
            if c["cancelling"] or c["kind"] not in (PASSIVE, DARK) or (c["kind"] == DARK and not everything):
                continue
            stale = everything
            if not stale:
                touch = touch or self._near_touch(ctx)
                stale = touch[0] is None or abs(touch[0] - c["price"]) > 1e-9 or c["venue"] not in touch[1]
            if stale:
                c["cancelling"] = True
                ctx.cancel(order_id)
                n += 1
        return n

    def _cancel_all(self, ctx: AlgoContext) -> None:
        for order_id, c in self.s["children"].items():
            if not c["cancelling"] and c["kind"] in (PASSIVE, DARK):
                c["cancelling"] = True
                ctx.cancel(order_id)
        for x in self._materialise(ctx):
            if not x.done:
                x.cancel(ctx)

    def _finish_parent(self, ctx: AlgoContext) -> None:
        if not self.s["ended"]:
            self.s["ended"] = True
            self._cancel_all(ctx)
            self.log(ctx, "end", "done", filled=self.filled, avg_price=self.avg_price)

    def _tick_cap(self, price: float) -> float:
        """Clamp ``price`` to the limit (never buy above / sell below it)."""
        lim = self.p.limit_price
        if lim is None:
            return price
        return min(price, lim) if self.p.side is Side.BUY else max(price, lim)

    def _price(self, ticks: int) -> float:
        return round(ticks * self.instrument.tick_size, self.instrument.price_decimals)

    def _post_passive(self, ctx: AlgoContext, qty: int) -> None:
        """Rest ``qty`` at the near touch, on the venue at the best price whose prints come most often
        (the queue ahead is eaten fastest), then with the cheaper maker fee."""
        price, venues = self._near_touch(ctx)
        if price is None:
            return
        by_code = {v.code: v for v in ctx.lit_venues}
        code = max(venues, key=lambda c: (by_code[c].market_share, -by_code[c].maker_fee))
        self._send(ctx, PASSIVE, code, qty, OrderType.LIMIT, self._tick_cap(price), TimeInForce.DAY)

    def _near_touch(self, ctx: AlgoContext) -> tuple[float | None, tuple[str, ...]]:
        """Return our side's best price and the venues showing it (only ``venue`` when one is named)."""
        buy = self.p.side is Side.BUY
        if self.p.venue is not None:
            level = _near(ctx.snapshot(self.p.venue), self.p.side)
            return (None, ()) if level is None else (level.price, (self.p.venue,))
        # The consolidated BBO is much cheaper than every venue's ladder and says all we need here.
        bbo = ctx.bbo()
        price = bbo.bid if buy else bbo.ask
        return (None, ()) if math.isnan(price) else (price, bbo.bid_venues if buy else bbo.ask_venues)

    def _peg_dark(self, ctx: AlgoContext, qty: int) -> None:
        """Peg ``qty`` at the midpoint of the dark pools that accept it and hold no peg of ours yet."""
        pegged = {c["venue"] for c in self.s["children"].values() if c["kind"] == DARK}
        pools = [v for v in ctx.dark_venues if v.min_size <= qty and v.code not in pegged]
        if not pools:
            return
        each = self._lots(qty // len(pools), qty)
        for v in pools:
            q = max(each, v.min_size)
            if self.p.limit_price is None:
                self._send(ctx, DARK, v.code, q, OrderType.MARKET, None, TimeInForce.DAY, v.min_size)
            else:
                self._send(ctx, DARK, v.code, q, OrderType.LIMIT, self.p.limit_price, TimeInForce.DAY, v.min_size)

    def _take(self, ctx: AlgoContext, qty: int, through_ticks: int | None, kind: str) -> None:
        """Take ``qty`` through the smart order router: limited ``through_ticks`` past the far touch (and
        by the limit price), or only by the limit price (``None``: the finish, sprayed in parallel)."""
        p = self.p
        cap = p.limit_price
        if through_ticks is not None:
            bbo = ctx.bbo()
            far = bbo.ask if p.side is Side.BUY else bbo.bid
            if math.isnan(far):
                return
            t = round(far / self.instrument.tick_size) + (through_ticks if p.side is Side.BUY else -through_ticks)
            cap = self._tick_cap(self._price(t))
        self._route(ctx, qty, cap, RoutingMode.PARALLEL if kind == FINISH or p.urgency is Urgency.HIGH else None)

    def _route(self, ctx: AlgoContext, qty: int, cap: float | None, mode: RoutingMode | None) -> RoutingSession | None:
        """Open a routing session for ``qty`` (within the over-fill guard) and start it."""
        qty = min(qty, self.p.qty - self.filled - self.outstanding)
        if qty <= 0:
            return None
        self.s["n_sessions"] += 1
        req = RouteRequest(self.p.side, qty, cap, self.p.urgency, mode, min_qty=min(self.p.lot_size, qty))
        session = RoutingSession(self.router(ctx), req, f"{self.name.value}-S{self.s['n_sessions']}")
        sessions = self._materialise(ctx)
        sessions.append(session)
        session.start(ctx)
        self._prune(sessions)
        return session

    def router(self, ctx: AlgoContext) -> SmartOrderRouter:
        """The router over the context's venues (only ``venue`` when the parameters name one)."""
        if self._router is None:
            venues = ctx.venues if self.p.venue is None else tuple(v for v in ctx.venues if v.code == self.p.venue)
            self._router = SmartOrderRouter(venues)
        return self._router

    def _materialise(self, ctx: AlgoContext) -> list[RoutingSession]:
        if self._sessions is None:
            router = self.router(ctx) if self.s["sessions"] else None
            self._sessions = [RoutingSession.from_dict(router, d) for d in self.s["sessions"]]
            self.s["sessions"] = []
        return self._sessions

    @staticmethod
    def _prune(sessions: list[RoutingSession]) -> None:
        # A finished session's fills are already booked in s["filled"]: forget it.
        sessions[:] = [x for x in sessions if not x.done]

    # --- fills ------------------------------------------------------------------------------------------------
    def _book_fill(self, report: ExecutionReport) -> None:
        self.s["filled"] += report.fill.qty
        self.s["notional"] += report.fill.qty * report.fill.price

    def other_report(self, ctx: AlgoContext, report: ExecutionReport) -> None:
        """Hand a report that is not one of the own children's to the routing sessions."""
        sessions = self._materialise(ctx)
        for x in sessions:
            if x.on_report(ctx, report):
                if report.fill is not None:
                    self._book_fill(report)
                self._prune(sessions)
                self.on_session_report(ctx, x, report)
                return

    def on_session_report(self, ctx: AlgoContext, session: RoutingSession, report: ExecutionReport) -> None:
        """React to a report of one of the routing sessions (the schedule algorithms: as to their own)."""
        if self.s["ended"]:
            return
        if self.done:
            self._finish_parent(ctx)
        elif report.fill is not None:
            self._after_fill(ctx)


_REASONS = {
    PASSIVE: "on_schedule_passive",
    "cross": "behind_cross_spread",
    "sweep": "far_behind_sweep",
    FINISH: "finish_by_end",
}


def _near(book, side: Side):
    return book.best_bid if side is Side.BUY else book.best_ask
