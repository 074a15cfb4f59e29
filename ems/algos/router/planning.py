"""Smart order router, planning (pure): rank the venues for a request, choose the mode, plan the legs.

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
* **scorecards** (computed from our past fills, :func:`~ems.algos.router.scorecards.scorecards_from_fills`)
  blend in with weight ``n / (n + PRIOR_ORDERS)``: the measured effective cost replaces the book's
  promise in proportion to the evidence, an adverse markout (the mid moved against our fills afterwards)
  is added, and so is the cost of misses, ``(1 - fill_rate) * half spread``; the measured latency replaces the profile's.

**Mode** (unless the request names one, :meth:`SmartOrderRouter.choose_mode`): a passive request posts at
the best maker venue (sequential); high urgency -> parallel (take everything shown at once before it
moves); a take larger than the consolidated touch, or any low-urgency take, that meets a dark pool's
minimum -> liquidity-seeking; otherwise the cheaper, from the books, of the best venue alone (sequential)
and a spray (parallel).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ems.algos.router.scorecards import VenueScorecard
from ems.algos.types import RoutingMode, Urgency
from ems.sim.market import Book, Level
from ems.sim.measures import slippage_bps
from ems.sim.orders import OrderType, Side, TimeInForce
from ems.sim.venues import VenueProfile

PRIOR_ORDERS = 20  # a scorecard built on this many orders weighs as much as the book's promise
LATENCY_BPS_PER_MS: dict[Urgency, float] = {Urgency.LOW: 0.02, Urgency.MEDIUM: 0.05, Urgency.HIGH: 0.1}
SPRAY_SAVING_BPS = 0.05  # spray rather than take at one venue when that saves at least this much


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One child order to route. ``dark_wait_s`` > 0 rests dark legs (DAY) that long before moving on,
    0 pings them (IOC); the algorithm forwards its timers to
    :meth:`~ems.algos.router.session.RoutingSession.on_timer` for that."""

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
        cost = -slippage_bps(side, avg, mid) + fee_bps
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
        cost = -slippage_bps(side, price, mid) + fee_bps
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
                cost = -slippage_bps(req.side, price, mid) + fee_bps
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
