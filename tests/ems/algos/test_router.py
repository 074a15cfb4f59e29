"""Smart order router: ranking (fees, depth, latency, scorecards), mode choice, the dark minimum, and the
routing session's over-fill guard under any interleaving of reports."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.algos.router import (
    RouteRequest,
    RoutingSession,
    SmartOrderRouter,
    VenueScorecard,
    scorecards_from_fills,
)
from ems.algos.types import RoutingMode, Urgency
from ems.sim.market import Book, Level
from ems.sim.orders import ExecutionReport, Fill, Liquidity, OrderRequest, OrderType, ReportKind, Side, TimeInForce
from ems.sim.venues import DARK, DEFAULT_VENUES, LIT, VenueProfile

MID = 100.0


def lit(code, maker=-0.002, taker=0.003, latency=500, share=0.3):
    return VenueProfile(code, code, LIT, maker, taker, latency, 1.0, share)


def dark(code, p=0.05, min_size=100, fee=0.001, latency=600):
    return VenueProfile(code, code, DARK, 0.0, 0.0, latency, 0.0, 0.05, p, min_size, fee, leakage=0.5)


def book(code, bid=99.97, ask=100.03, sizes=(300, 400, 500, 600, 700), tick=0.01):
    bids = tuple(Level(round(bid - k * tick, 2), s) for k, s in enumerate(sizes))
    asks = tuple(Level(round(ask + k * tick, 2), s) for k, s in enumerate(sizes))
    return Book(code, 0, bids, asks)


class FakeContext:
    """The members of the algorithm context a routing session uses, with a scripted venue behind it."""

    def __init__(self, books, now=1_000_000, mid=MID):
        self.now = now
        self._mid = mid
        self.books = books
        self.sent: list[OrderRequest] = []
        self.order_ids: dict[str, OrderRequest] = {}
        self.cancels: list[str] = []
        self.wakes: list[int] = []

    def mid(self):
        return self._mid

    def snapshots(self):
        return dict(self.books)

    def send(self, req):
        oid = f"O{len(self.sent) + 1}"
        self.sent.append(req)
        self.order_ids[oid] = req
        return oid

    def cancel(self, order_id):
        self.cancels.append(order_id)

    def wake_at(self, t):
        self.wakes.append(t)


class ScriptedVenue:
    """Venue-side truth for every order a session sent: what filled, what is still open."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.cum: dict[str, int] = {}
        self.open: dict[str, bool] = {}
        self.history: list[ExecutionReport] = []

    def sync(self):
        for oid in self.ctx.order_ids:
            self.cum.setdefault(oid, 0)
            self.open.setdefault(oid, True)

    def report(self, oid, kind, fill_qty=0):
        req = self.ctx.order_ids[oid]
        fill = None
        if fill_qty:
            self.cum[oid] += fill_qty
            n = len(self.history)
            fill = Fill(
                f"{oid}-{n}", oid, req.client_order_id, req.venue, req.side, fill_qty, MID, Liquidity.TAKER, 0.0, self.ctx.now, 0
            )
        if kind in (ReportKind.FILL, ReportKind.CANCELLED, ReportKind.REJECTED, ReportKind.EXPIRED):
            self.open[oid] = False
        cum = self.cum[oid]
        r = ExecutionReport(
            kind,
            oid,
            req.client_order_id,
            req.venue,
            req.side,
            self.ctx.now,
            self.ctx.now - 100,
            req.qty,
            cum,
            0 if not self.open[oid] else req.qty - cum,
            MID if cum else None,
            fill,
        )
        self.history.append(r)
        return r

    @property
    def filled(self):
        return sum(self.cum.values())

    @property
    def exposure(self):
        """Filled plus still open at the venues: what could still end up filled."""
        return sum(self.cum[o] + (self.ctx.order_ids[o].qty - self.cum[o] if self.open[o] else 0) for o in self.cum)


