"""EMS reads. The live market view is computed from the seeded model at the current market time.

Nothing here holds the market in memory between requests: a day's arrays are a pure function of
(seed, instrument, venues, day) and are cached per process only as a recomputable convenience.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Sum

from ems.algos.cost import pre_trade_estimate
from ems.algos.selection import select_strategy
from ems.algos.types import OrderSpec, StrategyName
from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder, Venue
from ems.option_market import chain_quotes, option_quotes_held, option_ticks
from ems.sim import SESSION_US, US, InstrumentParams, Liquidity, LiveClock, Market, Side, format_clock, measures
from ems.sim.orders import Fill as SimFill
from ems.sim.venues import DEFAULT_VENUES, VenueProfile
from ems.states import ExecStatus
from oms import roles
from oms.models import Instrument, InstrumentKind, KillSwitch, MarketPrice, Position, PriceTick
from oms.money import PRICE_Q

RECENT_PRINTS = 25
CHART_MINUTES = 60


def live_clock() -> LiveClock:
    """The deployment's clock: every process derives the same market time from settings."""
    anchor = settings.SIM_ANCHOR
    if anchor is None:  # start of the current UTC day: all processes agree without coordination
        now = datetime.now(UTC)
        anchor = datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp()
    return LiveClock(speed=settings.SIM_SPEED, anchor_wall=anchor)


def instrument_params(instrument: Instrument) -> InstrumentParams:
    return InstrumentParams(
        instrument.symbol, reference_price=instrument.reference_price, adv=instrument.adv,
        daily_vol=instrument.daily_volatility, spread_bps=instrument.spread_bps,
        tick_size=instrument.tick_size, lot_size=instrument.lot_size, listed_option=instrument.is_option,
    )


def venue_profile(venue: Venue) -> VenueProfile:
    """The simulator profile of a Venue row (fees and factors as floats, as ems.sim works in floats)."""
    defaults = next((p for p in DEFAULT_VENUES if p.code == venue.code), None)
    extra = {}
    if defaults is not None:  # knobs the admin does not edit keep the simulator's documented defaults
        extra = {"refill_half_life_s": defaults.refill_half_life_s, "leakage": defaults.leakage}
    return VenueProfile(
        code=venue.code, name=venue.name, kind=venue.kind,
        maker_fee=float(venue.maker_fee), taker_fee=float(venue.taker_fee), latency_us=venue.latency_us,
        depth_factor=float(venue.depth_factor), market_share=float(venue.market_share),
        fill_probability=float(venue.fill_probability), min_size=venue.min_size, mid_fee=float(venue.mid_fee),
        **extra,
    )


def venue_profiles(*, kinds: tuple[str, ...] = (Venue.Kind.LIT, Venue.Kind.DARK)) -> tuple[VenueProfile, ...]:
    """Profiles of the active simulated venues, in code order (the market model's venue set)."""
    return tuple(venue_profile(v) for v in Venue.objects.filter(status=Venue.Status.ACTIVE, kind__in=kinds).order_by("code"))


@lru_cache(maxsize=64)
def _market(params: InstrumentParams, seed: int, day: int, venues) -> Market:
    return Market(params, seed=seed, day=day, venues=venues)


def market_for(instrument: Instrument, day: int, venues=None) -> Market:
    """The simulated market of ``instrument`` on ``day`` over the active venues."""
    venues = venue_profiles() if venues is None else venues
    return _market(instrument_params(instrument), settings.SIM_SEED, day, venues)


MARKET_KINDS = (Venue.Kind.LIT, Venue.Kind.DARK)  # the fills that leave a footprint on the simulated market


