"""Smart order router (pure): where and how to send one child order, and a session that works it to the end.

:class:`SmartOrderRouter` ranks venues for a :class:`RouteRequest` and returns a :class:`RoutePlan` (the
legs, the mode, the reason in words and as a code, the expected cost). :class:`RoutingSession` executes a
request over several execution reports through the algorithm's context, in one of three modes:

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

**Ranking** (lower score first, basis points of the mid, all in):

* lit, taking: the average price of walking the venue's displayed ladder for the leg (within the limit)
  minus the mid, plus the taker fee (a rebate on an inverted venue lowers it);
* lit, posting (``passive``): the near touch minus the mid (negative: we earn half the spread) plus the
  maker fee (negative with a rebate), plus a queue term: displayed size ahead of us over the venue's share
  of the tape (a long queue at a venue with few prints fills late);
* dark: the midpoint fee (the price is the mid); ranked by the estimated chance that hidden contra shows
  up for us: per second ``fill_probability / 2`` (contra side is 50/50), over the wait if the pool is
  rested, blended with the pool's measured fill rate when there is a scorecard;
* plus a latency term (``LATENCY_BPS_PER_MS`` by urgency: the book we saw is older when the order lands);
* **scorecards** (computed from our past fills, :func:`scorecards_from_fills`) blend in with weight
  ``n / (n + PRIOR_ORDERS)``: the measured effective cost replaces the book's promise in proportion to
  the evidence, an adverse markout (the mid moved against our fills afterwards) is added, and so is the
  cost of misses, ``(1 - fill_rate) * half spread``; the measured latency replaces the profile's.

**Mode** (unless the request names one, :meth:`SmartOrderRouter.choose_mode`): a passive request posts at
the best maker venue (sequential); high urgency -> parallel (take everything shown at once before it
moves); a take larger than the consolidated touch, or any low-urgency take, that meets a dark pool's
minimum -> liquidity-seeking; otherwise the cheaper, from the books, of the best venue alone (sequential)
and a spray (parallel).

**Synchronised arrivals.** Our fills move the price for every venue at once (the simulator's impact, as in
a real market where other participants fade their quotes), so a spray whose legs land one after the other
finds the slower venues' books gone. A parallel round therefore holds back the faster venues' legs by
the difference in latency (``ctx.wake_at``; the algorithm forwards its timers to :meth:`RoutingSession.on_timer`)
so that all of them land in the same microsecond; held-back legs count as outstanding.

With a single venue (e.g. ``venues=(one lit venue,)`` for the "smart routing vs one venue" benchmark)
every mode degenerates to "everything to that venue".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ems.algos.types import RoutingMode, Urgency
from ems.sim.market import Book, Level
from ems.sim.orders import ExecutionReport, Fill, OrderRequest, OrderType, ReportKind, Side, TimeInForce
from ems.sim.venues import VenueProfile

US = 1_000_000
PRIOR_ORDERS = 20  # a scorecard built on this many orders weighs as much as the book's promise
LATENCY_BPS_PER_MS: dict[Urgency, float] = {Urgency.LOW: 0.02, Urgency.MEDIUM: 0.05, Urgency.HIGH: 0.1}
MAX_PARALLEL_ROUNDS = 5  # a spray is repeated while it fills something, at most this many times
SPRAY_SAVING_BPS = 0.05  # spray rather than take at one venue when that saves at least this much


# --- scorecards ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VenueScorecard:
    """A venue's record, computed from our past orders and fills (never typed in).

    ``fill_rate``: shares filled / shares sent; ``avg_latency_us``: one-way report latency measured on
    reports (``time - transact_time``; NaN without reports); ``effective_cost_bps``: quantity-weighted
    ``side (price - mid at the fill) / mid`` plus fees, positive = cost; ``markout_bps``: quantity-weighted
    ``side (mid(t + horizon) - mid(t)) / mid`` after our fills, positive = the price went on in our
    direction (a negative markout is adverse selection); ``n_orders``: orders sent there.
    """

    venue: str
    fill_rate: float
    avg_latency_us: float
    effective_cost_bps: float
    markout_bps: float
    n_orders: int


class _OrderLike(Protocol):
    venue: str
    qty: int


def scorecards_from_fills(
    fills: Iterable[Fill],
    orders: Iterable[_OrderLike],
    market_mid_at: Callable[[int], float],
    horizon_us: int,
    reports: Iterable[ExecutionReport] = (),
) -> dict[str, VenueScorecard]:
    """Return ``{venue: VenueScorecard}`` from past ``orders`` (anything with ``venue`` and ``qty``: an
    ``OrderRequest`` or the simulator's ``OrderState``), their ``fills``, the market mid at a time and the
    markout ``horizon_us``; ``reports`` (optional) give the measured latency."""
    sent: dict[str, list[int]] = {}
    for o in orders:
        acc = sent.setdefault(o.venue, [0, 0])
        acc[0] += 1
        acc[1] += int(o.qty)
    per: dict[str, list[float]] = {}  # venue -> [filled, cost numerator, markout numerator, mid notional]
    for f in fills:
        mid = market_mid_at(f.time)
        later = market_mid_at(f.time + horizon_us)
        sign = Side(f.side).sign
        acc = per.setdefault(f.venue, [0.0, 0.0, 0.0, 0.0])
        acc[0] += f.qty
        acc[1] += sign * (f.price - mid) * f.qty + f.fee
        acc[2] += sign * (later - mid) * f.qty
        acc[3] += mid * f.qty
    latency: dict[str, list[float]] = {}
    for r in reports:
        acc = latency.setdefault(r.venue, [0.0, 0.0])
        acc[0] += r.time - r.transact_time
        acc[1] += 1
    out = {}
    for venue in sorted(set(sent) | set(per)):
        n_orders, qty = sent.get(venue, (0, 0))
        filled, cost, markout, notional = per.get(venue, (0.0, 0.0, 0.0, 0.0))
        lat = latency.get(venue)
        out[venue] = VenueScorecard(
            venue=venue,
            fill_rate=min(1.0, filled / qty) if qty else 0.0,
            avg_latency_us=lat[0] / lat[1] if lat else math.nan,
            effective_cost_bps=cost / notional * 1e4 if notional else math.nan,
            markout_bps=markout / notional * 1e4 if notional else math.nan,
            n_orders=n_orders,
        )
    return out


# --- requests and plans ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One child order to route. ``dark_wait_s`` > 0 rests dark legs (DAY) that long before moving on,
    0 pings them (IOC); the algorithm forwards its timers to :meth:`RoutingSession.on_timer` for that."""

    side: Side
    qty: int
    limit_price: float | None = None
    urgency: Urgency = Urgency.MEDIUM
    mode: RoutingMode | None = None  # None: the router picks from urgency and size
    passive: bool = False  # post at the near touch instead of taking liquidity
    min_qty: int = 1  # lot / min child size
    dark_wait_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "urgency", Urgency(self.urgency))
        if self.mode is not None:
            object.__setattr__(self, "mode", RoutingMode(self.mode))
        if self.qty <= 0 or self.min_qty <= 0:
            raise ValueError("qty and min_qty must be positive")

    def to_dict(self) -> dict:
        return {
            "side": str(self.side),
            "qty": self.qty,
            "limit_price": self.limit_price,
            "urgency": str(self.urgency),
            "mode": None if self.mode is None else str(self.mode),
            "passive": self.passive,
            "min_qty": self.min_qty,
            "dark_wait_s": self.dark_wait_s,
        }