# --- ranking ------------------------------------------------------------------------------------------
def test_fees_and_rebates_change_the_ranking():
    a, b = lit("AAAA", maker=-0.002, taker=0.003), lit("BBBB", maker=0.0015, taker=-0.001)  # maker-taker, inverted
    books = {"AAAA": book("AAAA"), "BBBB": book("BBBB")}
    router = SmartOrderRouter((a, b))
    take = RouteRequest(Side.BUY, 200)
    post = RouteRequest(Side.BUY, 200, passive=True)
    # taking: the inverted venue pays us to take; posting: the maker-taker venue pays us to post
    assert [x.venue for x in router.rank_lit(take, books, MID)] == ["BBBB", "AAAA"]
    assert [x.venue for x in router.rank_lit(post, books, MID)] == ["AAAA", "BBBB"]
    # swap the fee schedules: the ranking follows the fees, not the venue
    swapped = SmartOrderRouter((lit("AAAA", maker=0.0015, taker=-0.001), lit("BBBB", maker=-0.002, taker=0.003)))
    assert [x.venue for x in swapped.rank_lit(take, books, MID)] == ["AAAA", "BBBB"]
    assert [x.venue for x in swapped.rank_lit(post, books, MID)] == ["BBBB", "AAAA"]


def test_displayed_depth_changes_the_ranking_for_a_large_take():
    router = SmartOrderRouter((lit("THIN"), lit("DEEP")))
    books = {"THIN": book("THIN", sizes=(100, 100, 100, 100, 100)), "DEEP": book("DEEP", sizes=(1000, 1000, 1000, 1000, 1000))}
    small, large = RouteRequest(Side.BUY, 100), RouteRequest(Side.BUY, 450)
    assert [x.venue for x in router.rank_lit(small, books, MID)][0] == "THIN"  # tie on price: venue order
    assert [x.venue for x in router.rank_lit(large, books, MID)][0] == "DEEP"  # THIN would walk 5 levels


def test_latency_breaks_a_tie_on_price_and_fees():
    router = SmartOrderRouter((lit("SLOW", latency=2_000), lit("FAST", latency=200)))
    books = {"SLOW": book("SLOW"), "FAST": book("FAST")}
    assert [x.venue for x in router.rank_lit(RouteRequest(Side.SELL, 200), books, MID)] == ["FAST", "SLOW"]


def test_scorecards_change_the_ranking():
    venues = (lit("AAAA"), lit("BBBB"))
    books = {"AAAA": book("AAAA"), "BBBB": book("BBBB")}
    req = RouteRequest(Side.BUY, 200)
    assert [x.venue for x in SmartOrderRouter(venues).rank_lit(req, books, MID)] == ["AAAA", "BBBB"]
    bad = VenueScorecard("AAAA", fill_rate=0.4, avg_latency_us=500, effective_cost_bps=6.0, markout_bps=-3.0, n_orders=50)
    good = VenueScorecard("BBBB", fill_rate=0.98, avg_latency_us=500, effective_cost_bps=3.2, markout_bps=0.5, n_orders=50)
    router = SmartOrderRouter(venues, {"AAAA": bad, "BBBB": good})
    ranked = router.rank_lit(req, books, MID)
    assert [x.venue for x in ranked] == ["BBBB", "AAAA"]
    assert "scorecard n=50" in ranked[0].detail


def test_scorecards_change_the_dark_ranking():
    pools = (dark("DRK1", p=0.10), dark("DRK2", p=0.05))
    req = RouteRequest(Side.BUY, 1_000)
    assert [x.venue for x in SmartOrderRouter(pools).rank_dark(req, MID)] == ["DRK1", "DRK2"]
    cards = {
        "DRK1": VenueScorecard("DRK1", 0.0, 600, math.nan, math.nan, 80),
        "DRK2": VenueScorecard("DRK2", 0.6, 600, 0.1, 0.0, 80),
    }
    assert [x.venue for x in SmartOrderRouter(pools, cards).rank_dark(req, MID)] == ["DRK2", "DRK1"]


def test_scorecards_are_computed_from_fills_orders_and_reports():
    orders = [
        OrderRequest("AAAA", Side.BUY, 1_000, client_order_id="c1"),
        OrderRequest("AAAA", Side.BUY, 1_000, client_order_id="c2"),
    ]
    fills = [
        Fill("e1", "o1", "c1", "AAAA", Side.BUY, 1_000, 100.05, Liquidity.TAKER, 3.0, 1_000_000, 0),
        Fill("e2", "o2", "c2", "AAAA", Side.BUY, 500, 100.05, Liquidity.TAKER, 1.5, 2_000_000, 0),
    ]
    mids = {1_000_000: 100.0, 2_000_000: 100.0, 6_000_000: 99.9, 7_000_000: 99.9}
    reports = [ExecutionReport(ReportKind.ACK, "o1", "c1", "AAAA", Side.BUY, 1_000_700, 1_000_000, 1_000, 0, 1_000)]
    sc = scorecards_from_fills(fills, orders, mids.__getitem__, 5_000_000, reports)["AAAA"]
    assert sc.n_orders == 2 and sc.fill_rate == pytest.approx(0.75)
    assert sc.effective_cost_bps == pytest.approx(5.0 + 0.3)  # 5 cents over the mid + 0.3 cents fee, per share
    assert sc.markout_bps == pytest.approx(-10.0)  # bought, then the mid fell 10 bps: adverse selection
    assert sc.avg_latency_us == 700


