import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.sim.clock import SESSION_US, US
from ems.sim.exchange import VenueSimulator
from ems.sim.market import InstrumentParams, Market
from ems.sim.orders import Liquidity, OrderRequest, ReportKind, Side
from ems.sim.venues import DEFAULT_VENUES

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
VENUES = {v.code: v for v in DEFAULT_VENUES}
T0 = 5_000 * US


def new_sim(seed=1, day=0):
    market = Market(ACME, seed=seed, day=day)
    return market, VenueSimulator(market)


def test_market_order_walks_the_book_and_never_rests():
    market, sim = new_sim()
    lat = VENUES["XSMA"].latency_us
    book = market.snapshot("XSMA", T0 + lat)
    displayed = sum(level.size for level in book.asks)
    sim.submit(OrderRequest("XSMA", Side.BUY, displayed + 10_000, "market"), T0)
    reports = sim.advance(T0 + 10 * US)
    fills = [r.fill for r in reports if r.fill]
    assert [(f.price, f.qty) for f in fills] == [(lvl.price, lvl.size) for lvl in book.asks]
    avg = sum(f.price * f.qty for f in fills) / displayed
    assert avg > book.best_ask.price
    assert all(f.liquidity is Liquidity.TAKER for f in fills)
    last = reports[-1]
    assert last.kind is ReportKind.CANCELLED and last.cum_qty == displayed and last.leaves_qty == 0
    assert not sim.open_orders()


def test_ioc_limit_takes_up_to_its_price_and_cancels_the_rest():
    market, sim = new_sim()
    book = market.snapshot("XSMB", T0 + VENUES["XSMB"].latency_us)
    limit = book.asks[1].price
    want = book.asks[0].size + book.asks[1].size + 5_000
    sim.submit(OrderRequest("XSMB", "buy", want, price=limit, tif="ioc"), T0)
    reports = sim.advance(T0 + US)
    kinds = [r.kind for r in reports]
    assert kinds == [ReportKind.ACK, ReportKind.PARTIAL, ReportKind.PARTIAL, ReportKind.CANCELLED]
    assert reports[-1].reason == "ioc_remainder" and reports[-1].cum_qty == want - 5_000
    assert max(r.fill.price for r in reports if r.fill) == limit


def test_latency_is_honoured_both_ways():
    market, sim = new_sim()
    for code in ("XSMA", "XSMI", "DRKB"):
        v = VENUES[code]
        t_send = sim.time + 7 * US
        sim.advance(t_send)
        sim.submit(OrderRequest(code, "buy", 200, "market", tif="ioc"), t_send)
        for r in sim.advance(t_send + 5 * US):
            assert r.transact_time == t_send + v.latency_us
            assert r.time == r.transact_time + v.latency_us
            if r.fill:
                assert r.fill.time == r.transact_time


def test_taken_depth_leaves_the_book_and_comes_back():
    market, sim = new_sim()
    lat = VENUES["XSMA"].latency_us
    before = market.snapshot("XSMA", T0 + lat)
    sim.submit(OrderRequest("XSMA", "buy", before.asks[0].size, "market"), T0)
    sim.advance(T0 + 2 * lat)
    after = market.snapshot("XSMA", T0 + lat + 1)
    assert after.best_ask.price > before.best_ask.price
    refilled = market.snapshot("XSMA", T0 + lat + 30 * US)
    assert refilled.best_ask.size > 0


