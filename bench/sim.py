"""Benchmark the market simulator and the backtest harness; prints figures, asserts nothing.

Run: ``.venv/bin/python bench/sim.py`` (from the repository root).

(a) Market generation: whole simulated days generated from scratch (no cache). Events counted:
    trade prints + L2 book updates (a lit venue's ladder changed in a second: prices or any level's size)
    + dark-pool contra arrivals.
(b) Backtest: one simulated day of a 10%-ADV buy order, sliced every minute: each slice first pings the
    dark pools (IOC at the midpoint), then splits what is left across the lit venues by displayed size at
    the touch (IOC limits up to two ticks through the touch). Timed cold (day generated inside the run)
    and warm (day arrays cached).
(c) Shared simulator: one VenueSimulator for the instrument-day serving N parents (owners). Every minute
    from 10:30 to 15:00 each parent posts a 300-share DAY limit at or behind the touch on a lit venue, and
    every fifth minute a 500-share midpoint peg in the broker pool; nothing is cancelled, so resting orders
    pile up (thousands at N = 40) and share the prints and contra. Day cached; wall time of the run.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ems.algos.backtest import run_backtest
from ems.algos.context import AlgoContext, Strategy  # noqa: E402
from ems.sim import DEFAULT_VENUES, SESSION_US, US, ExecutionReport, InstrumentParams, MarketDay  # noqa: E402
from ems.sim.exchange import VenueSimulator  # noqa: E402
from ems.sim.market import Market, market_day  # noqa: E402
from ems.sim.orders import OrderRequest  # noqa: E402

PARAMS = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)


class MinuteSlicer(Strategy):
    """TWAP-ish: every minute, ping the dark pools, then take the rest of the slice on the lit venues."""

    def __init__(self, qty: int, side: str = "buy", interval_s: float = 60.0) -> None:
        self.qty, self.side, self.interval_s = qty, side, interval_s
        self.pending_pings: set[str] = set()
        self.slice_left = 0

    def on_start(self, ctx: AlgoContext) -> None:
        ctx.set_timer(self.interval_s)
        self.on_timer(ctx)

    def on_timer(self, ctx: AlgoContext) -> None:
        if ctx.open_orders:
            return  # the previous slice is still out
        left = self.qty - ctx.filled[self.side]
        slices_left = max(1, math.ceil((SESSION_US - ctx.now) / (self.interval_s * US)))
        lot = ctx.params.lot_size
        self.slice_left = min(left, max(lot, math.ceil(left / slices_left / lot) * lot))
        if self.slice_left <= 0:
            return
        for pool in ctx.dark_venues:
            if self.slice_left >= pool.min_size:
                self.pending_pings.add(ctx.place(pool.code, self.side, self.slice_left, tif="ioc"))
                break
        if not self.pending_pings:
            self.take_lit(ctx)

    def on_report(self, ctx: AlgoContext, report: ExecutionReport) -> None:
        if report.order_id in self.pending_pings:
            if report.fill is not None:
                self.slice_left -= report.fill.qty
            if report.is_terminal:
                self.pending_pings.discard(report.order_id)
                if not self.pending_pings and self.slice_left > 0:
                    self.take_lit(ctx)

    def take_lit(self, ctx: AlgoContext) -> None:
        books = ctx.snapshots()
        buy = self.side == "buy"
        touch = {code: (b.best_ask if buy else b.best_bid) for code, b in books.items()}
        touch = {code: lvl for code, lvl in touch.items() if lvl is not None}
        total = sum(lvl.size for lvl in touch.values())
        left = self.slice_left
        tick = ctx.params.tick_size
        for i, (code, lvl) in enumerate(sorted(touch.items(), key=lambda kv: -kv[1].size)):
            qty = left if i == len(touch) - 1 else min(left, round(self.slice_left * lvl.size / total))
            if qty <= 0:
                continue
            price = round(lvl.price + (2 * tick if buy else -2 * tick), 6)
            ctx.place(code, self.side, qty, price=price, tif="ioc")
            left -= qty


def bench_generation(days: int = 12) -> None:
    print("(a) market generation, instrument ACME (ADV 5M, vol 2%, spread 5 bps), 3 lit + 2 dark venues")
    prints = updates = contra = 0
    gen_s = 0.0
    for d in range(days):
        day = MarketDay(PARAMS, seed=1000 + d, day=d, venues=DEFAULT_VENUES)
        t0 = time.perf_counter()
        day.generate_all()
        gen_s += time.perf_counter() - t0
        prints += len(day.prints.t)
        contra += sum(len(day.contra(j).t) for j in range(len(day.dark)))
        updates += day.book_updates()
    events = prints + updates + contra
    print(f"    {days} days in {gen_s:.3f} s ({gen_s / days * 1e3:.1f} ms/day)")
    print(
        f"    per day: {prints / days:,.0f} prints + {updates / days:,.0f} book updates + {contra / days:,.0f} "
        f"dark contra = {events / days:,.0f} events"
    )
    print(f"    => {events / gen_s:,.0f} market events generated per second")


def bench_backtest(runs: int = 5) -> None:
    qty = PARAMS.adv // 10
    print(f"(b) backtest: buy {qty:,} shares (10% ADV) over one day, sliced every minute, all venues")
    cold, warm = [], []
    result = None
    for r in range(runs):
        seed = 77 + r
        market_day.cache_clear()
        result = run_backtest(PARAMS, MinuteSlicer(qty), seed=seed, day=0)
        cold.append(result.wall_time_s)
        result = run_backtest(PARAMS, MinuteSlicer(qty), seed=seed, day=0)
        warm.append(result.wall_time_s)
    assert result is not None
    print(
        f"    wall time per simulated day: cold {statistics.median(cold):.3f} s (median of {runs}, "
        f"day generated inside), warm {statistics.median(warm):.3f} s (day cached)"
    )
    counts = {k.value: n for k, n in result.report_counts().items()}
    by_venue: dict[str, int] = {}
    for f in result.fills:
        by_venue[f.venue] = by_venue.get(f.venue, 0) + f.qty
    avg = result.avg_price("buy")
    print(f"    last run: {len(result.orders):,} orders, {len(result.fills):,} fills, {result.events:,} events, reports {counts}")
    print(
        f"    filled {result.filled_qty('buy'):,} at {avg:.4f}; arrival mid {result.arrival_mid:.4f}; "
        f"market VWAP {result.market_vwap():.4f}; fees {result.fees:,.2f}"
    )
    print(
        f"    slippage vs arrival {result.slippage_bps('buy', result.arrival_mid):+.1f} bps, vs VWAP "
        f"{result.slippage_bps('buy', result.market_vwap()):+.1f} bps (positive = better); "
        f"sigma*sqrt(0.1) = {PARAMS.daily_vol * math.sqrt(0.1) * 1e4:.0f} bps"
    )
    print(f"    shares by venue: {by_venue}")


def bench_shared(parents_list: tuple[int, ...] = (1, 10, 40), seed: int = 5) -> None:
    print("(c) shared simulator: N parents posting passive children and dark pegs into one instrument-day")
    lit = [v.code for v in DEFAULT_VENUES if v.is_lit]
    for parents in parents_list:
        market = Market(PARAMS, seed=seed)
        market.data.generate_all()
        sim = VenueSimulator(market)
        t0 = time.perf_counter()
        for minute in range(60, 330):
            t = minute * 60 * US
            sim.advance(t)
            bbo = market.bbo(t)
            for p in range(parents):
                side, behind = ("buy", "sell")[p % 2], (p // 2) % 3 * PARAMS.tick_size
                price = round(bbo.bid - behind, 2) if side == "buy" else round(bbo.ask + behind, 2)
                sim.submit(OrderRequest(lit[p % len(lit)], side, 300, "limit", price), t, owner=p)
                if minute % 5 == 0:
                    sim.submit(OrderRequest("DRKB", side, 500, "market"), t, owner=p)
        sim.advance(330 * 60 * US)
        wall = time.perf_counter() - t0
        orders = sim.orders()
        print(
            f"    N={parents:3d}: {wall:6.2f} s, {len(orders):,} orders, {len(sim.fills):,} fills, "
            f"{sum(o.is_open for o in orders):,} still resting at 15:00"
        )


if __name__ == "__main__":
    bench_generation()
    bench_backtest()
    bench_shared()
