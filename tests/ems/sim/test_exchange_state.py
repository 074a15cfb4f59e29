"""VenueSimulator.state() / from_state(): plain JSON, and a restored simulator carries on exactly (pure)."""

import json

from ems.sim.clock import US
from ems.sim.exchange import VenueSimulator
from ems.sim.instrument import InstrumentParams
from ems.sim.market import Market
from ems.sim.orders import OrderRequest, OrderType, Side, TimeInForce

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
START = 60 * 60 * US
SEED = 11


def test_restored_simulator_carries_on_resting_orders_and_reports_in_flight():
    market = Market(ACME, seed=SEED, day=3)
    sim = VenueSimulator(market, id_prefix="X-")
    sim.advance(START)
    bbo = market.bbo(START)
    rest = sim.submit(_req("XSMA", Side.BUY, 500, round(bbo.bid - 0.05, 2)), START)
    take = sim.submit(_req("XSMB", Side.BUY, 300, round(bbo.ask + 0.05, 2)), START)
    sim.advance(START + 1_000)  # both arrived (latency 350 / 900 µs); the take's fills are on their way back
    state = json.loads(json.dumps(sim.state()))
    assert {o["order_id"] for o in state["orders"]} >= {rest}
    in_flight = VenueSimulator.state_fills(state)
    assert in_flight and all(f.order_id == take for f in in_flight)
    twin = VenueSimulator.from_state(Market(ACME, seed=SEED, day=3, fills=sim.fills), state, id_prefix="X-")
    t = START + 30 * 60 * US
    assert twin.advance(t) == sim.advance(t)
    assert [f.exec_id for f in in_flight] == [f.exec_id for f in sim.fills if f.order_id == take][: len(in_flight)]
    assert twin.order(rest) == sim.order(rest)
    nxt = twin.submit(_req("XSMA", Side.BUY, 100, None), t)
    assert nxt.endswith("-3")  # the counter goes on after a restore


def test_state_round_trips_through_json_with_dark_and_lit_orders_working():
    market = Market(ACME, seed=SEED, day=3)
    sim = VenueSimulator(market, id_prefix="Y-")
    sim.advance(START)
    bbo = market.bbo(START)
    sim.submit(_req("XSMA", Side.SELL, 800, round(bbo.ask + 0.50, 2)), START)
    sim.submit(OrderRequest("DRKA", Side.BUY, 200_000, OrderType.MARKET, None, TimeInForce.DAY), START)
    sim.submit(OrderRequest("DRKB", Side.SELL, 200_000, OrderType.MARKET, None, TimeInForce.DAY), START)
    sim.advance(START + 2 * 60 * US)
    assert len(sim.open_orders()) == 3
    cancel_me = sim.open_orders()[0].order_id
    sim.cancel(cancel_me, sim.time)  # a cancel in flight is in the state too
    state = sim.state()
    assert json.loads(json.dumps(state)) == state
    twin = VenueSimulator.from_state(Market(ACME, seed=SEED, day=3, fills=sim.fills), json.loads(json.dumps(state)), id_prefix="Y-")
    assert twin.state() == state
    assert twin.advance(START + 60 * 60 * US) == sim.advance(START + 60 * 60 * US)
    assert twin.open_orders() == sim.open_orders()
    assert twin.fills == [f for f in sim.fills if f.time > state["time"]]


def _req(venue, side, qty, price):
    return OrderRequest(venue, side, qty, OrderType.MARKET if price is None else OrderType.LIMIT, price)