def find_queue_case():
    """A resting bid at the touch whose queue is partly eaten by prints before it fills."""
    for seed in range(1, 30):
        market, sim = new_sim(seed)
        t_send = 2_000 * US
        t_arr = t_send + VENUES["XSMA"].latency_us
        bid = market.snapshot("XSMA", t_arr).best_bid
        order_id = sim.submit(OrderRequest("XSMA", "buy", 200, price=bid.price), t_send)
        sim.advance(t_arr)
        queue = sim.order(order_id).queue_ahead
        while sim.order(order_id).cum_qty == 0 and sim.time < 8_000 * US:
            sim.advance(sim.time + 60 * US)
        fills = [f for f in sim.fills if f.order_id == order_id]
        prints = market.prints(t_arr + 1, fills[0].time + 1) if fills else None
        if fills and prints is not None:
            mine = prints.venue == 0
            at_price = mine & (prints.price == bid.price) & (prints.time < fills[0].time)
            if prints.size[at_price].sum() > 0:
                return bid, queue, fills, prints
    raise AssertionError("no seed gave a partly consumed queue")


def test_resting_order_waits_for_the_queue_ahead():
    bid, queue, fills, prints = find_queue_case()
    assert queue == bid.size > 0
    # Replay the rule on the tape: prints at our price eat the queue, a print through it fills us.
    eaten = 0
    expected = None
    for t, v, price, size in zip(prints.time, prints.venue, prints.price, prints.size, strict=True):
        if v != 0:
            continue
        if price < bid.price:
            expected = t
            break
        if price == bid.price:
            eaten += size
            if eaten > queue:
                expected = t
                break
    assert fills[0].time == expected
    assert fills[0].price == bid.price and fills[0].liquidity is Liquidity.MAKER


def test_queue_ahead_is_the_displayed_size_at_our_price():
    market, sim = new_sim(3)
    t_arr = T0 + VENUES["XSMB"].latency_us
    book = market.snapshot("XSMB", t_arr)
    at_touch = sim.submit(OrderRequest("XSMB", "sell", 100, price=book.asks[0].price), T0)
    deeper = sim.submit(OrderRequest("XSMB", "sell", 100, price=book.asks[2].price), T0)
    inside = round(book.asks[0].price - ACME.tick_size, 2)
    assert inside > book.best_bid.price  # a spread of two ticks or more: room to improve
    improving = sim.submit(OrderRequest("XSMB", "sell", 100, price=inside), T0)
    sim.advance(t_arr)
    assert sim.order(at_touch).queue_ahead == book.asks[0].size
    assert sim.order(deeper).queue_ahead == book.asks[2].size
    assert sim.order(improving).queue_ahead == 0


def test_dark_pool_rejects_below_minimum_size():
    market, sim = new_sim()
    pool = VENUES["DRKA"]
    small = sim.submit(OrderRequest("DRKA", "buy", pool.min_size - 100, "market"), T0)
    ok = sim.submit(OrderRequest("DRKA", "buy", pool.min_size, "market"), T0)
    reports = {r.order_id: r for r in sim.advance(T0 + US) if r.kind in (ReportKind.REJECTED, ReportKind.ACK)}
    assert reports[small].kind is ReportKind.REJECTED and reports[small].reason == "below_min_size"
    assert reports[ok].kind is ReportKind.ACK
    contra = market.data.contra(0)
    assert np.all(contra.size >= pool.min_size)


def test_dark_fills_at_the_lit_midpoint_and_ioc_without_contra_is_cancelled():
    market, sim = new_sim(4)
    order_id = sim.submit(OrderRequest("DRKB", "sell", 2_000, "market", tif="day"), T0)
    sim.advance(T0 + 1_800 * US)
    fills = [f for f in sim.fills if f.order_id == order_id]
    assert fills, "a resting dark order meets contra within half an hour"
    for f in fills:
        assert f.liquidity is Liquidity.MID
        assert f.price == pytest.approx(market.bbo(f.time).mid, abs=1e-9)
        assert f.fee == pytest.approx(VENUES["DRKB"].mid_fee * f.qty)
    assert sum(f.qty for f in fills) <= 2_000
    # A dark IOC in a second without contra gets nothing.
    contra_secs = set(market.data.contra(1).sec.tolist())
    quiet = next(s for s in range(8_000, 9_000) if s not in contra_secs) * US + 100
    sim.advance(quiet)
    ioc = sim.submit(OrderRequest("DRKB", "buy", 500, "market", tif="ioc"), quiet)
    last = [r for r in sim.advance(quiet + US) if r.order_id == ioc][-1]
    assert last.kind is ReportKind.CANCELLED and last.cum_qty == 0