def instrument_day_fills(instrument_id: int, market_day: int, *, until_us: int | None = None,
                         exclude_parent_id: int | None = None) -> list[SimFill]:
    """Our lit and dark fills of the instrument-day (up to market µs ``until_us`` included; without those of
    parent ``exclude_parent_id``) as the simulator's fills, in time order. RFQ fills and internal crosses
    leave no footprint on the market."""
    qs = Fill.objects.filter(instrument_id=instrument_id, market_day=market_day, venue__kind__in=MARKET_KINDS)
    if until_us is not None:
        qs = qs.filter(market_time_us__lte=until_us)
    if exclude_parent_id is not None:
        qs = qs.exclude(parent_id=exclude_parent_id)
    rows = qs.order_by("market_time_us", "id").values_list(
        "exec_id", "venue__code", "side", "quantity", "price", "liquidity", "fee", "market_time_us")
    return [SimFill(exec_id, "", "", venue, Side(side), int(qty), float(price), Liquidity(liquidity), float(fee), int(t), market_day)
            for exec_id, venue, side, qty, price, liquidity, fee, t in rows]


def market_with_fills(instrument: Instrument, market_day: int, fills: list[SimFill]) -> Market:
    """The seeded market of the instrument-day (``settings.SIM_SEED``, the active venues) with ``fills`` as
    our footprint."""
    return Market(instrument_params(instrument), seed=settings.SIM_SEED, day=market_day, venues=venue_profiles(), fills=fills)


def instrument_day_market(instrument: Instrument, market_day: int, *, until_us: int | None = None,
                          extra_fills: Iterable[SimFill] = ()) -> Market:
    """The market of the instrument-day rebuilt from the seed and our lit and dark fills on it (those up to
    market µs ``until_us``, when given), plus ``extra_fills`` (in-flight fills not booked yet: a booked fill
    with the same exec id gives way to them), so that its mids, quotes and prints carry our impact. The one
    recipe the live driver and TCA share."""
    extra = list(extra_fills)
    seen = {f.exec_id for f in extra}
    booked = [f for f in instrument_day_fills(instrument.pk, market_day, until_us=until_us) if f.exec_id not in seen]
    return market_with_fills(instrument, market_day, booked + extra)


def market_prices(instruments, *, wall: float | None = None, venues=None) -> list[PriceTick]:
    """The consolidated bid/ask, mid and last print of each instrument at wall time ``wall`` (default now).

    What the market-data page shows at that moment (same clock, same model), as the OMS stores it for
    pre-trade risk. The ticks are stamped with ``wall`` itself, at µs precision, so that the market
    state behind a stored price can be recomputed exactly from its ``as_of``. An instrument whose book
    has an empty side (no lit venue, or a side we swept) gets no tick: its last price stays and ages.
    An option is priced off its underlying's mid at the same moment (``ems.option_market``); none without it.
    """
    as_of = datetime.now(UTC) if wall is None else datetime.fromtimestamp(wall, UTC)
    instruments = list(instruments)
    options = [i for i in instruments if i.kind == InstrumentKind.OPTION]
    if options:
        equities = [i for i in instruments if i.kind != InstrumentKind.OPTION]
        listed = {i.pk for i in equities}
        underlyings = {o.underlying_id: o.underlying for o in options if o.underlying_id not in listed}
        ticks = market_prices([*equities, *underlyings.values()], wall=as_of.timestamp(), venues=venues)
        spots = {t.instrument_id: t.mid for t in ticks}
        stamp = ticks[0].as_of if ticks else as_of  # the equities' own stamp (a float wall time may round a µs)
        return [t for t in ticks if t.instrument_id in listed] + option_ticks(options, spots, stamp)
    mt = live_clock().market_time(as_of.timestamp())
    t = min(mt.t_us, SESSION_US)
    venues = venue_profiles() if venues is None else venues
    ticks = []
    for instrument in instruments:
        market = market_for(instrument, mt.day, venues)
        bbo = market.bbo(t)
        if math.isnan(bbo.bid) or math.isnan(bbo.ask):
            continue
        bid, ask = _decimal(bbo.bid), _decimal(bbo.ask)
        _, n_prints = market.print_range(0, t + 1)
        last = _decimal(market.price(int(market.print_ticks(n_prints - 1, n_prints)[0]))) if n_prints else None
        ticks.append(PriceTick(instrument.id, bid, ask, (bid + ask) / 2, last, as_of))
    return ticks