@dataclass(frozen=True, slots=True)
class RouteLeg:
    venue: str
    qty: int
    order_type: OrderType
    price: float | None
    tif: TimeInForce


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Where and how to send, and why. ``legs`` are in the order they are used: all at once in parallel
    mode, one after the other otherwise (later legs then show the quantity expected to be left)."""

    mode: RoutingMode
    legs: tuple[RouteLeg, ...]
    reason: str
    reason_code: str
    expected_cost_bps: float


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """The router's estimate for one venue: score (lower first), the quantity it can take, and the
    leg it would get."""

    venue: str
    score_bps: float
    cost_bps: float
    fillable: int
    price: float | None  # the leg's limit (worst level planned for a take, touch for a post, cap for dark)
    detail: str
    touch_size: int = 0  # lit: displayed size at the venue's best price on the side we take


def _round_lot(qty: int, lot: int, remaining: int) -> int:
    """Round ``qty`` down to whole lots; the odd tail of a remainder smaller than a lot goes as it is."""
    if remaining < lot:
        return min(qty, remaining)
    return (min(qty, remaining) // lot) * lot


def _within(price: float, limit: float | None, side: Side) -> bool:
    """Whether ``price`` respects ``limit`` (no limit: any price) for a ``side`` order."""
    return limit is None or (price <= limit + 1e-9 if side is Side.BUY else price >= limit - 1e-9)


def _walk(levels: tuple[Level, ...], qty: int, limit: float | None, side: Side) -> tuple[int, float, float | None]:
    """Return ``(shares, notional, worst price)`` taking ``levels`` best first up to ``qty`` and ``limit``."""
    left, notional, worst = qty, 0.0, None
    for price, size in levels:
        if left <= 0:
            break
        if not _within(price, limit, side):
            break
        take = min(left, int(size))
        if take > 0:
            notional += take * price
            left -= take
            worst = price
    return qty - left, notional, worst


class SmartOrderRouter:
    """Ranks venues and plans routes from the venues' books, fees, latencies and scorecards."""

    def __init__(self, venues: tuple[VenueProfile, ...], scorecards: dict[str, VenueScorecard] | None = None) -> None:
        if not venues:
            raise ValueError("the router needs at least one venue")
        self.venues = tuple(venues)
        self.by_code = {v.code: v for v in self.venues}
        if len(self.by_code) != len(self.venues):
            raise ValueError("venue codes must be unique")
        self.lit = tuple(v for v in self.venues if v.is_lit)
        self.dark = tuple(v for v in self.venues if not v.is_lit)
        self.scorecards = dict(scorecards or {})

    # --- the pieces of a score ------------------------------------------------------------------------
    def _evidence(self, venue: str) -> tuple[VenueScorecard | None, float]:
        sc = self.scorecards.get(venue)
        if sc is None or sc.n_orders <= 0:
            return None, 0.0
        return sc, sc.n_orders / (sc.n_orders + PRIOR_ORDERS)

    def latency_us(self, v: VenueProfile) -> float:
        """One-way latency to ``v``: measured (scorecard) if known, else the profile's."""
        sc, _ = self._evidence(v.code)
        if sc is not None and not math.isnan(sc.avg_latency_us):
            return sc.avg_latency_us
        return float(v.latency_us)

    def _adjust(self, v: VenueProfile, cost_bps: float, urgency: Urgency, half_spread_bps: float) -> tuple[float, str]:
        """Return the score for a book-based ``cost_bps``: latency, then the scorecard blended in."""
        latency = self.latency_us(v)
        score = cost_bps + latency / 1000.0 * LATENCY_BPS_PER_MS[urgency]
        sc, w = self._evidence(v.code)
        if sc is None:
            return score, f"{latency:.0f}us"
        if not math.isnan(sc.effective_cost_bps):
            score += w * (sc.effective_cost_bps - cost_bps)
        if not math.isnan(sc.markout_bps):
            score += w * max(0.0, -sc.markout_bps)
        score += w * (1.0 - sc.fill_rate) * half_spread_bps
        return score, (
            f"{latency:.0f}us, scorecard n={sc.n_orders} fill {sc.fill_rate:.0%} "
            f"eff {sc.effective_cost_bps:.2f} markout {sc.markout_bps:.2f} bps"
        )

    def quote_take(
        self, v: VenueProfile, book: Book | None, side: Side, qty: int, limit: float | None, mid: float, urgency: Urgency
    ) -> VenueQuote | None:
        """Return the estimate for taking up to ``qty`` on lit venue ``v`` (None: nothing to take)."""
        if book is None:
            return None
        levels = book.asks if side is Side.BUY else book.bids
        shares, notional, worst = _walk(levels, qty, limit, side)
        if shares <= 0:
            return None
        avg = notional / shares
        fee_bps = v.taker_fee / mid * 1e4
        cost = side.sign * (avg - mid) / mid * 1e4 + fee_bps
        touch = levels[0].price
        half = abs(touch - mid) / mid * 1e4
        score, more = self._adjust(v, cost, urgency, half)
        return VenueQuote(
            v.code,
            score,
            cost,
            shares,
            worst,
            f"{v.code} take {shares} @ avg {avg:.4f} (fee {fee_bps:+.2f}), {cost:.2f} bps, {more}",
            min(int(levels[0].size), shares),
        )

    def quote_post(
        self, v: VenueProfile, book: Book | None, side: Side, qty: int, limit: float | None, mid: float, urgency: Urgency
    ) -> VenueQuote | None:
        """Return the estimate for posting ``qty`` at lit venue ``v``'s near touch (capped by the limit)."""
        if book is None:
            return None
        near = book.best_bid if side is Side.BUY else book.best_ask
        if near is None:
            return None
        price = near.price
        if limit is not None and (price > limit if side is Side.BUY else price < limit):
            price = limit
        fee_bps = v.maker_fee / mid * 1e4
        cost = side.sign * (price - mid) / mid * 1e4 + fee_bps
        # Queue term: shares ahead of us per unit of the venue's share of the prints (fills come from prints).
        queue = near.size if price == near.price else 0
        queue_bps = 0.1 * queue / max(qty, 1) / max(v.market_share, 0.05)
        score, more = self._adjust(v, cost + queue_bps, urgency, abs(near.price - mid) / mid * 1e4)
        return VenueQuote(
            v.code,
            score,
            cost,
            qty,
            price,
            f"{v.code} post {qty} @ {price} (fee {fee_bps:+.2f}, queue {queue}), {cost:.2f} bps, {more}",
        )

    def dark_probability(self, v: VenueProfile, wait_s: float) -> float:
        """Return the estimated chance that a ping (``wait_s`` = 0) or a ``wait_s`` rest at dark pool ``v``
        meets contra on our side, blended with its measured fill rate."""
        p = min(1.0, v.fill_probability / 2.0)
        prior = 1.0 - (1.0 - p) ** max(1.0, wait_s)
        sc, w = self._evidence(v.code)
        return prior if sc is None else (1.0 - w) * prior + w * sc.fill_rate

    def quote_dark(
        self, v: VenueProfile, side: Side, qty: int, limit: float | None, mid: float, urgency: Urgency, wait_s: float
    ) -> VenueQuote | None:
        """Return the estimate for a midpoint order of ``qty`` at dark pool ``v`` (None: below its minimum)."""
        if qty < v.min_size:
            return None
        if limit is not None and (mid > limit if side is Side.BUY else mid < limit):
            return None
        p = self.dark_probability(v, wait_s)
        cost = v.mid_fee / mid * 1e4
        score, more = self._adjust(v, cost, urgency, 0.0)
        return VenueQuote(
            v.code, -p, score, qty, limit, f"{v.code} dark p(contra) {p:.1%}, min {v.min_size}, fee {cost:.2f} bps, {more}"
        )

    # --- ranking --------------------------------------------------------------------------------------
    def rank_lit(
        self, req: RouteRequest, books: dict[str, Book], mid: float, qty: int | None = None, exclude: Iterable[str] = ()
    ) -> list[VenueQuote]:
        """Lit venues best first for taking (or posting if ``req.passive``) ``qty`` (default ``req.qty``)."""
        q = req.qty if qty is None else qty
        skip = set(exclude)
        quotes = []
        for v in self.lit:
            if v.code in skip:
                continue
            fn = self.quote_post if req.passive else self.quote_take
            quote = fn(v, books.get(v.code), req.side, q, req.limit_price, mid, req.urgency)
            if quote is not None:
                quotes.append(quote)
        # ties: larger fillable first, then the venue list order (stable sort keeps it deterministic)
        return sorted(quotes, key=lambda x: (round(x.score_bps, 9), -x.fillable))

    def rank_dark(self, req: RouteRequest, mid: float, qty: int | None = None, exclude: Iterable[str] = ()) -> list[VenueQuote]:
        """Eligible dark pools (minimum size met, mid within the limit), best chance of contra first."""
        q = req.qty if qty is None else qty
        skip = set(exclude)
        quotes = [
            self.quote_dark(v, req.side, q, req.limit_price, mid, req.urgency, req.dark_wait_s)
            for v in self.dark
            if v.code not in skip
        ]
        return sorted((x for x in quotes if x is not None), key=lambda x: (x.score_bps, x.cost_bps))

    def choose_mode(
        self, req: RouteRequest, qty: int, lit: list[VenueQuote], dark: list[VenueQuote], books: dict[str, Book], mid: float
    ) -> tuple[RoutingMode, str, str]:
        """Return ``(mode, reason_code, why)`` for a request that names no mode.

        High urgency sprays. A take larger than the consolidated touch (it would walk books) first tries
        the dark pools whose minimum it meets, as does any low-urgency take. Otherwise the cheaper of
        "the best venue alone" and "a spray across venues" (all in, from the books) decides.
        """
        if req.passive:
            return RoutingMode.SEQUENTIAL, "route.sequential.passive", "passive: post at the venue with the best maker economics"
        if req.urgency is Urgency.HIGH:
            return RoutingMode.PARALLEL, "route.parallel.high_urgency", "high urgency: take what is shown everywhere at once"
        touch = sum(x.touch_size for x in lit)
        if dark and (qty > touch or req.urgency is Urgency.LOW):
            why = f"{qty} sh meets the dark minimum of {dark[0].venue}"
            why += ", low urgency" if req.urgency is Urgency.LOW else f", more than the {touch} sh at the lit touches"
            return RoutingMode.LIQUIDITY_SEEKING, "route.liquidity_seeking.dark_eligible", why
        if len(lit) > 1:
            legs, costs = self._spray(req, lit, books, qty, mid)
            sprayed = sum(q for q, _ in costs)
            spray_cost = sum(q * c for q, c in costs) / sprayed if sprayed else math.inf
            best = lit[0]
            if best.fillable < qty and sprayed > best.fillable:
                return (
                    RoutingMode.PARALLEL,
                    "route.parallel.exceeds_best_venue",
                    f"{qty} sh > {best.fillable} shown at {best.venue}",
                )
            if spray_cost < best.cost_bps - SPRAY_SAVING_BPS:
                why = f"spraying {len(legs)} venues costs {spray_cost:.2f} bps vs {best.cost_bps:.2f} at {best.venue} alone"
                return RoutingMode.PARALLEL, "route.parallel.cheaper_than_one_venue", why
        fill = lit[0].fillable if lit else 0
        return RoutingMode.SEQUENTIAL, "route.sequential.fits_best_venue", f"{qty} sh fits the best venue ({fill} shown)"

    # --- plans ----------------------------------------------------------------------------------------
    def plan(self, req: RouteRequest, books: dict[str, Book], mid: float, now: int) -> RoutePlan:
        """Return the route for ``req`` now (``books``: lit venue ladders; ``mid``: the consolidated mid)."""
        return self.plan_remaining(req, req.qty, books, mid, now)

    def plan_remaining(
        self,
        req: RouteRequest,
        qty: int,
        books: dict[str, Book],
        mid: float,
        now: int,
        *,
        mode: RoutingMode | None = None,
        exclude: Iterable[str] = (),
        dark: bool = True,
        why: str | None = None,
    ) -> RoutePlan:
        """Plan ``qty`` of ``req`` (what is left of it), skipping venues in ``exclude`` and, with
        ``dark=False``, every dark pool (the lit phase of liquidity seeking)."""
        skip = set(exclude)
        lit = self.rank_lit(req, books, mid, qty, skip)
        darks = self.rank_dark(req, mid, qty, skip) if dark else []
        mode = mode or req.mode
        if mode is None:
            mode, code, why = self.choose_mode(req, qty, lit, darks, books, mid)
        else:
            code, why = f"route.{mode}.requested", why or "mode requested"
        legs: list[RouteLeg] = []
        costs: list[tuple[int, float]] = []
        lot = req.min_qty
        if mode is RoutingMode.LIQUIDITY_SEEKING:
            dark_tif = TimeInForce.DAY if req.dark_wait_s > 0 else TimeInForce.IOC
            for x in darks:
                legs.append(RouteLeg(x.venue, qty, OrderType.MARKET, req.limit_price, dark_tif))
        if mode is RoutingMode.PARALLEL and not req.passive:
            legs, costs = self._spray(req, lit, books, qty, mid)
        elif mode is RoutingMode.PARALLEL:
            left = qty
            for i, x in enumerate(lit):
                if left <= 0:
                    break
                q = left if i == len(lit) - 1 else _round_lot(_passive_share(x, lit, qty), lot, left)
                if q <= 0:
                    continue
                legs.append(self._lit_leg(req, x, q))
                costs.append((q, x.cost_bps))
                left -= q
        else:  # sequential, and the lit phase of liquidity seeking: ranked venues, each the expected rest
            left = qty
            for x in lit:
                if left <= 0:
                    break
                legs.append(self._lit_leg(req, x, left))
                costs.append((min(left, x.fillable), x.cost_bps))
                left -= min(left, x.fillable)
        if mode is RoutingMode.LIQUIDITY_SEEKING and darks:
            # the dark legs' cost: the midpoint fee on what the best pool is expected to find
            p = -darks[0].score_bps
            costs = [(q * (1 - p), c) for q, c in costs] + [(qty * p, darks[0].cost_bps)]
        total = sum(q for q, _ in costs)
        expected = sum(q * c for q, c in costs) / total if total else math.nan
        names = ", ".join(f"{leg.venue} {leg.qty}" for leg in legs) or "no venue"
        ranked = "; ".join(x.detail for x in (darks + lit)[:6])
        reason = f"{mode}: {why} -> {names}; expected {expected:.2f} bps. Ranked: {ranked}"
        if not legs:
            code = f"route.{mode}.no_liquidity"
            reason = f"{mode}: no venue can take {qty} sh within the limit now. Ranked: {ranked or 'none'}"
        return RoutePlan(mode, tuple(legs), reason, code, expected)

    def _spray(
        self, req: RouteRequest, lit: list[VenueQuote], books: dict[str, Book], qty: int, mid: float
    ) -> tuple[list[RouteLeg], list[tuple[int, float]]]:
        """Size a parallel take to the displayed depth: every lit level within the limit, across venues,
        cheapest all-in first (price + taker fee + the venue's latency / scorecard terms), until ``qty``;
        one IOC leg per venue, limited at the worst level taken there."""
        rank = {x.venue: i for i, x in enumerate(lit)}
        adj = {x.venue: x.score_bps - x.cost_bps for x in lit}
        levels = []
        for x in lit:
            v = self.by_code[x.venue]
            book = books[x.venue]
            fee_bps = v.taker_fee / mid * 1e4
            for price, size in book.asks if req.side is Side.BUY else book.bids:
                if not _within(price, req.limit_price, req.side):
                    break
                cost = req.side.sign * (price - mid) / mid * 1e4 + fee_bps
                levels.append((cost + adj[x.venue], rank[x.venue], x.venue, price, int(size), cost))
        levels.sort(key=lambda t: (round(t[0], 9), t[1]))
        alloc: dict[str, list] = {}  # venue -> [qty, worst price, cost numerator]
        left = qty
        for _, _, venue, price, size, cost in levels:
            if left <= 0:
                break
            take = min(left, size)
            a = alloc.setdefault(venue, [0, price, 0.0])
            a[0] += take
            a[1] = price
            a[2] += take * cost
            left -= take
        legs, costs = [], []
        rest = qty
        for venue in sorted(alloc, key=rank.__getitem__):
            q, worst, num = alloc[venue]
            q = _round_lot(q, req.min_qty, rest)
            if q <= 0:
                continue
            price = req.limit_price if req.limit_price is not None else worst
            legs.append(RouteLeg(venue, q, OrderType.LIMIT, price, TimeInForce.IOC))
            costs.append((q, num / alloc[venue][0]))
            rest -= q
        return legs, costs

    def _lit_leg(self, req: RouteRequest, x: VenueQuote, qty: int) -> RouteLeg:
        if req.passive:
            return RouteLeg(x.venue, qty, OrderType.LIMIT, x.price, TimeInForce.DAY)
        # Take as an IOC limit at the worst level planned (never deeper than what we saw), or at our limit.
        price = req.limit_price if req.limit_price is not None else x.price
        return RouteLeg(x.venue, qty, OrderType.LIMIT, price, TimeInForce.IOC)