# --- modes and plans --------------------------------------------------------------------------------------
VENUES = (
    lit("XSMA"),
    lit("XSMB", maker=-0.0012, taker=0.002, latency=900),
    lit("XSMI", maker=0.0015, taker=-0.001, latency=250),
    dark("DRKA", p=0.005, min_size=2_000),
    dark("DRKB", p=0.08, min_size=100),
)
BOOKS = {code: book(code) for code in ("XSMA", "XSMB", "XSMI")}


@pytest.mark.parametrize(
    ("req", "mode", "code"),
    [
        (RouteRequest(Side.BUY, 200), RoutingMode.SEQUENTIAL, "route.sequential.fits_best_venue"),
        (RouteRequest(Side.BUY, 200, urgency=Urgency.HIGH), RoutingMode.PARALLEL, "route.parallel.high_urgency"),
        (RouteRequest(Side.BUY, 5_000), RoutingMode.LIQUIDITY_SEEKING, "route.liquidity_seeking.dark_eligible"),
        (
            RouteRequest(Side.BUY, 200, urgency=Urgency.LOW),
            RoutingMode.LIQUIDITY_SEEKING,
            "route.liquidity_seeking.dark_eligible",
        ),
        (RouteRequest(Side.BUY, 5_000, mode=RoutingMode.SEQUENTIAL), RoutingMode.SEQUENTIAL, "route.sequential.requested"),
    ],
)
def test_mode_follows_urgency_and_size_unless_requested(req, mode, code):
    plan = SmartOrderRouter(VENUES).plan(req, BOOKS, MID, 0)
    assert (plan.mode, plan.reason_code) == (mode, code)
    assert "expected" in plan.reason and math.isfinite(plan.expected_cost_bps)


def test_large_order_without_dark_pools_is_sprayed_in_parallel_sized_to_displayed_depth():
    router = SmartOrderRouter(VENUES[:3])
    plan = router.plan(RouteRequest(Side.BUY, 5_000), BOOKS, MID, 0)
    assert plan.mode is RoutingMode.PARALLEL and plan.reason_code == "route.parallel.exceeds_best_venue"
    # cheapest all-in levels first across the venues (price + taker fee + latency): at each price level
    # the inverted venue (taker rebate) first, the 0.30-cent taker venue last, so it gets the least
    assert {leg.venue: leg.qty for leg in plan.legs} == {"XSMI": 1_800, "XSMB": 1_800, "XSMA": 1_400}
    assert [leg.venue for leg in plan.legs] == ["XSMI", "XSMB", "XSMA"]
    assert all(leg.price == 100.06 for leg in plan.legs)  # the worst level taken at each venue
    assert all(leg.tif is TimeInForce.IOC and leg.order_type is OrderType.LIMIT for leg in plan.legs)
    for leg in plan.legs:
        assert "XSMI" in plan.reason and f"{leg.venue} {leg.qty}" in plan.reason


def test_a_single_venue_router_sends_everything_to_that_venue():
    router = SmartOrderRouter((lit("XSMA"),))
    for mode in RoutingMode:
        for urgency in Urgency:
            plan = router.plan(RouteRequest(Side.SELL, 1_200, urgency=urgency, mode=mode), {"XSMA": book("XSMA")}, MID, 0)
            assert {leg.venue for leg in plan.legs} == {"XSMA"}


def test_limit_price_caps_what_is_taken():
    router = SmartOrderRouter(VENUES[:3])
    plan = router.plan(RouteRequest(Side.BUY, 5_000, limit_price=100.04), BOOKS, MID, 0)
    assert all(leg.price == 100.04 for leg in plan.legs)
    assert sum(leg.qty for leg in plan.legs) == 3 * (300 + 400)  # two levels at each venue


