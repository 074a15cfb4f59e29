"""What-if replay: run an execution algorithm again on the same market path (no Django).

The market is deterministic (a pure function of the seed, the instrument-day, the venues and our fills),
so an algorithm can be re-run over a finished parent's window on *the same* path: the same mids, prints,
quotes and dark contra, with the impact of our other executions that day, minus the parent's own (the
caller builds the market without them). The replay does what the live driver's first epoch does
(:mod:`ems.services.working`, ``_Driver._restore`` / ``_new_epoch`` / ``_drive``): a fresh
:class:`~ems.sim.exchange.VenueSimulator` over the market, advanced to the start; the algorithm built from
``ALGORITHMS[strategy]`` with its parameters and the window; ``on_start``; then the shared event loop
(:func:`ems.algos.loop.drive`) to the end, and the reports in flight at the end delivered afterwards.
The live driver runs that loop in chunks between Celery ticks, the replay in one go: the same fills
(tests/ems/algos/test_live_context.py proves chunking changes nothing).

Hence the same algorithm with the same parameters on the same market reproduces the original fills
(times, venues, quantities, prices, exec ids) exactly, and another algorithm or other parameters show
what would have happened instead.

Our other executions that day (other parents' fills, kept: their impact is part of the path) go in two
parts, because a market's footprint takes fills in time order only: those up to ``start_us`` in the
``market`` (``Market(..., fills=...)``), the later ones as ``later_fills``, which the replay records into
the market when its clock reaches their time, as the live driver finds them in the database at its next
tick. The parent's own fills must be in neither. A parent that was re-planned (a second epoch) was not
worked by one algorithm from start to end: its replay is the first plan carried to the end.

The caller's market is left untouched (the replay works on a copy): replaying twice gives the same fills.
For the benchmarks of the what-if execution, rebuild the market with its fills added
(``Market(..., fills=others + replayed)``), as the live driver rebuilds it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from ems.algos import ALGORITHMS, algo_params
from ems.algos.context import AlgoContext
from ems.algos.loop import Budget, drive
from ems.algos.types import StrategyName
from ems.sim.clock import SESSION_US
from ems.sim.exchange import VenueSimulator
from ems.sim.market import Market
from ems.sim.orders import Fill


def replay(
    market: Market,
    strategy_name: str,
    params: dict,
    *,
    id_prefix: str,
    start_us: int,
    end_us: int,
    later_fills: Iterable[Fill] = (),
    budget: Budget | None = None,
) -> list[Fill]:
    """Run ``strategy_name`` with ``params`` (an algorithm's ``Params.to_dict()``: side and qty at least)
    over ``[start_us, end_us)`` on a copy of ``market`` (plus ``later_fills``, our other fills after
    ``start_us``); return its fills in the order they happened.

    Venue order ids, exec ids and client order ids start with ``id_prefix``. Raises ``ValueError`` for an
    unknown strategy or parameters the algorithm refuses; ``ems.algos.loop.BudgetExceeded`` when ``budget``
    (steps, time, cancellation: one budget for the whole replay) is spent.
    """
    cls = ALGORITHMS.get(StrategyName(strategy_name))
    if cls is None:  # RFQ and AUTO are strategies, not algorithms
        raise ValueError(f"{strategy_name!r} is not an execution algorithm")
    p = algo_params(strategy_name, params, start=int(start_us), end=int(end_us))
    market = copy.deepcopy(market)  # the simulator records our fills in the market's footprint
    sim = VenueSimulator(market, id_prefix=id_prefix)
    sim.advance(p.start)
    ctx = AlgoContext(market, sim, p.start, id_prefix)
    algo = cls(p, market.params)
    ctx.algo = algo
    algo.on_start(ctx)
    end = p.end
    at: dict[int, list[Fill]] = {}
    for f in later_fills:
        at.setdefault(int(f.time), []).append(f)
    for t in sorted(at):
        # Run everything before t, then let the market see the fills at t (drive in chunks changes nothing).
        drive(algo, ctx, sim, t - 1, end=end, budget=budget)
        if sim.time < t - 1:
            break  # done and drained short of t: the simulator never gets there
        market.footprint.record_fills(at[t])
    # Up to past the close, as run_backtest does: drive stops after the reports in flight at the end.
    drive(algo, ctx, sim, SESSION_US * 2, end=end, budget=budget)
    return list(sim.fills)