def option_chain(underlying: Instrument, *, now: datetime | None = None) -> dict:
    """The chain page of ``underlying``: its spot (the stored market mid, else its reference price) and, per
    expiry and strike, each side's displayed quote, model value, implied volatility and Greeks."""
    now = now or datetime.now(UTC)
    mark = MarketPrice.objects.filter(instrument=underlying).first()
    spot = mark.mid if mark is not None else underlying.reference_price
    options = list(Instrument.objects.filter(is_active=True, kind=InstrumentKind.OPTION, underlying=underlying).order_by("expiry", "strike"))
    return {"spot": spot, "spot_as_of": mark.as_of if mark else None, "expiries": chain_quotes(underlying, options, spot, now)}


def option_underlyings() -> QuerySet[Instrument]:
    """Active equities with listed options, by symbol."""
    return Instrument.objects.filter(is_active=True, kind=InstrumentKind.EQUITY, options__is_active=True).distinct().order_by("symbol")


def options_on(underlying_ids) -> QuerySet[Instrument]:
    """The active options on these underlyings, with their underlying loaded."""
    return Instrument.objects.filter(is_active=True, kind=InstrumentKind.OPTION, underlying_id__in=list(underlying_ids)).select_related("underlying")


def _decimal(price: float) -> Decimal:
    # Prices come off the tick grid rounded to the tick's decimals: their shortest repr is the exact price.
    return Decimal(repr(price))


def _px(x: float | None, decimals: int = 6) -> float | None:
    return None if x is None or math.isnan(x) else round(x, decimals)