@settings(max_examples=60, deadline=None)
@given(
    qty=st.integers(1, 20_000),
    mins=st.lists(st.integers(100, 10_000), min_size=1, max_size=3),
    side=st.sampled_from(list(Side)),
    wait=st.sampled_from([0.0, 10.0]),
)
def test_dark_minimum_size_is_honoured(qty, mins, side, wait):
    pools = tuple(dark(f"DRK{i}", p=0.5, min_size=m) for i, m in enumerate(mins))
    venues = (lit("XSMA"),) + pools
    router = SmartOrderRouter(venues)
    req = RouteRequest(side, qty, mode=RoutingMode.LIQUIDITY_SEEKING, dark_wait_s=wait)
    plan = router.plan(req, {"XSMA": book("XSMA")}, MID, 0)
    minimum = {v.code: v.min_size for v in pools}
    assert all(leg.qty >= minimum[leg.venue] for leg in plan.legs if leg.venue in minimum)
    # and through a session that re-routes each remainder after partial dark fills
    ctx = FakeContext({"XSMA": book("XSMA")})
    venue = ScriptedVenue(ctx)
    session = RoutingSession(router, req, "S")
    session.start(ctx)
    for _ in range(10):
        venue.sync()
        open_orders = [o for o, is_open in venue.open.items() if is_open]
        if not open_orders:
            break
        oid = open_orders[0]
        part = ctx.order_ids[oid].qty // 3
        session.on_report(ctx, venue.report(oid, ReportKind.PARTIAL if part else ReportKind.ACK, part))
        session.on_report(ctx, venue.report(oid, ReportKind.CANCELLED))
    for req_sent in ctx.sent:
        if req_sent.venue in minimum:
            assert req_sent.qty >= minimum[req_sent.venue]


# --- sessions: the over-fill guard ------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    qty=st.integers(1, 12_000),
    mode=st.sampled_from([None, *RoutingMode]),
    urgency=st.sampled_from(list(Urgency)),
    passive=st.booleans(),
    lot=st.sampled_from([1, 100]),
    script=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10_000), st.floats(0, 1)), max_size=120),
)
def test_no_routing_mode_ever_over_fills_whatever_the_report_order(qty, mode, urgency, passive, lot, script):
    """An adversarial venue: fills any open order by any amount at any time, closes orders, answers
    cancels late (after more fills), duplicates reports; the session must never have more than the
    target filled or exposed (filled + still open at the venues)."""
    ctx = FakeContext(dict(BOOKS))
    venue = ScriptedVenue(ctx)
    session = RoutingSession(
        SmartOrderRouter(VENUES),
        RouteRequest(Side.BUY, qty, urgency=urgency, mode=mode, passive=passive, min_qty=lot, dark_wait_s=5.0),
        "S1",
    )
    session.start(ctx)
    handled_cancels = 0
    for action, n, x in script:
        venue.sync()
        ctx.now += 1_000
        open_orders = [o for o, is_open in venue.open.items() if is_open]
        if action == 5 and venue.history:  # duplicate an old report
            r = venue.history[int(x * (len(venue.history) - 1))]
        elif action == 4:
            session.on_timer(ctx)
            continue
        elif action == 3 and handled_cancels < len(ctx.cancels):  # a cancel arrives, possibly too late
            oid = ctx.cancels[handled_cancels]
            handled_cancels += 1
            r = venue.report(oid, ReportKind.CANCELLED if venue.open[oid] else ReportKind.CANCEL_REJECTED)
        elif open_orders:
            oid = open_orders[int(x * (len(open_orders) - 1))]
            leaves = ctx.order_ids[oid].qty - venue.cum[oid]
            if action <= 1:
                q = min(leaves, 1 + n % leaves)
                r = venue.report(oid, ReportKind.FILL if q == leaves else ReportKind.PARTIAL, q)
            elif action == 2:
                r = venue.report(oid, [ReportKind.CANCELLED, ReportKind.EXPIRED, ReportKind.REJECTED][n % 3])
            else:
                continue
        else:
            continue
        assert session.on_report(ctx, r)
        venue.sync()
        assert session.filled + session.outstanding <= qty
        assert venue.filled == session.filled
        assert venue.exposure <= qty
    assert all(r.qty > 0 for r in ctx.sent)


