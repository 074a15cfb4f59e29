"""One VenueSimulator shared by many parents (owners): a print or a dark contra fills at most its size across
all our orders, in price-time priority; owners survive state() / from_state() (pure, no database)."""

import json
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.sim.clock import US
from ems.sim.exchange import VenueSimulator
from ems.sim.instrument import InstrumentParams
from ems.sim.market import Market
from ems.sim.orders import Liquidity, OrderRequest, OrderType, ReportKind, Side, TimeInForce
from ems.sim.venues import DEFAULT_VENUES

# A small name with prints as frequent as the model makes them (25,000 a day, two lots on average), about
# 1,000 shares displayed at a touch and a spread of several ticks: our orders of a few lots are a good part
# of a line, so they meet each other often. CALM moves a tick in minutes rather than seconds, so prints at
# our price (not through it) reach the front of our line.
SMALL = InstrumentParams("SHRD", reference_price=50.0, adv=5_000_000, daily_vol=0.03, spread_bps=8.0)
CALM = InstrumentParams("CALM", reference_price=20.0, adv=5_000_000, daily_vol=0.01, spread_bps=10.0)
VENUES = {v.code: v for v in DEFAULT_VENUES}
TICK = SMALL.tick_size
START = 3_600 * US
OWNERS = (101, 102, "pm-7", None)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _buy(venue, qty, price=None, tif=TimeInForce.DAY):
    return OrderRequest(venue, Side.BUY, qty, OrderType.MARKET if price is None else OrderType.LIMIT, price, tif)


def _sell(venue, qty, price=None, tif=TimeInForce.DAY):
    return OrderRequest(venue, Side.SELL, qty, OrderType.MARKET if price is None else OrderType.LIMIT, price, tif)


def _qty_by_order(fills, t=None):
    out = defaultdict(int)
    for f in fills:
        if t is None or f.time == t:
            out[f.order_id] += f.qty
    return out


def _prints_at(market, t, venue):
    """Indices of the day's prints at exactly ``t`` on lit ``venue``."""
    pr = market.data.prints
    lo, hi = np.searchsorted(pr.t, t, "left"), np.searchsorted(pr.t, t, "right")
    i = market.lit_index[venue]
    return [int(k) for k in range(lo, hi) if pr.venue[k] == i]


def _print_ticks(market, k):
    return int(market.print_ticks(k, k + 1)[0])


# --- the rule on small cases ------------------------------------------------------------------------------


def test_a_print_smaller_than_our_line_fills_the_earlier_order_first():
    lat = VENUES["XSMA"].latency_us
    for seed in range(30):
        market = Market(SMALL, seed=seed)
        sim = VenueSimulator(market)
        book = market.snapshot("XSMA", START + lat)
        if book.best_ask.price - book.best_bid.price < 2 * TICK - 1e-9:
            continue
        price = round(book.best_bid.price + TICK, 2)  # improves the touch: no market shares ahead of either
        first = sim.submit(_buy("XSMA", 100, price), START, owner=1)
        second = sim.submit(_buy("XSMA", 100, price), START, owner=2)
        sim.advance(START + 600 * US)
        t = min(f.time for f in sim.fills)
        ks = _prints_at(market, t, "XSMA")
        if len(ks) != 1 or market.data.prints.size[ks[0]] != 100:
            continue
        # One print of 100 reaches a line of 200 (ours only): all of it goes to the order that came first.
        assert _qty_by_order(sim.fills, t) == {first: 100}
        assert all(f.liquidity is Liquidity.MAKER and f.price == price for f in sim.fills)
        assert min(f.time for f in sim.fills if f.order_id == second) > t
        # Alone, the second order would have had that print.
        alone = VenueSimulator(Market(SMALL, seed=seed))
        alone.submit(_buy("XSMA", 100, price), START, owner=2)
        alone.advance(START + 600 * US)
        assert alone.fills[0].time == t and alone.fills[0].qty == 100
        return
    raise AssertionError("no seed gave a one-lot print reaching the line first")