def market_view(instrument: Instrument, *, wall: float | None = None, venues=None, chart_minutes: int = CHART_MINUTES) -> dict:
    """Everything the market-data page shows for one instrument at wall time ``wall`` (default now).

    L2 ladder per lit venue, the consolidated BBO, the latest prints, and a per-second mid and per-minute
    VWAP series for the chart. JSON-ready.
    """
    mt = live_clock().market_time(wall)
    market = market_for(instrument, mt.day, venues)
    t = min(mt.t_us, SESSION_US)
    books = market.snapshots(t)
    bbo = market.bbo(t)
    lo = max(0, t - 120 * US)
    prints = market.prints(lo, t + 1)
    n = len(prints)
    recent = [
        {"t": format_clock(int(prints.time[i]))[:12], "venue": prints.venues[int(prints.venue[i])],
         "price": float(prints.price[i]), "size": int(prints.size[i]), "side": "buy" if prints.side[i] > 0 else "sell"}
        for i in range(n - 1, max(-1, n - 1 - RECENT_PRINTS), -1)
    ]
    start = max(0, t - chart_minutes * 60 * US)
    step = max(US, (t - start) // 600 // US * US)  # at most ~600 chart points
    times, mids = market.mid_series(start, t + 1, step)
    return {
        "symbol": instrument.symbol,
        "day": mt.day,
        "t_us": t,
        "clock": format_clock(t)[:8],
        "speed": live_clock().speed,
        "bbo": {
            "bid": _px(bbo.bid), "bid_size": bbo.bid_size, "ask": _px(bbo.ask), "ask_size": bbo.ask_size,
            "mid": _px(bbo.mid), "spread": _px(bbo.spread),
            "bid_venues": list(bbo.bid_venues), "ask_venues": list(bbo.ask_venues),
        },
        "venues": [
            {"code": code, "bids": [[lvl.price, lvl.size] for lvl in book.bids], "asks": [[lvl.price, lvl.size] for lvl in book.asks]}
            for code, book in books.items()
        ],
        "prints": recent,
        "volume_2m": int(prints.size.sum()) if n else 0,
        "chart": {"t": [int(x) // US for x in times], "mid": [round(float(m), 6) for m in mids]},
    }


# --- execution reads: trader desk, parent page, fills, positions (issue 8) ---------------------------
# Who sees what: traders, compliance and admins see every parent; a PM or an API client sees the parents
# that hold one of their portfolios' orders, and of a shared parent only their own constituents and
# allocations (never another PM's order inside it).

PARENT_PAGE_FILLS = 500  # newest fills the parent page and API detail carry (the count says how many in all)


def _desk_wide(user) -> bool:
    return roles.role_of(user) in roles.DESK_WIDE


def _visible_portfolio_ids(user):
    return roles.visible_portfolios(user).values("id")


def kill_switches_engaged() -> QuerySet[KillSwitch]:
    """The kill switches engaged now, oldest first (new orders in their scope are denied)."""
    return KillSwitch.objects.filter(lifted_at__isnull=True).select_related("portfolio", "instrument").order_by("engaged_at", "pk")


def parent_list(*, user) -> QuerySet[ParentOrder]:
    """Parent orders the user may see, newest first, with what a desk row shows (one query)."""
    qs = ParentOrder.objects.select_related("instrument").order_by("-id")
    if _desk_wide(user):
        return qs
    if roles.role_of(user) is None:
        return qs.none()
    mine = Constituent.objects.filter(order__portfolio__in=_visible_portfolio_ids(user)).values("parent_id")
    return qs.filter(id__in=mine)


def parent_get(*, user, parent_id: int) -> ParentOrder | None:
    return parent_list(user=user).filter(pk=parent_id).first()


def parent_constituents(*, user, parent: ParentOrder) -> QuerySet[Constituent]:
    """The parent's constituents the user may see (a PM: their own portfolios' orders only)."""
    qs = parent.constituents.select_related("order__portfolio", "order__instrument").order_by("order_id")
    if not _desk_wide(user):
        qs = qs.filter(order__portfolio__in=_visible_portfolio_ids(user))
    return qs


# --- a shared parent as a PM sees it: the one rule ------------------------------------------------------------
#
# A parent may pool orders of several portfolios. Traders, compliance and admins see it whole. Anybody else
# (a PM, an API client) sees of it only their own share: the quantity of their own constituents, the fills
# allocated to their orders (at the fill's price, in the quantity allocated to them, with that part of the
# fee), never the parent's child orders, its venues or another portfolio's size. Every endpoint, page, export
# and socket that shows a parent or its fills to somebody goes through these three functions.


def sees_whole_parents(user) -> bool:
    return _desk_wide(user)


def parents_seen_whole(*, user) -> QuerySet[ParentOrder]:
    """The parents the user may read whole (``parent_list``): for a PM (or an API client) those holding no other
    portfolio's order, whose share is the whole parent. Whole-parent reads (a what-if replay) go through this."""
    qs = parent_list(user=user)
    if _desk_wide(user):
        return qs
    theirs = Constituent.objects.filter(parent=OuterRef("pk")).exclude(order__portfolio__in=_visible_portfolio_ids(user))
    return qs.filter(~Exists(theirs))


@dataclass(frozen=True)
class ParentShare:
    """A user's part of a parent: their constituents' quantity and what was allocated to them."""

    quantity: int
    filled_quantity: int
    notional: Decimal
    fees: Decimal

    @property
    def avg_price(self) -> Decimal | None:
        return (self.notional / self.filled_quantity).quantize(PRICE_Q) if self.filled_quantity else None


def parent_share(*, user, parent: ParentOrder) -> ParentShare:
    """The user's share of ``parent`` (for a desk-wide user, the whole parent)."""
    if _desk_wide(user):
        return ParentShare(parent.quantity, parent.filled_quantity, parent.notional, parent.fees)
    visible = _visible_portfolio_ids(user)
    quantity = Constituent.objects.filter(parent=parent, order__portfolio__in=visible).aggregate(q=Sum("quantity"))["q"] or 0
    filled, notional, fees = 0, Decimal(0), Decimal(0)
    for fill in own_fills(user=user, fills=Fill.objects.filter(parent=parent)):
        filled += fill.own_quantity
        notional += fill.own_quantity * fill.price
        fees += own_fee(fill)
    return ParentShare(quantity, filled, notional.quantize(PRICE_Q), fees.quantize(PRICE_Q))


def own_fills(*, user, fills: QuerySet[Fill]) -> QuerySet[Fill]:
    """``fills`` as the user may see them, each annotated ``own_quantity``: every fill whole for a desk-wide
    user; for anybody else only the fills allocated to portfolios they may see, in the quantity allocated there."""
    if _desk_wide(user):
        return fills.annotate(own_quantity=F("quantity"))
    if roles.role_of(user) is None:
        return fills.none()
    mine = Allocation.objects.filter(fill=OuterRef("pk"), order__portfolio__in=_visible_portfolio_ids(user))
    allocated = Subquery(mine.order_by().values("fill").annotate(q=Sum("quantity")).values("q"))
    return fills.filter(Exists(mine)).annotate(own_quantity=allocated)


def own_fee(fill: Fill) -> Decimal:
    """The part of the fill's fee that goes with ``fill.own_quantity`` (``own_fills``)."""
    own = getattr(fill, "own_quantity", fill.quantity)
    if own == fill.quantity or not fill.quantity:
        return fill.fee
    return (fill.fee * own / fill.quantity).quantize(PRICE_Q)


def parent_children(*, parent: ParentOrder) -> QuerySet[ChildOrder]:
    return parent.children.select_related("venue").order_by("-id")


def parents_at_venues(parent_ids: Iterable[int]) -> dict[int, int]:
    """What the open child orders of each parent still have at the venues (their leaves: quantity less
    filled; resting or on the wire), by parent id; parents with none are left out."""
    rows = (ChildOrder.objects.filter(parent_id__in=list(parent_ids), status__in=ExecStatus.open()).order_by()
            .values("parent_id").annotate(leaves=Sum(F("quantity") - F("filled_quantity"))).values_list("parent_id", "leaves"))
    return {pid: int(leaves) for pid, leaves in rows if leaves}


def parent_fills(*, parent: ParentOrder) -> QuerySet[Fill]:
    """The parent's executions (market fills and its internal crosses), newest first."""
    return Fill.objects.filter(parent=parent).select_related("venue", "child").order_by("-id")


def children_by_venue(children) -> list[dict]:
    """Child orders grouped per venue: count, open count, quantity sent and filled, average fill price."""
    rows: dict[str, dict] = {}
    for c in children:
        r = rows.setdefault(c.venue.code, {"venue": c.venue.code, "kind": c.venue.kind, "children": 0, "open": 0,
                                           "quantity": 0, "filled": 0, "notional": Decimal("0")})
        r["children"] += 1
        r["open"] += c.is_open
        r["quantity"] += c.quantity
        r["filled"] += c.filled_quantity
        r["notional"] += c.notional
    for r in rows.values():
        r["avg_price"] = (r["notional"] / r["filled"]).quantize(PRICE_Q) if r["filled"] else None
        del r["notional"]
    return sorted(rows.values(), key=lambda r: (-r["filled"], r["venue"]))


def slippage_bps(parent: ParentOrder) -> Decimal | None:
    """Average fill price against the arrival price, in bps; positive = better than arrival.

    A buy that paid less than the arrival mid, or a sell that received more, is positive (sells flip the
    sign). None before the first fill.
    """
    if parent.avg_price is None or not parent.arrival_price:
        return None
    return measures.slippage_bps(parent.side, parent.avg_price, parent.arrival_price).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Progress:
    """Done against the schedule at market time ``t_us`` (``expected`` None: the parent is closed)."""

    done: int
    expected: int | None
    quantity: int
    t_us: int
    clock: str

    @property
    def done_pct(self) -> float:
        return 100.0 * self.done / self.quantity if self.quantity else 0.0

    @property
    def expected_pct(self) -> float | None:
        return None if self.expected is None or not self.quantity else 100.0 * self.expected / self.quantity

    @property
    def behind(self) -> int | None:
        """Shares behind the schedule (negative: ahead)."""
        return None if self.expected is None else self.expected - self.done

    def as_dict(self) -> dict:
        return {"done": self.done, "expected": self.expected, "quantity": self.quantity, "behind": self.behind,
                "done_pct": round(self.done_pct, 2),
                "expected_pct": None if self.expected_pct is None else round(self.expected_pct, 2),
                "market_time_us": self.t_us, "market_clock": self.clock}


def _plan(parent: ParentOrder) -> tuple[list[tuple[int, int]], int]:
    """The schedule of the parent's current plan as ``[(t_us, cumulative parent qty)]``, and whether it
    comes from the algorithm.

    The live driver persists ``ExecutionAlgo.state()`` in ``algo_state``; its ``state.sched`` is the
    plan's own target (cumulative, in the plan's quantity), and ``state.filled`` what the plan has done.
    A re-plan (strategy change, resume) starts a new plan for what is left, so the parent's expected done
    is what was done before the plan plus the plan's target. Before the first tick (no plan yet) the
    schedule is a straight line over the parent's window.
    """
    state = (parent.algo_state or {}).get("state") or {}
    sched = state.get("sched")
    if sched:
        before = max(0, parent.filled_quantity - int(state.get("filled") or 0))
        return [(int(t), before + int(q)) for t, q in sched], True
    return [(parent.start_us, 0), (max(parent.end_us, parent.start_us + 1), parent.quantity)], False


def _target(points: list[tuple[int, int]], t: int) -> float:
    if t <= points[0][0]:
        return float(points[0][1])
    for (t0, q0), (t1, q1) in zip(points, points[1:], strict=False):
        if t <= t1:
            return q0 + (q1 - q0) * (t - t0) / max(1, t1 - t0)
    return float(points[-1][1])


def market_now_for(parent: ParentOrder, *, wall: float | None = None) -> int:
    """Market µs of "now" on the parent's day (the close once its day is over)."""
    mt = live_clock().market_time(wall)
    if mt.day > parent.market_day:
        return SESSION_US
    if mt.day < parent.market_day:
        return 0
    return min(mt.t_us, SESSION_US)


def parent_progress(parent: ParentOrder, *, t_us: int | None = None) -> Progress:
    """How much of the parent is done, and how much its schedule expects done by now."""
    t = market_now_for(parent) if t_us is None else t_us
    expected = None
    if parent.is_open:
        points, _ = _plan(parent)
        expected = min(parent.quantity, int(round(_target(points, t))))
    return Progress(parent.filled_quantity, expected, parent.quantity, t, format_clock(t)[:8])


def parent_chart(parent: ParentOrder, *, fills=None, wall: float | None = None) -> dict:
    """The parent page's charts, JSON-ready: market mid and interval VWAP since the parent's start, our
    fills (time, price, size), and done vs schedule over time. Times are seconds since the open."""
    t_now = market_now_for(parent, wall=wall)
    fills = list(parent_fills(parent=parent)) if fills is None else list(fills)
    fills.sort(key=lambda f: (f.market_time_us, f.id))
    t0 = max(0, parent.start_us - 60 * US)
    if parent.is_open:
        t1 = t_now
    else:  # a closed parent: up to a minute after its last tick or fill
        last = max([parent.last_tick_us] + [f.market_time_us for f in fills])
        t1 = min(t_now, last + 60 * US)
    t1 = max(t0 + US, min(SESSION_US, t1))
    market = market_for(parent.instrument, parent.market_day)
    step = max(US, (t1 - t0) // 400 // US * US)
    times, mids = market.mid_series(t0, t1, step)
    # Interval VWAP: the market's volume-weighted price from the parent's start to each point (the
    # benchmark a schedule tracks), from one-step bars, cumulated.
    start = parent.start_us
    vwap_t, vwap = [], []
    if t1 > start:
        bars = market.bars(start, t1, step)
        vol = np.cumsum(bars.volume)
        notional = np.cumsum(bars.vwap * bars.volume)
        for k in range(len(bars.time)):
            if vol[k] > 0:
                vwap_t.append(int(bars.time[k] + step) // US)
                vwap.append(round(float(notional[k] / vol[k]), 6))
    points, from_algo = _plan(parent)
    cum, done_t, done_q = 0, [start // US], [0]
    for f in fills:
        cum += f.quantity
        done_t.append(f.market_time_us // US)
        done_q.append(cum)
    if parent.is_open:
        done_t.append(t1 // US)
        done_q.append(cum)
    return {
        "t0": t0 // US, "t1": t1 // US, "now": t_now // US,
        "arrival": float(parent.arrival_price), "limit": float(parent.limit_price) if parent.limit_price is not None else None,
        "side": parent.side, "quantity": parent.quantity,
        "market": {"t": [int(x) // US for x in times], "mid": [round(float(m), 6) for m in mids]},
        "vwap": {"t": vwap_t, "price": vwap},
        "fills": [{"t": f.market_time_us / US, "price": float(f.price), "qty": f.quantity, "venue": f.venue.code,
                   "liquidity": f.liquidity} for f in fills],
        "done": {"t": done_t, "qty": done_q},
        "schedule": {"t": [int(t) // US for t, _ in points], "qty": [int(q) for _, q in points], "from_algo": from_algo},
    }


def fill_list(*, user) -> QuerySet[Fill]:
    """Executions the user may see, newest first. A PM sees the fills allocated to their orders, each
    with only their own allocations (``fill.my_allocations``)."""
    qs = Fill.objects.select_related("instrument", "venue").order_by("-id")
    if _desk_wide(user):
        return qs.prefetch_related(Prefetch("allocations", queryset=Allocation.objects.select_related("order__portfolio").order_by("id"), to_attr="my_allocations"))
    if roles.role_of(user) is None:
        return qs.none()
    mine = Allocation.objects.filter(order__portfolio__in=_visible_portfolio_ids(user))
    return own_fills(user=user, fills=qs).prefetch_related(
        Prefetch("allocations", queryset=mine.select_related("order__portfolio").order_by("id"), to_attr="my_allocations")
    )


def position_list(*, user) -> QuerySet[Position]:
    """Positions of the portfolios the user may see, by portfolio and instrument."""
    return (
        Position.objects.filter(portfolio__in=_visible_portfolio_ids(user))
        .select_related("portfolio", "instrument", "instrument__market_price")
        .order_by("portfolio__code", "instrument__symbol")
    )


def position_marks(positions, *, now: datetime | None = None) -> list[dict]:
    """Each position with its mark (latest market mid, else the reference price), market value and unrealised
    P&L against its average cost (x the contract multiplier), and for an option its Greeks in the position's
    size: delta in shares of the underlying, gamma in shares per 1 of the underlying, vega and theta in currency
    (per volatility point, per day). JSON-ready numbers stay Decimal."""
    positions = list(positions)
    now = now or datetime.now(UTC)
    quotes = option_quotes_held({p.instrument for p in positions if p.instrument.is_option}, now)
    out = []
    for p in positions:
        inst = p.instrument
        mp = getattr(inst, "market_price", None)
        mark = mp.mid if mp is not None else inst.reference_price
        m = inst.multiplier
        greeks = None
        if inst.pk in quotes:
            underlying, quote = quotes[inst.pk]
            if mp is None:  # no venue price yet: marked at the model's value, not the listing's placeholder
                mark = Decimal(f"{quote.mid:.4f}")
            g, size = quote.greeks, p.quantity * m
            greeks = {"underlying": underlying.symbol, "delta": g.delta * size, "gamma": g.gamma * size, "vega": g.vega * size,
                      "theta": g.theta * size}
        unrealized = (mark - p.avg_cost) * p.quantity * m if p.avg_cost is not None and p.quantity else Decimal("0")
        out.append({"position": p, "mark": mark, "market_value": mark * p.quantity * m, "unrealized_pnl": unrealized, "greeks": greeks})
    return out


def greeks_by_underlying(rows: list[dict]) -> list[dict]:
    """Per portfolio and underlying: the net delta in shares (the equity held and its options' deltas), and the
    options' gamma, vega and theta, from ``position_marks`` rows; only where options are held."""
    totals: dict[tuple[str, str], dict] = {}
    for r in rows:
        if r["greeks"] is None:
            continue
        key = (r["position"].portfolio.code, r["greeks"]["underlying"])
        t = totals.setdefault(key, {"portfolio": key[0], "underlying": key[1], "shares": 0, "delta": 0.0, "gamma": 0.0,
                                    "vega": 0.0, "theta": 0.0, "contracts": 0})
        t["contracts"] += r["position"].quantity
        for greek in ("delta", "gamma", "vega", "theta"):
            t[greek] += r["greeks"][greek]
    for r in rows:  # the underlying held outright adds its shares to the delta
        key = (r["position"].portfolio.code, r["position"].instrument.symbol)
        if key in totals and not r["position"].instrument.is_option:
            totals[key]["shares"] += r["position"].quantity
    for t in totals.values():
        t["net_delta"] = t["shares"] + t["delta"]
    return [totals[k] for k in sorted(totals)]


@dataclass(frozen=True)
class TicketEstimate:
    """What the order ticket shows before sending: the strategy the matrix would pick, and its
    pre-trade cost (Almgren-Chriss expected cost and its standard deviation, bps and currency)."""

    strategy: str
    reason: str
    why: str
    horizon_s: float
    end_clock: str
    expected_bps: float
    std_bps: float
    expected_cost: Decimal
    std_cost: Decimal
    participation: float | None
    notional: Decimal
    currency: str
    price: Decimal
    price_source: str

    @property
    def participation_pct(self) -> float | None:
        """Of the market's volume over the horizon; None for what does not trade over time (DIRECT now, RFQ)."""
        if self.participation is None or self.horizon_s <= 0:
            return None
        return 100.0 * self.participation

    @property
    def expected_bps_signed(self) -> float:
        """The expected cost as the TCA pages sign it (+ = better than the arrival mid): a cost is negative."""
        return -self.expected_bps

    @property
    def expected_cost_signed(self) -> Decimal:
        return -self.expected_cost

    @property
    def is_rfq(self) -> bool:
        return self.strategy == StrategyName.RFQ.value


def ticket_estimate(*, instrument: Instrument, side: str, quantity: int, limit_price: Decimal | None, urgency: str,
                    strategy: str, wall: float | None = None) -> TicketEstimate:
    """Estimate an order as the EMS would work it if it arrived now (``ems.algos.selection`` and
    ``ems.algos.cost``): same market time, same arrival price (the stored market mid when there is one,
    else the reference price) and the same matrix as a new parent."""
    mt = live_clock().market_time(wall)
    start = min(mt.t_us, SESSION_US - 60 * US)
    mp = getattr(instrument, "market_price", None)
    price, source = (mp.mid, "mid") if mp is not None else (instrument.reference_price, "reference")
    params = instrument_params(instrument)
    spec = OrderSpec(side, quantity, limit_price=None if limit_price is None else float(limit_price), urgency=urgency,
                     requested=strategy or None, start=start, price=float(price))
    selection = select_strategy(spec, params)
    chosen = selection.strategy
    horizon = float(selection.params.get("horizon_s") or 0.0)
    est = pre_trade_estimate(spec, params, chosen if chosen is not StrategyName.AUTO else StrategyName.VWAP, horizon)
    end_clock = selection.params.get("end_clock") or format_clock(start)[:5]
    return TicketEstimate(
        strategy=chosen.value, reason=selection.reason, why=selection.why, horizon_s=horizon, end_clock=end_clock,
        expected_bps=est.expected_cost_bps, std_bps=est.std_cost_bps,
        expected_cost=Decimal(str(round(est.expected_cost, 2))), std_cost=Decimal(str(round(est.std_cost, 2))),
        participation=None if est.expected_participation is None or math.isinf(est.expected_participation) else est.expected_participation,
        notional=Decimal(str(round(est.notional, 2))), currency=instrument.currency, price=price, price_source=source,
    )
