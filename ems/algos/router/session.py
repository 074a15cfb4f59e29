"""Smart order router, session (pure): work one routed request to the end over several execution reports.

:class:`RoutingSession` executes a :class:`~ems.algos.router.planning.RouteRequest` through the algorithm's
context, in one of three modes:

* **sequential**: the best-ranked venue gets the whole remainder (IOC); what it does not fill is
  re-routed to the next venue, re-ranked on the books of that instant, until done or every venue was tried;
* **parallel**: the remainder is sprayed at once across lit venues, each leg sized to the displayed
  depth within the limit; a new round sprays what a round left, as long as the last round filled
  something; once the goal is met every working leg is cancelled;
* **liquidity-seeking**: dark pools first (one at a time, best estimated chance of hidden contra first,
  only pools whose minimum size the remainder meets; IOC pings, or DAY rests of ``dark_wait_s``), then the
  lit venues (sprayed if that is cheaper than the best venue alone, else in turn).

**Over-fill guard.** A session never has more than ``req.qty`` filled plus outstanding, however reports
interleave: a new leg is only ever sized from the slack ``req.qty - filled - outstanding``, a fill moves
quantity from outstanding to filled (per leg, from the report's cumulative quantity, so a duplicate
report counts once), and a leg's unfilled rest is released only by its terminal report.

**Synchronised arrivals.** Our fills move the price for every venue at once (the simulator's impact, as in
a real market where other participants fade their quotes), so a spray whose legs land one after the other
finds the slower venues' books gone. A parallel round therefore holds back the faster venues' legs by
the difference in latency (``ctx.wake_at``; the algorithm forwards its timers to :meth:`RoutingSession.on_timer`)
so that all of them land in the same microsecond; held-back legs count as outstanding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ems.algos.context import AlgoContext
from ems.algos.router.planning import RouteLeg, RoutePlan, RouteRequest, SmartOrderRouter
from ems.algos.types import RoutingMode
from ems.sim.clock import US
from ems.sim.orders import ExecutionReport, OrderRequest, ReportKind, TimeInForce

MAX_PARALLEL_ROUNDS = 5  # a spray is repeated while it fills something, at most this many times


@dataclass
class _Leg:
    client_order_id: str
    order_id: str
    venue: str
    qty: int
    dark: bool
    cum: int = 0
    closed: bool = False
    cancel_sent: bool = False
    # A leg held back so that a parallel spray lands everywhere at the same instant: sent at ``send_at``.
    send_at: int | None = None
    order_type: str = ""
    price: float | None = None
    tif: str = ""

    @property
    def outstanding(self) -> int:
        return 0 if self.closed else self.qty - self.cum

    @property
    def pending(self) -> bool:
        return self.send_at is not None and not self.closed


_SEQ, _PAR, _DARK, _LIT = "sequential", "parallel", "dark", "lit"


class RoutingSession:
    """Works one routed request to completion over several reports (sequential re-route, parallel spray
    with an over-fill guard, liquidity-seeking dark-then-lit). The algorithm hands every report to
    :meth:`on_report` (and, for rested dark legs, its timers to :meth:`on_timer`); the whole state is
    plain JSON (:meth:`to_dict` / :meth:`from_dict`)."""

    def __init__(self, router: SmartOrderRouter, req: RouteRequest, session_id: str) -> None:
        self.router = router
        self.req = req
        self.session_id = session_id
        self.goal = req.qty  # may be lowered with reduce(); req.qty stays the hard cap
        self.mode: RoutingMode | None = None
        self.phase = ""  # sequential | parallel | dark | lit
        self.legs: list[_Leg] = []
        self.tried: list[str] = []  # venues tried in this pass (sequential / dark / lit phases)
        self.n_sent = 0
        self.round_filled = 0
        self.rounds = 0
        self.dark_deadline: int | None = None
        self.exhausted = False
        self.cancelled = False
        self.decisions: list[dict] = []  # {"t", "code", "reason", "expected_cost_bps"}

    # --- the quantities -------------------------------------------------------------------------------
    @property
    def filled(self) -> int:
        return sum(leg.cum for leg in self.legs)

    @property
    def outstanding(self) -> int:
        return sum(leg.outstanding for leg in self.legs)

    @property
    def slack(self) -> int:
        """Quantity that may still be sent: the goal less filled and outstanding (never below 0)."""
        return max(0, min(self.goal, self.req.qty) - self.filled - self.outstanding)

    @property
    def done(self) -> bool:
        return self.outstanding == 0 and (self.filled >= self.goal or self.exhausted or self.cancelled)

    @property
    def reason_code(self) -> str:
        return self.decisions[-1]["code"] if self.decisions else ""

    # --- driving --------------------------------------------------------------------------------------
    def start(self, ctx: AlgoContext) -> None:
        """Plan and send the first legs."""
        plan = self.router.plan(self.req, ctx.snapshots(), ctx.mid(), ctx.now)
        self.mode = plan.mode
        self.phase = {RoutingMode.SEQUENTIAL: _SEQ, RoutingMode.PARALLEL: _PAR, RoutingMode.LIQUIDITY_SEEKING: _DARK}[plan.mode]
        self._log(ctx, plan.reason_code, plan.reason, plan.expected_cost_bps)
        self._act(ctx, plan)

    def on_report(self, ctx: AlgoContext, report: ExecutionReport) -> bool:
        """Account a report; return False if it is not one of this session's legs. Re-routes, starts a new
        spray round or cancels the rest as the mode says."""
        leg = self._leg(report.client_order_id)
        if leg is None:
            return False
        # Cumulative quantity, not the fill's: a duplicated or stale report counts once.
        delta = min(report.cum_qty, leg.qty) - leg.cum
        if delta > 0:
            leg.cum += delta
            self.round_filled += delta
        if report.is_terminal:
            leg.closed = True
        if report.kind is ReportKind.CANCEL_REJECTED:
            return True  # the order is done already; its fill or expiry report says how
        if self.filled >= self.goal:
            self._cancel_working(ctx, "route.goal_met")
            return True
        if report.is_terminal and not self.cancelled:
            self._next(ctx)
        return True

    def on_timer(self, ctx: AlgoContext) -> None:
        """Send held-back spray legs that are due; cancel a rested dark leg whose wait is over (its
        CANCELLED report moves the session on)."""
        for leg in self.legs:
            if leg.pending and leg.send_at <= ctx.now:
                self._dispatch(ctx, leg)
        if self.phase == _DARK and self.dark_deadline is not None and ctx.now >= self.dark_deadline:
            for leg in self.legs:
                if leg.dark and not leg.closed and not leg.cancel_sent:
                    self._cancel(ctx, leg)

    @property
    def wake_at(self) -> int | None:
        """When the session next wants :meth:`on_timer` (a held-back leg, the end of a dark rest), if at all."""
        times = [leg.send_at for leg in self.legs if leg.pending]
        if self.phase == _DARK and self.dark_deadline is not None and any(leg.dark and not leg.closed for leg in self.legs):
            times.append(self.dark_deadline)
        return min(times) if times else None

    def reduce(self, ctx: AlgoContext, goal: int) -> None:
        """Lower the goal (never below what is filled); once met, every working leg is cancelled."""
        self.goal = max(self.filled, min(goal, self.req.qty))
        if self.filled >= self.goal:
            self._cancel_working(ctx, "route.goal_reduced")

    def cancel(self, ctx: AlgoContext) -> None:
        """Cancel everything still working; the session sends nothing more."""
        self.cancelled = True
        self._cancel_working(ctx, "route.cancelled")

    # --- internals ------------------------------------------------------------------------------------
    def _leg(self, client_order_id: str) -> _Leg | None:
        if not client_order_id.startswith(self.session_id + "-"):
            return None
        for leg in self.legs:
            if leg.client_order_id == client_order_id:
                return leg
        return None

    def _log(self, ctx: AlgoContext, code: str, reason: str, cost: float = math.nan) -> None:
        self.decisions.append(
            {"t": int(ctx.now), "code": code, "reason": reason, "expected_cost_bps": None if math.isnan(cost) else round(cost, 4)}
        )

    def _send(self, ctx: AlgoContext, leg: RouteLeg, delay_us: int = 0) -> int:
        """Account a leg and send it now, or hold it back ``delay_us`` (needs the context's ``wake_at``)."""
        qty = min(leg.qty, self.slack)  # the over-fill guard: never more than the slack
        profile = self.router.by_code[leg.venue]
        if qty <= 0 or (not profile.is_lit and qty < profile.min_size):
            return 0
        self.n_sent += 1
        cid = f"{self.session_id}-{self.n_sent}"
        # account before sending: a driver may deliver reports synchronously from inside send()
        entry = _Leg(
            cid, "", leg.venue, qty, not profile.is_lit, order_type=str(leg.order_type), price=leg.price, tif=str(leg.tif)
        )
        self.legs.append(entry)
        wake = getattr(ctx, "wake_at", None)
        if delay_us > 0 and callable(wake):
            entry.send_at = int(ctx.now + delay_us)
            wake(entry.send_at)
        else:
            self._dispatch(ctx, entry)
        return qty

    def _dispatch(self, ctx: AlgoContext, entry: _Leg) -> None:
        entry.send_at = None
        req = OrderRequest(entry.venue, self.req.side, entry.qty, entry.order_type, entry.price, entry.tif, entry.client_order_id)
        entry.order_id = ctx.send(req)

    def _cancel(self, ctx: AlgoContext, leg: _Leg) -> None:
        if leg.pending:  # never sent: nothing to ask the venue
            leg.closed = True
            leg.send_at = None
            return
        leg.cancel_sent = True
        ctx.cancel(leg.order_id)

    def _cancel_working(self, ctx: AlgoContext, code: str) -> None:
        working = [leg for leg in self.legs if not leg.closed and not leg.cancel_sent]
        if working:
            self._log(
                ctx,
                code,
                f"cancel {', '.join(f'{leg.venue} {leg.outstanding}' for leg in working)}: filled {self.filled} of goal {self.goal}",
            )
        for leg in working:
            self._cancel(ctx, leg)

    def _act(self, ctx: AlgoContext, plan: RoutePlan) -> None:
        """Send the plan's first leg (one-at-a-time phases) or all of them (parallel)."""
        if not plan.legs:
            if self.phase == _DARK:
                self._lit_phase(ctx)
                return
            if self.outstanding == 0:
                self.exhausted = True
            return
        if self.phase == _PAR:
            self.rounds += 1
            self.round_filled = 0
            # Takes land at every venue in the same microsecond: our first fill moves the price (impact) and
            # would fade the books the slower legs were sized on. So the faster venues' legs wait out the
            # difference in latency.
            takes = [leg for leg in plan.legs if leg.tif is TimeInForce.IOC]
            latency = {leg.venue: int(round(self.router.latency_us(self.router.by_code[leg.venue]))) for leg in takes}
            slowest = max(latency.values(), default=0)
            for leg in sorted(plan.legs, key=lambda x: -latency.get(x.venue, slowest)):
                self._send(ctx, leg, slowest - latency.get(leg.venue, slowest))
            return
        if self.phase == _DARK:
            dark_legs = [leg for leg in plan.legs if not self.router.by_code[leg.venue].is_lit]
            if not dark_legs:
                self._lit_phase(ctx)
                return
            leg = dark_legs[0]
            if leg.tif is TimeInForce.DAY:
                self.dark_deadline = int(ctx.now + self.req.dark_wait_s * US)
                wake = getattr(ctx, "wake_at", None)
                if callable(wake):
                    wake(self.dark_deadline)
            self.tried.append(leg.venue)
            self._send(ctx, leg)
            return
        leg = plan.legs[0]
        self.tried.append(leg.venue)
        self._send(ctx, leg)

    def _lit_phase(self, ctx: AlgoContext) -> None:
        """After the dark pools: the lit venues, sprayed in parallel when that is cheaper than the best venue
        alone (one venue after another would let the first fill's impact fade the others), else in turn."""
        self.tried = []
        self.dark_deadline = None
        books, mid = ctx.snapshots(), ctx.mid()
        lit = self.router.rank_lit(self.req, books, mid, self.slack)
        mode, _, _ = self.router.choose_mode(self.req, self.slack, lit, [], books, mid)
        if mode is RoutingMode.PARALLEL:
            self.phase = _PAR
            self._route(ctx, "route.liquidity_seeking.lit_parallel")
        else:
            self.phase = _LIT
            self._route(ctx, "route.liquidity_seeking.lit_phase")

    def _route(self, ctx: AlgoContext, code: str) -> None:
        left = self.slack
        if left <= 0:
            return
        mode = RoutingMode.PARALLEL if self.phase == _PAR else RoutingMode.SEQUENTIAL
        if self.phase == _DARK:
            mode = RoutingMode.LIQUIDITY_SEEKING
        why = f"re-route the {left} sh left" + (f" (tried {', '.join(self.tried)})" if self.tried else "")
        plan = self.router.plan_remaining(
            self.req, left, ctx.snapshots(), ctx.mid(), ctx.now, mode=mode, exclude=self.tried, dark=self.phase == _DARK, why=why
        )
        self._log(ctx, code if plan.legs else plan.reason_code, plan.reason, plan.expected_cost_bps)
        self._act(ctx, plan)

    def _next(self, ctx: AlgoContext) -> None:
        """After a terminal report: route what is left, if the phase allows and nothing else is working."""
        if self.slack <= 0 or self.exhausted:
            return
        if self.phase == _PAR:
            if self.outstanding:
                return  # the round is still working
            if self.round_filled <= 0 or self.rounds >= MAX_PARALLEL_ROUNDS:
                self.exhausted = True
                self._log(
                    ctx,
                    "route.parallel.exhausted",
                    f"round {self.rounds} filled {self.round_filled}: stop with {self.slack} left",
                )
                return
            self._route(ctx, "route.parallel.respray")
            return
        if self.outstanding:
            return
        self._route(
            ctx,
            {
                _SEQ: "route.sequential.reroute",
                _DARK: "route.liquidity_seeking.next_pool",
                _LIT: "route.liquidity_seeking.lit_reroute",
            }[self.phase],
        )

    # --- persistence ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "req": self.req.to_dict(),
            "goal": self.goal,
            "mode": None if self.mode is None else str(self.mode),
            "phase": self.phase,
            "legs": [asdict(x) for x in self.legs],
            "tried": list(self.tried),
            "n_sent": self.n_sent,
            "round_filled": self.round_filled,
            "rounds": self.rounds,
            "dark_deadline": self.dark_deadline,
            "exhausted": self.exhausted,
            "cancelled": self.cancelled,
            "decisions": [dict(d) for d in self.decisions],
            # read-only summaries for a reader that does not restore the session
            "filled": self.filled,
            "outstanding": self.outstanding,
            "done": self.done,
        }

    @classmethod
    def from_dict(cls, router: SmartOrderRouter, d: dict) -> RoutingSession:
        s = cls(router, RouteRequest(**d["req"]), d["session_id"])
        s.goal = int(d["goal"])
        s.mode = None if d["mode"] is None else RoutingMode(d["mode"])
        s.phase = d["phase"]
        s.legs = [_Leg(**x) for x in d["legs"]]
        s.tried = list(d["tried"])
        s.n_sent = int(d["n_sent"])
        s.round_filled = int(d["round_filled"])
        s.rounds = int(d["rounds"])
        s.dark_deadline = d["dark_deadline"]
        s.exhausted = bool(d["exhausted"])
        s.cancelled = bool(d["cancelled"])
        s.decisions = [dict(x) for x in d["decisions"]]
        return s