def _reference_fills(market, orders, t_end):
    """Replay the documented rule print by print over the tape, for resting limit orders only (no takers).

    ``orders``: ``(order_id, venue, sign, limit ticks, qty, arrival time)`` in arrival order. Return
    ``[(time, order_id, qty)]``."""
    tape = market.prints(min(o[5] for o in orders), t_end + 1)
    state = {}  # order_id -> [left, queue]
    pending = list(orders)
    out = []

    def arrive(upto):
        while pending and pending[0][5] < upto:
            oid, venue, sign, limit, qty, t_arr = pending.pop(0)
            book = market.snapshot(venue, t_arr)
            levels = book.bids if sign > 0 else book.asks
            shown = {market.ticks(lvl.price): lvl.size for lvl in levels}
            best, deepest = market.ticks(levels[0].price), market.ticks(levels[-1].price)
            # Displayed size at the price; 0 improving the touch; behind the levels shown, the deepest one.
            queue = 0 if (limit - best) * sign > 0 else shown.get(limit, levels[-1].size if (deepest - limit) * sign > 0 else 0)
            for other, (o_left, o_queue) in state.items():
                o = next(x for x in orders if x[0] == other)
                if o_left and o[1:4] == (venue, sign, limit):
                    queue = max(queue, o_queue)
            state[oid] = [qty, queue]

    for t, v, px, size, aggressor in zip(tape.time, tape.venue, tape.price, tape.size, tape.side, strict=True):
        arrive(t)  # an order arriving at a print's instant does not see it
        venue, tick, sign = market.lit_codes[v], market.ticks(px), -int(aggressor)
        reached = [
            o for o in orders if o[0] in state and state[o[0]][0] and o[1] == venue and o[2] == sign and (o[3] - tick) * sign >= 0
        ]
        left = int(size)
        for o in sorted((o for o in reached if o[3] != tick), key=lambda o: -o[3] * sign):
            qty = min(left, state[o[0]][0])
            left -= qty
            if qty:
                out.append((int(t), o[0], qty))
                state[o[0]][0] -= qty
        ours_ahead = filled_ahead = 0
        for o in (o for o in reached if o[3] == tick):
            o_left, queue = state[o[0]]
            qty = min(max(left - queue - ours_ahead, 0), o_left)
            state[o[0]] = [o_left - qty, max(0, queue - max(0, left - filled_ahead))]
            ours_ahead += o_left
            filled_ahead += qty
            if qty:
                out.append((int(t), o[0], qty))
    return out


@pytest.mark.parametrize("params", [SMALL, CALM], ids=lambda p: p.symbol)
def test_our_line_at_one_price_follows_the_queue_model(params):
    """Three parents at the touch, one a tick inside it, and a fifth at the first price a minute later (with
    market shares between it and ours ahead): the simulator's fills are the rule replayed on the tape."""
    venue, lat = "XSMA", VENUES["XSMA"].latency_us
    shared_print_seen = False
    for seed in range(12):
        market = Market(params, seed=seed)
        sim = VenueSimulator(market)
        t0 = START
        bid = market.snapshot(venue, t0 + lat).best_bid.price
        inside = round(bid + TICK, 2)
        plan = [
            (t0, 300, bid, 1),
            (t0 + 2 * US, 500, bid, 2),
            (t0 + 9 * US, 200, bid, 3),
            (t0 + 15 * US, 400, inside, 4),
            (t0 + 60 * US, 300, bid, 5),
        ]
        orders = []
        for t_send, qty, price, owner in plan:
            sim.advance(t_send)
            if market.snapshot(venue, t_send + lat).best_ask.price <= price:
                break  # it would take liquidity; this test is about resting orders
            oid = sim.submit(_buy(venue, qty, price), t_send, owner=owner)
            orders.append((oid, venue, 1, market.ticks(price), qty, t_send + lat))
        if len(orders) < len(plan):
            continue
        t_end = t0 + 1_800 * US
        sim.advance(t_end)
        got = [(f.time, f.order_id, f.qty) for f in sim.fills]
        assert got == _reference_fills(market, orders, t_end)
        assert all(f.liquidity is Liquidity.MAKER for f in sim.fills)
        by_time = defaultdict(list)
        for t, oid, _ in got:
            by_time[t].append(oid)
        shared_print_seen |= any(len(ids) > 1 for ids in by_time.values())
    assert shared_print_seen, "some print filled two of our orders at once"