def test_parallel_mode_cancels_the_rest_once_the_goal_is_met():
    ctx = FakeContext(dict(BOOKS))
    venue = ScriptedVenue(ctx)
    session = RoutingSession(
        SmartOrderRouter(VENUES[:3]), RouteRequest(Side.BUY, 3_000, passive=True, mode=RoutingMode.PARALLEL), "P"
    )
    session.start(ctx)
    venue.sync()
    assert len(ctx.sent) == 3 and sum(r.qty for r in ctx.sent) == 3_000
    assert all(r.tif is TimeInForce.DAY for r in ctx.sent)
    assert min(r.qty for r in ctx.sent) >= 500
    session.on_report(ctx, venue.report("O1", ReportKind.PARTIAL, 500))
    assert not ctx.cancels
    session.reduce(ctx, 900)  # e.g. the algorithm got ahead of its schedule
    assert not ctx.cancels  # not met yet
    session.on_report(ctx, venue.report("O2", ReportKind.PARTIAL, 400))
    assert sorted(ctx.cancels) == ["O1", "O2", "O3"]  # every working leg, the filling ones included
    assert session.reason_code == "route.goal_met"
    for oid in list(ctx.cancels):
        session.on_report(ctx, venue.report(oid, ReportKind.CANCELLED))
    assert session.done and session.filled == 900 and session.outstanding == 0


def test_parallel_mode_resprays_what_a_round_left_and_stops_when_a_round_fills_nothing():
    ctx = FakeContext({code: book(code, sizes=(100,)) for code in ("XSMA", "XSMB", "XSMI")})
    venue = ScriptedVenue(ctx)
    session = RoutingSession(SmartOrderRouter(VENUES[:3]), RouteRequest(Side.SELL, 1_000, mode=RoutingMode.PARALLEL), "P")

    def release_all():
        while session.wake_at is not None:
            ctx.now = session.wake_at
            session.on_timer(ctx)
        venue.sync()

    session.start(ctx)
    release_all()
    assert sum(r.qty for r in ctx.sent) == 300  # displayed: one level of 100 at each venue
    for oid in list(venue.open):
        session.on_report(ctx, venue.report(oid, ReportKind.FILL, 100))
    release_all()
    assert len(ctx.sent) == 6 and session.outstanding == 300  # a second round
    for oid in [o for o, is_open in venue.open.items() if is_open]:
        session.on_report(ctx, venue.report(oid, ReportKind.CANCELLED))
    assert session.done and session.exhausted and session.filled == 300
    assert session.reason_code == "route.parallel.exhausted"


def test_parallel_takes_are_timed_to_land_at_every_venue_in_the_same_microsecond():
    """Our first fill moves the price (impact) for everyone: a leg that lands later than another finds
    the book it was sized on gone. So faster venues' legs are held back by the difference in latency."""
    ctx = FakeContext(dict(BOOKS))
    router = SmartOrderRouter(VENUES[:3])
    session = RoutingSession(router, RouteRequest(Side.BUY, 5_000, mode=RoutingMode.PARALLEL), "T")
    t0 = ctx.now
    session.start(ctx)
    sent_at = {}
    assert [r.venue for r in ctx.sent] == ["XSMB"]  # the slowest (900 us) goes first
    sent_at["XSMB"] = ctx.now
    assert session.outstanding == 5_000  # held-back legs count: the over-fill guard covers them
    while session.wake_at is not None:
        ctx.now = session.wake_at
        n = len(ctx.sent)
        session.on_timer(ctx)
        for r in ctx.sent[n:]:
            sent_at[r.venue] = ctx.now
    arrival = {v: sent_at[v] + router.by_code[v].latency_us for v in sent_at}
    assert set(arrival) == {"XSMA", "XSMB", "XSMI"} and set(arrival.values()) == {t0 + 900}
    assert ctx.wakes == sorted(ctx.wakes) and len(ctx.wakes) == 2


def test_cancelling_a_session_drops_legs_not_yet_sent():
    ctx = FakeContext(dict(BOOKS))
    session = RoutingSession(SmartOrderRouter(VENUES[:3]), RouteRequest(Side.BUY, 5_000, mode=RoutingMode.PARALLEL), "C")
    session.start(ctx)
    session.cancel(ctx)
    assert ctx.cancels == ["O1"]  # only the leg that was sent is cancelled at a venue
    assert session.outstanding == ctx.sent[0].qty and session.wake_at is None
    ctx.now += 10_000
    session.on_timer(ctx)
    assert len(ctx.sent) == 1


