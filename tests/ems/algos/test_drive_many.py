"""Several strategies on one shared simulator (:func:`ems.algos.loop.drive_many`, what the live driver runs
for an instrument-day): worked in one call or in chunks with everything through ``json.dumps`` between them
and the market rebuilt from the fills so far, they do exactly the same; each report reaches its owner."""

import json

from ems.algos import algo_from_state
from ems.algos.context import AlgoContext
from ems.algos.loop import Entry, drive_many, pending_fills
from ems.sim.exchange import VenueSimulator
from ems.sim.market import Market
from tests.ems.algos.test_live_context import ACME, END, SEED, START, boundaries, fill_key, make, qty_for

PARENTS = [(11, "twap", "buy"), (12, "vwap", "sell"), (13, "pov", "buy"), (14, "is", "sell")]


def _fresh():
    market = Market(ACME, seed=SEED, day=3)
    sim = VenueSimulator(market)
    sim.advance(START)
    entries = []
    for owner, name, side in PARENTS:
        ctx = AlgoContext(market, sim, START, owner=owner)
        extra = {"max_participation": 0.2} if name == "pov" else {}
        strategy = make(name, side=side, qty=qty_for(name) // 2, start=START, end=END, seed=SEED, **extra)
        ctx.algo = strategy
        strategy.on_start(ctx)
        entries.append(Entry(ctx, strategy, END))
    return market, sim, entries


def _run_in_chunks(points):
    market, sim, entries = _fresh()
    fills = []
    for until in points:
        saved = json.loads(json.dumps({"sim": sim.state(),
                                       "parents": [{"ctx": e.ctx.state(), "algo": e.strategy.state()} for e in entries]}))
        fills += sim.fills
        market = Market(ACME, seed=SEED, day=3, fills=[*fills])
        assert {f.exec_id for f in pending_fills({"sim": saved["sim"]})} <= {f.exec_id for f in fills}
        sim = VenueSimulator.from_state(market, saved["sim"])
        entries = []
        for (owner, _, _), p in zip(PARENTS, saved["parents"], strict=True):
            ctx = AlgoContext.from_state(market, sim, p["ctx"], owner=owner)
            strategy = algo_from_state(p["algo"])
            ctx.algo = strategy
            entries.append(Entry(ctx, strategy, END))
        drive_many(entries, sim, until)
    return fills + sim.fills


def test_strategies_sharing_one_simulator_give_the_same_fills_in_one_call_or_in_chunks():
    market, sim, entries = _fresh()
    drive_many(entries, sim, END + 10_000_000)
    once = sorted(map(fill_key, sim.fills))
    assert len({f.order_id for f in sim.fills}) > 20
    # Each strategy saw only its own fills, and all of them.
    for e in entries:
        assert e.ctx.fills and {sim.owner_of(f.order_id) for f in e.ctx.fills} == {e.ctx.owner}
    assert sum(len(e.ctx.fills) for e in entries) == len(sim.fills)
    assert sorted(map(fill_key, _run_in_chunks(boundaries(5)))) == once