def test_a_print_eats_the_market_shares_behind_ours_only_with_what_ours_did_not_take():
    """Line: market, A (ours), market, B (ours). A print that fills A eats B's queue by S - (what A got).
    On a calm name, so that prints at our price (not through it) reach A."""
    venue, lat = "XSMA", VENUES["XSMA"].latency_us
    pr = None
    for seed in range(30):
        market = Market(CALM, seed=seed)
        pr = market.data.prints
        sim = VenueSimulator(market)
        bid = market.snapshot(venue, START + lat).best_bid.price
        a = sim.submit(_buy(venue, 200, bid), START, owner="A")
        b, t = None, START
        while b is None and t < START + 600 * US and sim.order(a).is_open:
            t += US
            sim.advance(t)
            book = market.snapshot(venue, t + lat)
            shown = {lvl.price: lvl.size for lvl in book.bids}
            if book.best_ask.price > bid and shown.get(bid, 0) > sim.order(a).queue_ahead + 100:
                b = sim.submit(_buy(venue, 300, bid), t, owner="B")
        if b is None:
            continue
        sim.advance(t + lat)
        start = int(np.searchsorted(pr.t, t + lat, "right"))
        for k in range(start, start + 2_000):
            t_k = int(pr.t[k])
            if pr.venue[k] != market.lit_index[venue] or pr.buy[k] or len(_prints_at(market, t_k, venue)) != 1:
                continue
            sim.advance(t_k - 1)
            if not sim.order(a).is_open:
                break
            q_b, cum_a = sim.order(b).queue_ahead, sim.order(a).cum_qty
            sim.advance(t_k)
            got_a, size = sim.order(a).cum_qty - cum_a, int(pr.size[k])
            if got_a and _print_ticks(market, k) == market.ticks(bid) and q_b > size - got_a:
                # Of the print's S shares, A took got_a; only the rest was market shares in front of B.
                assert sim.order(b).cum_qty == 0
                assert sim.order(b).queue_ahead == q_b - (size - got_a)
                return
    raise AssertionError("no seed gave a print at our price filling A while B waited behind market shares")


def test_a_new_order_queues_behind_our_earlier_order_at_its_price():
    venue, lat = "XSMA", VENUES["XSMA"].latency_us
    for seed in range(30):
        market = Market(SMALL, seed=seed)
        sim = VenueSimulator(market)
        bid = market.snapshot(venue, START + lat).best_bid
        early = sim.submit(_buy(venue, 100, bid.price), START, owner="a")
        for step in range(1, 20):
            t = START + step * 10 * US
            sim.advance(t)
            if not sim.order(early).is_open:
                break
            shown = {lvl.price: lvl.size for lvl in market.snapshot(venue, t + lat).bids}
            q_early = sim.order(early).queue_ahead
            if bid.price in shown and shown[bid.price] < q_early:
                late = sim.submit(_buy(venue, 100, bid.price), t, owner="b")
                sim.advance(t + lat)
                assert sim.order(late).queue_ahead == sim.order(early).queue_ahead > shown[bid.price]
                return
    raise AssertionError("no seed showed less at our price than the queue ahead of our earlier order")