def test_dark_limit_caps_the_midpoint():
    market, sim = new_sim(4)
    far = round(market.bbo(T0).bid - 1.0, 2)  # a buyer unwilling to pay the mid never crosses
    order_id = sim.submit(OrderRequest("DRKB", "buy", 1_000, price=far), T0)
    sim.advance(T0 + 1_800 * US)
    assert sim.order(order_id).cum_qty == 0


def test_fees_follow_the_schedule_and_the_inverted_venue_pays_takers():
    market, sim = new_sim(6)
    sends = [
        OrderRequest("XSMA", "buy", 3_000, "market"),
        OrderRequest("XSMI", "buy", 2_000, "market"),
        OrderRequest("XSMA", "sell", 500, price=market.snapshot("XSMA", T0 + 400).best_ask.price),
        OrderRequest("XSMI", "sell", 500, price=market.snapshot("XSMI", T0 + 400).best_ask.price),
        OrderRequest("DRKB", "sell", 1_000, "market"),
    ]
    for req in sends:
        sim.submit(req, T0)
    sim.advance(T0 + 3_600 * US)
    fills = sim.fills
    assert {f.liquidity for f in fills} == {Liquidity.TAKER, Liquidity.MAKER, Liquidity.MID}
    for f in fills:
        assert f.fee == pytest.approx(VENUES[f.venue].fee_per_share(f.liquidity) * f.qty)
    assert sum(f.fee for f in fills) == pytest.approx(sum(VENUES[f.venue].fee_per_share(f.liquidity) * f.qty for f in fills))
    inverted_taker = [f for f in fills if f.venue == "XSMI" and f.liquidity is Liquidity.TAKER]
    assert inverted_taker and all(f.fee < 0 for f in inverted_taker)
    assert all(f.fee > 0 for f in fills if f.venue == "XSMI" and f.liquidity is Liquidity.MAKER)
    assert all(f.fee < 0 for f in fills if f.venue == "XSMA" and f.liquidity is Liquidity.MAKER)
    assert len({f.exec_id for f in fills}) == len(fills)


def test_cancel_resting_order_and_cancel_too_late():
    market, sim = new_sim()
    bid = market.snapshot("XSMA", T0 + 350).bids[3].price
    resting = sim.submit(OrderRequest("XSMA", "buy", 300, price=bid), T0)
    done = sim.submit(OrderRequest("XSMA", "buy", 100, "market"), T0)
    sim.advance(T0 + US)
    sim.cancel(resting, T0 + US)
    sim.cancel(done, T0 + US)
    reports = sim.advance(T0 + 2 * US)
    by_order = {r.order_id: r for r in reports}
    assert by_order[resting].kind is ReportKind.CANCELLED and by_order[resting].reason == "cancel_requested"
    assert by_order[done].kind is ReportKind.CANCEL_REJECTED and by_order[done].reason == "too_late_to_cancel"
    assert not sim.open_orders()


def test_day_orders_expire_at_the_close_and_late_orders_are_rejected():
    market, sim = new_sim()
    t = SESSION_US - 10 * US
    sim.advance(t)
    deep = market.snapshot("XSMB", t).bids[-1].price
    day_order = sim.submit(OrderRequest("XSMB", "buy", 100, price=deep), t)
    late = SESSION_US - 100
    sim.advance(late)
    too_late = sim.submit(OrderRequest("XSMA", "buy", 100, "market"), late)
    reports = {r.order_id: r for r in sim.advance(SESSION_US + 2 * US)}
    assert reports[day_order].kind is ReportKind.EXPIRED and reports[day_order].transact_time == SESSION_US
    assert reports[too_late].kind is ReportKind.REJECTED and reports[too_late].reason == "market_closed"