def test_sequential_mode_reroutes_the_unfilled_rest_to_the_next_venue():
    ctx = FakeContext(dict(BOOKS))
    venue = ScriptedVenue(ctx)
    session = RoutingSession(SmartOrderRouter(VENUES[:3]), RouteRequest(Side.BUY, 1_000, mode=RoutingMode.SEQUENTIAL), "Q")
    session.start(ctx)
    venue.sync()
    assert [r.venue for r in ctx.sent] == ["XSMI"] and ctx.sent[0].qty == 1_000
    session.on_report(ctx, venue.report("O1", ReportKind.PARTIAL, 600))
    session.on_report(ctx, venue.report("O1", ReportKind.CANCELLED))
    assert ctx.sent[1].venue != "XSMI" and ctx.sent[1].qty == 400
    assert session.reason_code == "route.sequential.reroute"


def test_liquidity_seeking_rests_in_the_dark_then_goes_lit():
    ctx = FakeContext(dict(BOOKS))
    venue = ScriptedVenue(ctx)
    req = RouteRequest(Side.BUY, 3_000, mode=RoutingMode.LIQUIDITY_SEEKING, dark_wait_s=30)
    session = RoutingSession(SmartOrderRouter(VENUES), req, "L")
    session.start(ctx)
    venue.sync()
    assert ctx.sent[0].venue == "DRKB" and ctx.sent[0].tif is TimeInForce.DAY and ctx.sent[0].order_type is OrderType.MARKET
    assert ctx.wakes == [ctx.now + 30_000_000] and session.wake_at == ctx.now + 30_000_000
    session.on_report(ctx, venue.report("O1", ReportKind.PARTIAL, 1_200))
    session.on_timer(ctx)
    assert not ctx.cancels  # not yet
    ctx.now += 30_000_000
    session.on_timer(ctx)
    assert ctx.cancels == ["O1"]
    session.on_report(ctx, venue.report("O1", ReportKind.CANCELLED))
    # the 1,800 left is below DRKA's 2,000 minimum: straight to the lit venues (sprayed: it walks books)
    while session.wake_at is not None:
        ctx.now = session.wake_at
        session.on_timer(ctx)
    assert {r.venue for r in ctx.sent[1:]} <= {"XSMA", "XSMB", "XSMI"} and sum(r.qty for r in ctx.sent[1:]) == 1_800


def test_session_state_round_trips_through_json_and_resumes_identically():
    def drive(session, ctx, venue, steps):
        for oid, kind, q in steps:
            venue.sync()
            session.on_report(ctx, venue.report(oid, kind, q))

    req = RouteRequest(Side.SELL, 4_000, mode=RoutingMode.SEQUENTIAL, min_qty=100)
    a_ctx = FakeContext(dict(BOOKS))
    a_venue = ScriptedVenue(a_ctx)
    a = RoutingSession(SmartOrderRouter(VENUES), req, "J")
    a.start(a_ctx)
    drive(a, a_ctx, a_venue, [("O1", ReportKind.PARTIAL, 700)])
    b = RoutingSession.from_dict(SmartOrderRouter(VENUES), json.loads(json.dumps(a.to_dict())))
    assert b.to_dict() == a.to_dict()
    steps = [("O1", ReportKind.CANCELLED, 0), ("O2", ReportKind.PARTIAL, 300), ("O2", ReportKind.CANCELLED, 0)]
    b_ctx = FakeContext(dict(BOOKS))
    b_ctx.sent, b_ctx.order_ids = list(a_ctx.sent), dict(a_ctx.order_ids)
    b_venue = ScriptedVenue(b_ctx)
    b_venue.sync()
    b_venue.cum["O1"] = 700
    drive(a, a_ctx, a_venue, steps)
    drive(b, b_ctx, b_venue, steps)
    assert [r for r in b_ctx.sent] == [r for r in a_ctx.sent]
    assert b.to_dict() == a.to_dict()
    assert a.to_dict()["filled"] == 1_000


def test_reports_of_other_orders_are_not_claimed():
    ctx = FakeContext(dict(BOOKS))
    session = RoutingSession(SmartOrderRouter(VENUES), RouteRequest(Side.BUY, 100), "S1")
    session.start(ctx)
    other = ExecutionReport(ReportKind.FILL, "X9", "S10-1", "XSMA", Side.BUY, 0, 0, 100, 100, 0)
    assert not session.on_report(ctx, other)
    assert session.filled == 0