def test_a_dark_contra_is_shared_by_resting_orders_in_arrival_order():
    pool = VENUES["DRKB"]
    for seed in range(20):
        market = Market(SMALL, seed=seed)
        contra = market.data.contra(1)
        t_arr = START + pool.latency_us
        k = int(np.searchsorted(contra.sec, t_arr // US, "right"))  # the first contra after we rest
        if contra.size[k] < 200:
            continue
        side = Side.SELL if contra.buy[k] else Side.BUY
        sim = VenueSimulator(market)
        size = int(contra.size[k])
        a = sim.submit(OrderRequest("DRKB", side, size - 100, OrderType.MARKET), START, owner=1)
        b = sim.submit(OrderRequest("DRKB", side, 300, OrderType.MARKET), START, owner=2)
        sim.advance(int(contra.t[k]))
        assert _qty_by_order(sim.fills, int(contra.t[k])) == {a: size - 100, b: 100}
        assert all(f.liquidity is Liquidity.MID for f in sim.fills)
        return
    raise AssertionError("no seed gave a contra of two lots or more")


def _dark_fills_of_a_resting_order(seed, side, t_arrival, until):
    """Fills of a 100-share peg resting in DRKB from START; another of ours, on the other side, arrives at
    ``t_arrival`` (None: nobody else)."""
    sim = VenueSimulator(Market(SMALL, seed=seed))
    resting = sim.submit(OrderRequest("DRKB", side, 100, OrderType.MARKET), START, owner=1)
    if t_arrival is not None:
        sim.advance(t_arrival)
        other = Side.BUY if side is Side.SELL else Side.SELL
        sim.submit(OrderRequest("DRKB", other, 100, OrderType.MARKET), t_arrival, owner=2)
    sim.advance(until)
    return [(f.time, f.qty) for f in sim.fills if f.order_id == resting]


def test_an_arriving_order_does_not_hide_a_later_contra_from_resting_orders():
    """An order arriving in a contra's second, before it shows up, used to skip the pool past it for everyone."""
    pool = VENUES["DRKB"]
    for seed in range(20):
        contra = Market(SMALL, seed=seed).data.contra(1)
        # A contra showing up late enough in its second for an order sent at the second's start to arrive first.
        late = (contra.sec * US > START + 10 * US) & (contra.t - contra.sec * US > 2 * pool.latency_us)
        if not late.any():
            continue
        k = int(np.argmax(late))
        side = Side.SELL if contra.buy[k] else Side.BUY  # the resting order can cross it, the arriving one not
        t_k = int(contra.t[k])
        alone = _dark_fills_of_a_resting_order(seed, side, None, t_k + US)
        if (t_k, 100) not in alone:
            continue  # it filled before this contra
        assert _dark_fills_of_a_resting_order(seed, side, int(contra.sec[k]) * US, t_k + US) == alone
        return
    raise AssertionError("no seed gave a usable contra")


def test_two_takers_in_one_microsecond_do_not_take_the_same_displayed_shares():
    market = Market(SMALL, seed=5)
    sim = VenueSimulator(market)
    lat = VENUES["XSMA"].latency_us
    book = market.snapshot("XSMA", START + lat)
    touch = book.best_ask
    first = sim.submit(_buy("XSMA", touch.size), START, owner=1)
    second = sim.submit(_buy("XSMA", touch.size), START, owner=2)
    sim.advance(START + 2 * lat)
    at_touch = _qty_by_order([f for f in sim.fills if f.price == touch.price])
    assert at_touch == {first: touch.size}
    assert {f.time for f in sim.fills} == {START + lat}
    assert min(f.price for f in sim.fills if f.order_id == second) == book.asks[1].price
    assert all(f.liquidity is Liquidity.TAKER for f in sim.fills)


# --- owners ----------------------------------------------------------------------------------------------


def test_owner_is_kept_with_the_order_and_survives_a_restore():
    market = Market(SMALL, seed=2)
    sim = VenueSimulator(market, id_prefix="O-")
    bid = market.bbo(START).bid
    by_int = sim.submit(_buy("XSMA", 200, round(bid - 5 * TICK, 2)), START, owner=42)
    by_str = sim.submit(_sell("DRKB", 300), START, owner="parent-7")
    anonymous = sim.submit(_buy("XSMB", 100, round(bid - 5 * TICK, 2)), START)
    sim.advance(START + US)
    assert (sim.owner_of(by_int), sim.owner_of(by_str), sim.owner_of(anonymous)) == (42, "parent-7", None)
    assert sim.order(by_int).owner == 42
    state = json.loads(json.dumps(sim.state()))
    twin = VenueSimulator.from_state(Market(SMALL, seed=2, fills=sim.fills), state, id_prefix="O-")
    assert [twin.owner_of(o.order_id) for o in twin.orders()] == [sim.owner_of(o.order_id) for o in twin.orders()]
    assert twin.open_orders() == sim.open_orders()
    # A state saved before owners existed loads with none.
    for d in state["orders"]:
        del d["owner"]
    old = VenueSimulator.from_state(Market(SMALL, seed=2, fills=sim.fills), state, id_prefix="O-")
    assert {old.owner_of(o.order_id) for o in old.orders()} == {None}


# --- properties: several parents on one instrument-day --------------------------------------------------

order_st = st.tuples(
    st.integers(0, len(OWNERS) - 1),
    st.sampled_from(["XSMA", "XSMA", "XSMA", "XSMB", "XSMI", "DRKB", "DRKB", "DRKA"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 4).map(lambda lots: lots * 100),
    st.sampled_from([OrderType.LIMIT, OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET]),
    st.sampled_from([TimeInForce.DAY, TimeInForce.DAY, TimeInForce.DAY, TimeInForce.IOC]),
    st.sampled_from([-1, 0, 0, 0, 1, 1, 2]),  # ticks from the same-side touch (positive = more aggressive)
    st.sampled_from([0, 0, 0, 1, 2, 5, 15]),  # seconds after the previous order
)
# Dense enough that in most examples some print or contra fills two of our orders at once; on CALM more of
# the prints that fill us are at our price, on SMALL more trade through it.
scenario_st = st.lists(order_st, min_size=12, max_size=40)
names_st = st.sampled_from([SMALL, CALM])


def _request(market, t, venue, side, qty, kind, tif, offset):
    if venue == "DRKA":
        qty *= 10  # around the block pool's 2,000-share minimum
    price = None
    if kind is OrderType.LIMIT:
        bbo = market.bbo(t)
        touch = bbo.bid if side is Side.BUY else bbo.ask
        price = round(touch + (offset if side is Side.BUY else -offset) * TICK, 2)
    return OrderRequest(venue, side, qty, kind, price, tif)


def _run(params, seed, scenario, splits=()):
    """Send the scenario's orders (one simulator, several owners); at each index in ``splits`` carry on from
    ``state()`` through JSON in a fresh simulator. Return (market, sent, reports, fills)."""
    market = Market(params, seed=seed)
    sim = VenueSimulator(market, id_prefix="P-")
    fills, reports, sent = [], [], []
    t = START
    for n, (owner, venue, side, qty, kind, tif, offset, gap) in enumerate(scenario):
        if n in splits:
            state = json.loads(json.dumps(sim.state()))
            fills += sim.fills
            market = Market(params, seed=seed, fills=fills)
            sim = VenueSimulator.from_state(market, state, id_prefix="P-")
        t += gap * US
        reports += sim.advance(t)
        req = _request(market, t, venue, side, qty, kind, tif, offset)
        sent.append((sim.submit(req, t, owner=OWNERS[owner]), OWNERS[owner], req))
    reports += sim.advance(t + 300 * US)
    for order_id, owner, _ in sent:
        if order_id in {o.order_id for o in sim.orders()}:
            assert sim.owner_of(order_id) == owner
    return market, sent, reports, fills + sim.fills


class _Outcome:
    """A scenario's run, indexed: requests and arrival ``(time, sending rank)`` of the accepted orders by id."""

    def __init__(self, params, seed, scenario):
        self.market, sent, reports, self.fills = _run(params, seed, scenario)
        self.reqs = {order_id: req for order_id, _, req in sent}
        rank = {order_id: n for n, (order_id, _, _) in enumerate(sent)}
        self.arrived = {r.order_id: (r.transact_time, rank[r.order_id]) for r in reports if r.kind is ReportKind.ACK}
        self.fills_of = defaultdict(list)
        for f in self.fills:
            self.fills_of[f.order_id].append(f)

    def leaves_before(self, order_id, t):
        return self.reqs[order_id].qty - sum(f.qty for f in self.fills_of[order_id] if f.time < t)

    def assert_served_in_order(self, queue, got, t):
        """``queue``: order ids in priority order; ``got``: what each got at ``t``. Whenever one got something,
        every order before it got all it still wanted."""
        for i, ahead in enumerate(queue):
            if any(got.get(behind, 0) for behind in queue[i + 1 :]):
                assert got.get(ahead, 0) == self.leaves_before(ahead, t)


@PROPS
@given(params=names_st, seed=st.integers(0, 3), scenario=scenario_st)
def test_a_print_fills_at_most_its_size_in_price_time_priority(params, seed, scenario):
    run = _Outcome(params, seed, scenario)
    market, reqs, arrived = run.market, run.reqs, run.arrived
    pr = market.data.prints
    maker = defaultdict(list)
    for f in run.fills:
        if f.liquidity is Liquidity.MAKER:
            maker[(f.time, f.venue)].append(f)
    for (t, venue), group in maker.items():
        ks = _prints_at(market, t, venue)
        # A maker fill comes from a print at its instant on its venue, by an aggressor on the other side,
        # at or through its limit; all the fills of one instant together are at most those prints' size.
        assert sum(f.qty for f in group) <= sum(int(pr.size[k]) for k in ks)
        for f in group:
            sign = f.side.sign
            assert any(
                bool(pr.buy[k]) == (sign < 0) and (market.ticks(f.price) - _print_ticks(market, k)) * sign >= 0 for k in ks
            )
        if len(ks) != 1:
            continue  # two prints in one microsecond: which fill came from which is not observable
        (k,) = ks
        tick, sign = _print_ticks(market, k), (-1 if pr.buy[k] else 1)
        got = _qty_by_order(group)
        # Every order of ours resting there that the print reached, in the priority the rule gives.
        reached = [
            order_id
            for order_id, req in reqs.items()
            if order_id in arrived
            and arrived[order_id][0] < t
            and req.venue == venue
            and req.side.sign == sign
            and req.order_type is OrderType.LIMIT
            and req.tif is TimeInForce.DAY
            and (market.ticks(req.price) - tick) * sign >= 0
            and run.leaves_before(order_id, t) > 0
        ]
        # Through first (best limit first), then the line at the print's price; arrival order within a price.
        reached.sort(key=lambda oid: (market.ticks(reqs[oid].price) == tick, -market.ticks(reqs[oid].price) * sign, arrived[oid]))
        assert set(got) <= set(reached)
        run.assert_served_in_order(reached, got, t)


@PROPS
@given(params=names_st, seed=st.integers(0, 3), scenario=scenario_st)
def test_a_dark_contra_fills_at_most_its_size_resting_orders_first_come_first_served(params, seed, scenario):
    run = _Outcome(params, seed, scenario)
    market, reqs, arrived = run.market, run.reqs, run.arrived
    dark = {v.code: j for j, v in enumerate(v for v in market.venues if not v.is_lit)}
    mid = defaultdict(list)
    for f in run.fills:
        if f.liquidity is Liquidity.MID:
            mid[(f.venue, f.time // US)].append(f)
    for (venue, sec), group in mid.items():
        contra = market.data.contra(dark[venue])
        k = int(np.searchsorted(contra.sec, sec))
        assert k < len(contra.sec) and contra.sec[k] == sec, "a midpoint fill needs contra in its second"
        assert sum(f.qty for f in group) <= int(contra.size[k])
        assert all((f.side is Side.SELL) == bool(contra.buy[k]) for f in group)
        # At the contra's instant: the unpriced pegs there that could cross it, in arrival order.
        t_k = int(contra.t[k])
        got = _qty_by_order(f for f in group if f.time == t_k)
        waiting = sorted(
            (
                order_id
                for order_id, req in reqs.items()
                if order_id in arrived
                and req.venue == venue
                and req.price is None
                and (req.side is Side.SELL) == bool(contra.buy[k])
                and (arrived[order_id][0] < t_k and req.tif is TimeInForce.DAY or arrived[order_id][0] == t_k)
                and run.leaves_before(order_id, t_k) > 0
            ),
            key=arrived.get,
        )
        run.assert_served_in_order(waiting, got, t_k)


@PROPS
@given(params=names_st, seed=st.integers(0, 3), scenario=scenario_st, data=st.data())
def test_a_run_split_by_state_round_trips_gives_the_same_fills(params, seed, scenario, data):
    splits = data.draw(st.sets(st.integers(1, len(scenario) - 1), max_size=3))
    _, sent, reports, fills = _run(params, seed, scenario)
    _, sent_split, reports_split, fills_split = _run(params, seed, scenario, splits)
    assert sent_split == sent  # same venue order ids, owners and requests
    assert fills_split == fills
    assert reports_split == reports
    assert len({f.exec_id for f in fills}) == len(fills)