@pytest.mark.parametrize(
    "req, reason",
    [
        (OrderRequest("XSMA", "buy", 100, price=100.005), "invalid_price"),
        (OrderRequest("XSMA", "buy", 100), "missing_price"),
        (OrderRequest("XSMA", "buy", 0, "market"), "invalid_quantity"),
    ],
)
def test_bad_orders_are_rejected_with_a_reason(req, reason):
    _, sim = new_sim()
    sim.submit(req, T0)
    reports = sim.advance(T0 + US)
    assert [(r.kind, r.reason) for r in reports] == [(ReportKind.REJECTED, reason)]


def test_unknown_venue_and_sending_into_the_past_raise():
    _, sim = new_sim()
    with pytest.raises(KeyError):
        sim.submit(OrderRequest("NOPE", "buy", 100, "market"), T0)
    sim.advance(T0)
    with pytest.raises(ValueError):
        sim.submit(OrderRequest("XSMA", "buy", 100, "market"), T0 - 1)


order_strategy = st.tuples(
    st.sampled_from([v.code for v in DEFAULT_VENUES]),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 60).map(lambda lots: lots * 100),
    st.sampled_from(["market", "limit"]),
    st.sampled_from(["day", "ioc"]),
    st.integers(-3, 3),  # limit offset in ticks from the same-side touch (positive = more aggressive)
    st.integers(0, 120),  # seconds after the previous order
)


@settings(max_examples=25, deadline=None, database=None)
@given(orders=st.lists(order_strategy, min_size=1, max_size=12), seed=st.integers(0, 3))
def test_never_overfilled_and_books_stay_uncrossed(orders, seed):
    market, sim = new_sim(seed)
    t = 1_000 * US
    ids = []
    for venue, side, qty, kind, tif, offset, gap in orders:
        t += gap * US
        sim.advance(t)
        price = None
        if kind == "limit":
            bbo = market.bbo(t)
            touch = bbo.bid if side == "buy" else bbo.ask
            price = round(touch + (offset if side == "buy" else -offset) * ACME.tick_size, 2)
        ids.append(sim.submit(OrderRequest(venue, side, qty, kind, price, tif), t))
        for code in market.lit_codes:
            book = market.snapshot(code, t)
            assert book.best_bid is None or book.best_ask is None or book.best_bid.price < book.best_ask.price
    reports = sim.advance(t + 600 * US)
    for order_id in ids:
        state = sim.order(order_id)
        filled = sum(f.qty for f in sim.fills if f.order_id == order_id)
        assert filled == state.cum_qty <= state.qty
        assert state.cum_qty + state.leaves_qty == state.qty or not state.is_open
    for r in reports:
        assert 0 <= r.cum_qty <= r.order_qty and r.leaves_qty <= r.order_qty - r.cum_qty
    assert len({f.exec_id for f in sim.fills}) == len(sim.fills)


def test_a_pickled_simulator_resumes_exactly():
    def scenario(sim, market, t_from, t_to):
        for k in range(t_from, t_to):
            t = 1_000 * US + k * 120 * US
            sim.advance(t)
            bid = market.snapshot("XSMA", t).best_bid.price
            sim.submit(OrderRequest("XSMA", "buy", 300, price=bid), t)
            sim.submit(OrderRequest("XSMB", "sell", 400, "market"), t)
            sim.submit(OrderRequest("DRKB", "buy", 500, "market"), t)

    market, sim = new_sim(9)
    scenario(sim, market, 0, 20)
    whole_day = sim.advance(SESSION_US + US)

    market, first_half = new_sim(9)
    scenario(first_half, market, 0, 10)
    resumed = pickle.loads(pickle.dumps(first_half))  # e.g. stored between two worker ticks
    scenario(resumed, resumed.market, 10, 20)
    assert resumed.advance(SESSION_US + US) == whole_day
    assert resumed.fills == sim.fills and len(sim.fills) > 30