def test_router_runs_against_the_simulated_venues():
    """End to end on the simulator through the backtest driver: a 20,000-share high-urgency buy is
    sprayed, never over-fills and every leg's venue is one of ours."""
    from ems.algos.backtest import run_backtest  # noqa: PLC0415
    from ems.algos.context import Strategy  # noqa: PLC0415
    from ems.sim.instrument import InstrumentParams  # noqa: PLC0415

    class RouteOnce(Strategy):
        def __init__(self, req):
            self.req = req
            self.seen = []

        def on_start(self, ctx):
            self.session = RoutingSession(SmartOrderRouter(DEFAULT_VENUES), self.req, "E2E")
            self.session.start(ctx)

        def on_report(self, ctx, report):
            assert self.session.on_report(ctx, report)
            self.seen.append(self.session.filled + self.session.outstanding)

        def on_timer(self, ctx):
            self.session.on_timer(ctx)

    params = InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0)
    for req in (
        RouteRequest(Side.BUY, 20_000, urgency=Urgency.HIGH),
        RouteRequest(Side.SELL, 6_000, urgency=Urgency.LOW, dark_wait_s=20),
    ):
        strategy = RouteOnce(req)
        result = run_backtest(params, strategy, seed=3, start=3_600_000_000, end=3_700_000_000)
        assert result.filled_qty() == strategy.session.filled <= req.qty
        assert max(strategy.seen) <= req.qty
        assert strategy.session.filled > 0


def test_liquidity_seeking_sprays_the_lit_venues_when_the_rest_is_more_than_one_venue_shows():
    ctx = FakeContext(dict(BOOKS))
    venue = ScriptedVenue(ctx)
    session = RoutingSession(SmartOrderRouter(VENUES), RouteRequest(Side.BUY, 5_000, mode=RoutingMode.LIQUIDITY_SEEKING), "L")
    session.start(ctx)
    venue.sync()
    assert [r.venue for r in ctx.sent] == ["DRKB"] and ctx.sent[0].tif is TimeInForce.IOC  # a ping
    session.on_report(ctx, venue.report("O1", ReportKind.CANCELLED))
    venue.sync()
    assert ctx.sent[1].venue == "DRKA"  # 5,000 meets the block pool's 2,000 minimum
    session.on_report(ctx, venue.report("O2", ReportKind.CANCELLED))
    while session.wake_at is not None:
        ctx.now = session.wake_at
        session.on_timer(ctx)
    assert {r.venue for r in ctx.sent[2:]} == {"XSMA", "XSMB", "XSMI"}
    assert sum(r.qty for r in ctx.sent[2:]) == 5_000
    assert session.reason_code == "route.liquidity_seeking.lit_parallel"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    latencies=st.lists(st.integers(50, 5_000), min_size=5, max_size=5),
    qty=st.integers(100, 40_000),
    mode=st.sampled_from([None, *RoutingMode]),
    urgency=st.sampled_from(list(Urgency)),
    passive=st.booleans(),
    seed=st.integers(0, 3),
)
def test_no_routing_mode_over_fills_on_the_simulated_venues_whatever_the_latencies(latencies, qty, mode, urgency, passive, seed):
    from dataclasses import replace  # noqa: PLC0415

    from ems.algos.backtest import run_backtest  # noqa: PLC0415
    from ems.algos.context import Strategy  # noqa: PLC0415
    from ems.sim.instrument import InstrumentParams  # noqa: PLC0415

    venues = tuple(replace(v, latency_us=lat) for v, lat in zip(DEFAULT_VENUES, latencies, strict=True))
    req = RouteRequest(Side.SELL, qty, urgency=urgency, mode=mode, passive=passive, min_qty=100, dark_wait_s=3.0)

    class Route(Strategy):
        def on_start(self, ctx):
            self.session = RoutingSession(SmartOrderRouter(venues), req, "H")
            self.session.start(ctx)

        def on_report(self, ctx, report):
            assert self.session.on_report(ctx, report)
            assert self.session.filled + self.session.outstanding <= qty

        def on_timer(self, ctx):
            self.session.on_timer(ctx)

    strategy = Route()
    params = InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0)
    result = run_backtest(params, strategy, venues=venues, seed=seed, start=7_200_000_000, end=7_230_000_000)
    assert result.filled_qty() == strategy.session.filled <= qty
