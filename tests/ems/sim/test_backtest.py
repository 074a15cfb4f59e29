import numpy as np
import pytest

from ems.algos.backtest import Strategy, run_backtest
from ems.sim.clock import SESSION_US, US
from ems.sim.market import InstrumentParams
from ems.sim.orders import ReportKind, Side

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)


class Mixed(Strategy):
    """Every 5 minutes: a marketable IOC on the lit venue with most at the touch, passive bids, a dark ping."""

    def __init__(self):
        self.log = []

    def on_start(self, ctx):
        ctx.set_timer(300)
        self.log.append(("start", ctx.now))

    def on_timer(self, ctx):
        self.log.append(("timer", ctx.now))
        books = ctx.snapshots()
        code, book = max(books.items(), key=lambda kv: kv[1].best_ask.size)
        ctx.place(code, Side.BUY, 500, price=book.best_ask.price, tif="ioc")
        bid = books["XSMB"].best_bid.price
        ctx.place("XSMB", Side.BUY, 300, price=bid)
        ctx.place("XSMA", Side.BUY, 300, price=round(bid - 2.0, 2))  # far below: still working at the end
        ctx.place("DRKB", Side.BUY, 400, tif="ioc")

    def on_report(self, ctx, report):
        assert ctx.now == report.time
        self.log.append((report.kind.value, ctx.now))


def test_same_seed_same_fills_reports_and_tape():
    a = run_backtest(ACME, Mixed(), seed=3, start=600 * US, end=7_200 * US)
    b = run_backtest(ACME, Mixed(), seed=3, start=600 * US, end=7_200 * US)
    assert a.fills and a.fills == b.fills
    assert a.reports == b.reports
    for name in ("time", "venue", "price", "size", "side"):
        assert np.array_equal(getattr(a.tape.prints, name), getattr(b.tape.prints, name))
    assert np.array_equal(a.tape.quotes.bid, b.tape.quotes.bid)
    c = run_backtest(ACME, Mixed(), seed=4, start=600 * US, end=7_200 * US)
    assert [f.price for f in c.fills] != [f.price for f in a.fills]


def test_timers_fire_on_time_and_reports_arrive_in_time_order():
    strategy = Mixed()
    result = run_backtest(ACME, strategy, seed=1, start=0, end=1_800 * US)
    timers = [t for kind, t in strategy.log if kind == "timer"]
    assert timers == [300 * US * k for k in range(1, 6)]  # 1800 s is the end: no timer there
    times = [t for _, t in strategy.log]
    assert times == sorted(times)
    assert all(r.time >= r.transact_time for r in result.reports)
    kinds = result.report_counts()
    assert kinds[ReportKind.ACK] == 20 and kinds.get(ReportKind.FILL, 0) > 0
    # passive bids still working at the end are reported as open orders
    assert any(o.is_open for o in result.orders)


def test_result_benchmarks_and_sign_convention():
    result = run_backtest(ACME, Mixed(), seed=2, start=0, end=3_600 * US)
    avg = result.avg_price(Side.BUY)
    assert result.filled_qty(Side.BUY) == sum(f.qty for f in result.fills)
    assert result.slippage_bps(Side.BUY, avg + 0.10) > 0  # bought below the benchmark: better
    assert result.slippage_bps(Side.BUY, avg - 0.10) < 0
    assert result.avg_price(Side.SELL) is None and result.slippage_bps(Side.SELL, 100.0) is None
    assert result.market_vwap() == pytest.approx(result.market.vwap(0, 3_600 * US))
    assert result.arrival_mid == pytest.approx(result.market.data.mid[0])
    assert result.fees == pytest.approx(sum(f.fee for f in result.fills))


class Peeker(Strategy):
    def on_start(self, ctx):
        ctx.wake_at(0)  # in the past: fires at once

    def on_timer(self, ctx):
        prints = ctx.prints(0)
        assert len(prints) > 0 and prints.time.max() < ctx.now
        assert ctx.market_volume(0) == prints.size.sum()
        if ctx.now >= 240 * US:  # timers at 60 s, 150 s, 240 s
            ctx.stop()
        else:
            ctx.wake_at(ctx.now + 90 * US)


def test_context_shows_only_the_past_and_stop_ends_the_run():
    result = run_backtest(ACME, Peeker(), seed=1, start=60 * US, end=SESSION_US)
    assert result.events == 3 and not result.fills


def test_run_backtest_checks_its_window():
    with pytest.raises(ValueError):
        run_backtest(ACME, Strategy(), start=10 * US, end=10 * US)


class Counter(Strategy):
    """Counts its timers in a JSON state; from_state rebuilds it (the restart contract of run_backtest)."""

    def __init__(self, state=None):
        self.s = state or {"timers": 0, "orders": 0}
        self.restored = state is not None

    def state(self):
        return self.s

    @classmethod
    def from_state(cls, state):
        return cls(state)

    def on_start(self, ctx):
        ctx.set_timer(60)

    def on_timer(self, ctx):
        self.s["timers"] += 1
        if self.s["timers"] % 5 == 0:
            self.s["orders"] += 1
            ctx.place("XSMA", Side.BUY, 100)


def test_restore_at_swaps_in_a_copy_rebuilt_from_json_and_carries_on():
    straight = run_backtest(ACME, Counter(), seed=1, start=0, end=1_800 * US)
    first = Counter()
    restarted = run_backtest(ACME, first, seed=1, start=0, end=1_800 * US, restore_at=900 * US)
    assert restarted.strategy is not first and restarted.strategy.restored
    assert restarted.strategy.s == straight.strategy.s == {"timers": 29, "orders": 5}
    assert restarted.fills == straight.fills