def _passive_share(x: VenueQuote, lit: list[VenueQuote], qty: int) -> int:
    """Split a passive spray in proportion to the venues' inverse scores (cheaper venue, larger slice)."""
    weights = [1.0 / (1.0 + max(0.0, q.score_bps - lit[0].score_bps)) for q in lit]
    return max(1, int(qty * weights[lit.index(x)] / sum(weights)))


# --- sessions --------------------------------------------------------------------------------------------
class RoutingContext(Protocol):
    """The members of the algorithm's context a session uses."""

    @property
    def now(self) -> int: ...

    def mid(self) -> float: ...

    def snapshots(self) -> dict[str, Book]: ...

    def send(self, req: OrderRequest) -> str: ...

    def cancel(self, order_id: str) -> None: ...


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
    def start(self, ctx: RoutingContext) -> None:
        """Plan and send the first legs."""
        plan = self.router.plan(self.req, ctx.snapshots(), ctx.mid(), ctx.now)
        self.mode = plan.mode
        self.phase = {RoutingMode.SEQUENTIAL: _SEQ, RoutingMode.PARALLEL: _PAR, RoutingMode.LIQUIDITY_SEEKING: _DARK}[plan.mode]
        self._log(ctx, plan.reason_code, plan.reason, plan.expected_cost_bps)
        self._act(ctx, plan)

    def on_report(self, ctx: RoutingContext, report: ExecutionReport) -> bool:
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

    def on_timer(self, ctx: RoutingContext) -> None:
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

    def reduce(self, ctx: RoutingContext, goal: int) -> None:
        """Lower the goal (never below what is filled); once met, every working leg is cancelled."""
        self.goal = max(self.filled, min(goal, self.req.qty))
        if self.filled >= self.goal:
            self._cancel_working(ctx, "route.goal_reduced")

    def cancel(self, ctx: RoutingContext) -> None:
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

    def _log(self, ctx: RoutingContext, code: str, reason: str, cost: float = math.nan) -> None:
        self.decisions.append(
            {"t": int(ctx.now), "code": code, "reason": reason, "expected_cost_bps": None if math.isnan(cost) else round(cost, 4)}
        )

    def _send(self, ctx: RoutingContext, leg: RouteLeg, delay_us: int = 0) -> int:
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

    def _dispatch(self, ctx: RoutingContext, entry: _Leg) -> None:
        entry.send_at = None
        req = OrderRequest(entry.venue, self.req.side, entry.qty, entry.order_type, entry.price, entry.tif, entry.client_order_id)
        entry.order_id = ctx.send(req)

    def _cancel(self, ctx: RoutingContext, leg: _Leg) -> None:
        if leg.pending:  # never sent: nothing to ask the venue
            leg.closed = True
            leg.send_at = None
            return
        leg.cancel_sent = True
        ctx.cancel(leg.order_id)

    def _cancel_working(self, ctx: RoutingContext, code: str) -> None:
        working = [leg for leg in self.legs if not leg.closed and not leg.cancel_sent]
        if working:
            self._log(
                ctx,
                code,
                f"cancel {', '.join(f'{leg.venue} {leg.outstanding}' for leg in working)}: filled {self.filled} of goal {self.goal}",
            )
        for leg in working:
            self._cancel(ctx, leg)

    def _act(self, ctx: RoutingContext, plan: RoutePlan) -> None:
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

    def _lit_phase(self, ctx: RoutingContext) -> None:
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

    def _route(self, ctx: RoutingContext, code: str) -> None:
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

    def _next(self, ctx: RoutingContext) -> None:
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
