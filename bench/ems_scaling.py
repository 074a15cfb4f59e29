"""The live driver as the day fills up and as workers are added (issue 17): one tick's cost against the day's fills,
and parent-ticks per second over 1 and 2 worker processes.

    python bench/ems_scaling.py [--fills 0,1000,10000,50000] [--ticks 30] [--runs 5] [--step-s 30]
                                [--parents 10,50,200] [--instruments 10] [--procs 1,2] [--seconds 5] [--tp-runs 3]
                                [--speed 60]

Runs on its own database (``smart_oms_bench_scaling``, dropped and migrated at the start) and its own market
clock (``SIM_ANCHOR`` / ``SIM_SPEED`` set in the process, market day 2, at 1x and moved on in steps, so every
tick covers the same market time whatever the box's load; each worker process keeps its own). Ticks are
the production ones (:func:`ems.services.working.instrument.instrument_day_tick`) and enqueue their next tick as
in production, on a Celery queue of this bench's own that nobody consumes (deleted at the end).

1. **Tick cost vs the day's fills** (aim: the 50,000-fill tick within 2x of the empty day's). For each N of
   ``--fills`` one instrument-day (instruments of identical parameters) holds N fills of ours from before 11:00,
   bulk-inserted as the morning left them: closed (FILLED) parents of 50 fills, alternately buying and selling
   and overlapping over the morning, their orders and allocations, child orders of 5 fills each at the lit
   venues (maker at the touch, taker at the far touch) and the broker dark pool (at the mid), distinct exec
   ids, priced off the seeded market. Each also has one working TWAP parent (1 % of ADV from 11:00 over 3 h).
   A first tick builds each market from the database (it replays the N fills); then, ``--ticks`` times, the
   clock moves on ``--step-s`` market seconds and every instrument-day is ticked once (in turn, so all see
   the same market time and the same noise), timing each tick: the steady tick (the market kept in memory).
   ``--runs`` more steps drop the memory copy first (``live_market_discard``): that tick rebuilds the market
   from the database as every tick did before the instrument-day kept it, the old per-tick cost (the tick
   after it is not counted as steady: the new market still generates, lazily, what the rebuild did not touch).
   Printed: medians, the ratio to the empty day, and how each grows per 10,000 fills.
2. **Throughput** (parent-ticks per second: parents advanced, summed over the processes). For each count of
   ``--parents``: that many working TWAP parents spread over ``--instruments`` new instruments; for each count
   of ``--procs``, that many plain worker processes (forked, each with its own database connection and memory)
   split the instruments between them as the leases would (instrument k to process k mod P), take them over
   (one rebuilding tick each, not timed) and then, for ``--seconds`` of wall time, tick their instrument-days
   in rounds as fast as they go, each round moving the market clock on by what one tick covers in a
   ``--speed`` demo (``EMS_TICK_S`` x speed: 30 market s at 60x). Fixed market time per tick keeps every
   tick's work the same; a wall clock at 60x would instead make a process that falls behind cover ever
   longer spans per tick (and never finish a round). Printed: parent-ticks/s, how fast the slowest process
   moved market time against the demo's clock (x demo >= 1: it keeps up), and the share of the time a process
   waited on the audit chain's advisory lock (``pg_stat_activity``, sampled). Median of ``--tp-runs``
   runs (the process counts alternate within a run); the ratio is the most processes to the fewest.

The box is shared: figures are medians, and ratios are to baselines measured in the same run. PostgreSQL
runs on the same cores as the worker processes. Prints figures; asserts nothing about time. The last line is
``tick ratio 50k/0: X.XX`` (the steady tick on the largest day against the empty one).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SMART_OMS_DB_NAME"] = os.environ.get("BENCH_SCALING_DB", "smart_oms_bench_scaling")
# Next ticks go to a queue nobody consumes (deleted at the end); pushes to a channel prefix nobody reads.
os.environ["EMS_QUEUE"] = QUEUE = f"bench-ems-scaling-{os.getpid()}"
os.environ["CHANNELS_PREFIX"] = f"bench-ems-scaling-{os.getpid()}"

from benchdb import close_db_for_fork, django_on_own_database, fresh_channel_layer  # noqa: E402

django_on_own_database()

import logging  # noqa: E402

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from ems.algos.twap import TWAPParams  # noqa: E402
from ems.models import Allocation, ChildOrder, Constituent, Fill, InstrumentDay, ParentOrder, Venue  # noqa: E402
from ems.selectors import instrument_day_market, live_clock  # noqa: E402
from ems.services import venues_sync_from_sim  # noqa: E402
from ems.services.ticks import Worker  # noqa: E402
from ems.services.working.instrument import instrument_day_tick  # noqa: E402
from ems.services.working.live import live_market_discard  # noqa: E402
from ems.sim.clock import SESSION_US, US  # noqa: E402
from ems.states import ExecStatus  # noqa: E402
from oms.models import Instrument, Order, Portfolio  # noqa: E402
from oms.states import OrderStatus  # noqa: E402

logging.getLogger("channels_redis").setLevel(logging.ERROR)  # blotter groups nobody reads fill up

DAY = 2
SOURCE = "api:bench-ems-scaling"
FILLS_PER_PARENT = 50
FILLS_PER_CHILD = 5
HISTORY_VENUES = ("XSMA", "XSMB", "XSMI", "DRKB")  # children in turn: three lit exchanges, the broker dark pool
WORK_START_US = (11 * 3600 - 9 * 3600 - 1800) * US  # 11:00, market time since the 09:30 open
THROUGHPUT_START_US = WORK_START_US + 3600 * US  # 12:00
WINDOW_US = 3 * 3600 * US


# --- the clock ---------------------------------------------------------------------------------------


def clock_set(t_us: int, speed: float) -> None:
    """Put this process's live clock at ``t_us`` of the bench's day now, running at ``speed``."""
    settings.SIM_SPEED = speed
    settings.SIM_ANCHOR = time.time() - (DAY * SESSION_US + t_us) / (speed * US)


def clock_advance(seconds: float) -> None:
    """Move market time on by ``seconds`` at once."""
    settings.SIM_ANCHOR -= seconds / settings.SIM_SPEED


# --- setup -------------------------------------------------------------------------------------------


def prepare() -> tuple[User, Portfolio, Portfolio]:
    call_command("migrate", verbosity=0)
    venues_sync_from_sim()
    user, _ = User.objects.get_or_create(username="bench-ems-scaling")
    working = Portfolio.objects.get_or_create(code="BSC-W", defaults={"name": "Scaling bench: working"})[0]
    history = Portfolio.objects.get_or_create(code="BSC-H", defaults={"name": "Scaling bench: the morning"})[0]
    return user, working, history


def make_instrument(symbol: str) -> Instrument:
    """An instrument of the bench's one set of parameters (only the symbol, and so the seeded path, differs)."""
    return Instrument.objects.create(symbol=symbol, name=f"Scaling bench {symbol}", reference_price=Decimal("50"),
                                     adv=30_000_000, daily_volatility=Decimal("0.02"), spread_bps=Decimal("3"),
                                     tick_size=Decimal("0.01"), lot_size=1)


def working_parent(tag: str, instrument: Instrument, *, user: User, portfolio: Portfolio, side: str, start_us: int) -> ParentOrder:
    """A TWAP parent of 1 % of ADV over one order, from ``start_us`` for 3 h, as aggregation leaves it (not ticked yet)."""
    qty = instrument.adv // 100
    order = Order.objects.create(client_order_id=tag, source=SOURCE, portfolio=portfolio, instrument=instrument, side=side,
                                 quantity=qty, order_type="market", status=OrderStatus.ACCEPTED, created_by=user)
    end = min(SESSION_US, start_us + WINDOW_US)
    params = TWAPParams(side=side, qty=qty, start=start_us, end=end, lot_size=instrument.lot_size, interval_s=20.0)
    parent = ParentOrder.objects.create(
        instrument=instrument, side=side, quantity=qty, group_key=f"bench|{tag}", strategy="twap", params=params.to_dict(),
        selection_reason="bench", arrival_price=instrument.reference_price, market_day=DAY, start_us=start_us, end_us=end,
        last_tick_us=start_us)
    Constituent.objects.create(parent=parent, order=order, quantity=qty)
    return parent


def morning(tag: str, instrument: Instrument, n: int, *, user: User, portfolio: Portfolio, until_us: int) -> None:
    """Bulk-insert ``n`` fills of ours on the instrument-day before ``until_us`` with the closed parents, orders,
    children and allocations they belong to (see the module docstring)."""
    if not n:
        return
    rng = np.random.default_rng(n)
    venues = {v.code: v for v in Venue.objects.all()}
    t = np.sort(rng.integers(60 * US, until_us, n))
    qty = rng.integers(1, 3, n) * 100
    mid = instrument_day_market(instrument, DAY).mids(t)
    half = mid * float(instrument.spread_bps) / 2e4
    n_parents = -(-n // FILLS_PER_PARENT)
    now = timezone.now()
    clock = live_clock()
    # Fill i is parent (i mod n_parents)'s: every parent works across the morning, in time order.
    plan = []
    for p in range(n_parents):
        idx = np.arange(p, n, n_parents)
        side = "buy" if p % 2 == 0 else "sell"
        children = []
        for c, lo in enumerate(range(0, len(idx), FILLS_PER_CHILD)):
            code = HISTORY_VENUES[(p + c) % len(HISTORY_VENUES)]
            venue = venues[code]
            dark = venue.kind == Venue.Kind.DARK
            taker = not dark and (p + c) % 5 >= 3
            away = 0.0 if dark else (1.0 if taker else -1.0) * (1.0 if side == "buy" else -1.0)  # far touch for a taker
            rows = [(int(t[i]), int(qty[i]), Decimal(f"{mid[i] + away * half[i]:.{2 if not dark else 4}f}")) for i in idx[lo:lo + FILLS_PER_CHILD]]
            liquidity = Fill.Liquidity.MID if dark else Fill.Liquidity.TAKER if taker else Fill.Liquidity.MAKER
            fee = venue.mid_fee if dark else venue.taker_fee if taker else venue.maker_fee
            children.append((venue, liquidity, fee, "dark" if dark else "take" if taker else "passive", rows))
        plan.append((side, children))

    def totals(rows):
        q = sum(r[1] for r in rows)
        notional = sum(r[1] * r[2] for r in rows)
        return q, notional, (notional / q).quantize(Decimal("0.000001"))

    parents, orders = [], []
    for p, (side, children) in enumerate(plan):
        rows = [r for *_, cr in children for r in cr]
        q, notional, avg = totals(rows)
        first, last = min(r[0] for r in rows), max(r[0] for r in rows)
        parents.append(ParentOrder(
            instrument=instrument, side=side, quantity=q, filled_quantity=q, notional=notional, avg_price=avg,
            fees=sum(fee * r[1] for _, _, fee, _, cr in children for r in cr), group_key=f"bench|{tag}|{p}", strategy="twap",
            selection_reason="bench: the morning", arrival_price=rows[0][2], status=ExecStatus.FILLED, market_day=DAY,
            start_us=first, end_us=last, last_tick_us=last, completed_at=now))
        orders.append(Order(client_order_id=f"{tag}-{p}", source=SOURCE, portfolio=portfolio, instrument=instrument, side=side,
                            quantity=q, order_type="market", status=OrderStatus.FILLED, filled_quantity=q, avg_price=avg,
                            notional=notional, created_by=user))
    ParentOrder.objects.bulk_create(parents, batch_size=2000)
    Order.objects.bulk_create(orders, batch_size=2000)
    Constituent.objects.bulk_create([Constituent(parent=pa, order=o, quantity=o.quantity, allocated_quantity=o.quantity)
                                     for pa, o in zip(parents, orders, strict=True)], batch_size=2000)
    kids, fills, owners = [], [], []
    for p, (side, children) in enumerate(plan):
        for c, (venue, liquidity, fee, kind, rows) in enumerate(children):
            q, notional, avg = totals(rows)
            kids.append(ChildOrder(
                parent=parents[p], venue=venue, client_order_id=f"H{tag}-P{p}C{c}", venue_order_id=f"H{tag}-P{p}V{c}", side=side,
                order_type="limit", price=rows[-1][2], quantity=q, kind=kind, status=ExecStatus.FILLED, filled_quantity=q,
                notional=notional, avg_price=avg, sent_us=rows[0][0] - 1000))
            for k, (tu, fq, px) in enumerate(rows):
                fills.append(Fill(
                    exec_id=f"H{tag}-P{p}V{c}-X{k}", instrument=instrument, parent=parents[p], venue=venue, side=side, quantity=fq,
                    price=px, liquidity=liquidity, fee=fee * fq, allocated_quantity=fq, market_day=DAY, market_time_us=tu,
                    executed_at=datetime.fromtimestamp(clock.wall_time(DAY, tu), UTC)))
                owners.append((len(kids) - 1, orders[p]))
    ChildOrder.objects.bulk_create(kids, batch_size=5000)
    for f, (k, _) in zip(fills, owners, strict=True):
        f.child = kids[k]
    Fill.objects.bulk_create(fills, batch_size=5000)
    Allocation.objects.bulk_create([Allocation(fill=f, order=o, parent_id=f.parent_id, quantity=f.quantity, price=f.price)
                                    for f, (_, o) in zip(fills, owners, strict=True)], batch_size=5000)


def analyze() -> None:
    with connection.cursor() as cur:
        cur.execute("ANALYZE ems_fill; ANALYZE ems_childorder; ANALYZE ems_parentorder; ANALYZE ems_allocation; "
                    "ANALYZE ems_constituent; ANALYZE oms_order; ANALYZE oms_auditevent; ANALYZE ems_instrumentday")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


# --- 1. tick cost vs the day's fills ----------------------------------------------------------------------


def bench_fills(args, setup) -> float:
    user, working, history = setup
    sizes = [int(x) for x in args.fills.split(",")]
    clock_set(WORK_START_US, 1.0)  # market time follows wall time at 1x; each step moves it on by --step-s at once
    days = []
    t0 = time.perf_counter()
    for n in sizes:
        inst = make_instrument(f"BSC{n}")
        morning(f"M{n}", inst, n, user=user, portfolio=history, until_us=WORK_START_US - 60 * US)
        days.append((n, inst, working_parent(f"W{n}", inst, user=user, portfolio=working, side="buy", start_us=WORK_START_US)))
    analyze()
    print(f"tick cost vs the day's fills: {len(sizes)} instrument-days ({', '.join(f'{n:,}' for n in sizes)} fills of ours before 11:00, "
          f"inserted in {time.perf_counter() - t0:.1f} s) + one working TWAP each; {args.ticks} steady ticks and {args.runs} "
          f"rebuilding ticks per day, {args.step_s:.0f} market s apart", flush=True)
    for _, inst, _ in days:  # the first tick builds each market from the database and plans the parent
        tick(inst)
    steady = {n: [] for n in sizes}
    rebuild = {n: [] for n in sizes}
    work = {n: [0, 0, 0] for n in sizes}  # children sent, fills booked, ticks
    steps = args.ticks + 2 * args.runs
    rebuild_steps = {round((k + 0.5) * steps / args.runs) for k in range(args.runs)}
    for step in range(steps):
        clock_advance(args.step_s)
        for k in range(len(days)):
            n, inst, parent = days[(step + k) % len(days)]  # rotate who goes first: no day always runs on a cold cache
            cold = step in rebuild_steps
            if cold:
                live_market_discard(inst.pk, DAY)
            started = time.perf_counter()
            result = tick(inst)
            took = time.perf_counter() - started
            if result.rebuilt != cold:
                raise SystemExit(f"instrument-day {inst.symbol}: rebuilt={result.rebuilt} on a {'cold' if cold else 'warm'} tick")
            if cold:
                rebuild[n].append(took)
            elif step - 1 not in rebuild_steps:  # right after a rebuild, the market still generates what it had not touched
                steady[n].append(took)
            part = result.parents[parent.pk]
            work[n][0] += part.sent
            work[n][1] += part.fills
            work[n][2] += 1
    base, base_rebuild = statistics.median(steady[sizes[0]]), statistics.median(rebuild[sizes[0]])
    print(f"  {'fills':>7} | {'tick ms (median)':>16} | {'ratio to 0':>10} | {'rebuild ms (old per-tick cost)':>30} | "
          f"{'rebuild / tick':>14} | children sent, fills booked per tick")
    for n in sizes:
        tk, rb = statistics.median(steady[n]), statistics.median(rebuild[n])
        sent, booked, ticks = work[n]
        print(f"  {n:>7,} | {ms(tk):>16} | {tk / base:>10.2f} | {ms(rb):>30} | {rb / tk:>14.1f} | {sent / ticks:.1f}, {booked / ticks:.1f}")
    big = sizes[-1]
    if big:
        tk, rb = statistics.median(steady[big]), statistics.median(rebuild[big])
        print(f"  growth, 0 -> {big:,} fills: steady tick {(tk - base) * 1e4 / big * 1e3:+.2f} ms per 10,000 fills "
              f"(x{tk / base:.2f}); rebuild {(rb - base_rebuild) * 1e4 / big * 1e3:+.1f} ms per 10,000 fills (x{rb / base_rebuild:.2f})")
    return statistics.median(steady[big]) / base


def tick(inst: Instrument):
    result = instrument_day_tick(instrument_id=inst.pk, day=DAY)
    if result is None:
        raise SystemExit(f"instrument-day {inst.symbol}: the tick did nothing (locked or owned elsewhere)")
    return result


# --- 2. throughput over worker processes -------------------------------------------------------------------


def worker_main(k: int, instrument_ids: list[int], start_us: int, step_s: float, go, stop_at, out) -> None:
    """Take the instrument-days over (one tick each), then from ``go`` until ``stop_at`` tick them in rounds, the
    market clock ``step_s`` on at each round."""
    fresh_channel_layer()
    clock_set(start_us, 1.0)
    worker = Worker(f"bench-ems-scaling-w{k}@{os.getpid()}", None)
    for iid in instrument_ids:
        instrument_day_tick(instrument_id=iid, day=DAY, worker=worker)
    out.put(("ready", k))
    go.wait()
    ticks = parents = idle = market_us = 0
    end = stop_at.value
    while time.time() < end:
        clock_advance(step_s)
        for iid in instrument_ids:
            if time.time() >= end:
                break
            result = instrument_day_tick(instrument_id=iid, day=DAY, worker=worker)
            if result is None:
                idle += 1
                continue
            ticks += 1
            parents += len(result.parents)
            market_us = max(market_us, result.market_us)
    out.put(("done", k, ticks, parents, idle, market_us))


def throughput_run(instrument_ids: list[int], procs: int, start_us: int, args) -> dict:
    """``procs`` processes over ``instrument_ids`` for ``args.seconds``: parent-ticks/s, how fast the slowest process
    moved market time against the demo clock, and where market time got to."""
    # Leases as a fresh deployment finds them: free, so each process takes over the instrument-days it is given.
    InstrumentDay.objects.filter(instrument_id__in=instrument_ids, market_day=DAY).update(owner="", owner_queue="", lease_until=None)
    ctx = mp.get_context("fork")
    go, out, stop_at = ctx.Event(), ctx.Queue(), ctx.Value("d", 0.0)
    step_s = settings.EMS_TICK_S * args.speed
    shares = [instrument_ids[k::procs] for k in range(procs)]
    close_db_for_fork()
    workers = [ctx.Process(target=worker_main, args=(k, shares[k], start_us, step_s, go, stop_at, out)) for k in range(procs)]
    for w in workers:
        w.start()
    for _ in workers:
        out.get(timeout=300)
    started = time.time()
    stop_at.value = started + args.seconds
    go.set()
    waiting = []  # per sample: how many of the processes wait on the audit chain's lock (an advisory lock)
    while time.time() < stop_at.value:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'")
            waiting.append(cur.fetchone()[0])
        time.sleep(0.05)
    done = [out.get(timeout=args.seconds + 300) for _ in workers]
    elapsed = time.time() - started
    for w in workers:
        w.join()
    # A process's rounds per wall second, times the market seconds of a round, against the demo's market seconds per
    # wall second: >= 1 keeps every parent ticked every EMS_TICK_S at that speed.
    pace = min(ticks / len(shares[k]) * step_s / (elapsed * args.speed) for _, k, ticks, *_ in done)
    return {"parents": sum(d[3] for d in done) / elapsed, "pace": pace, "idle": sum(d[4] for d in done),
            "market_us": max(d[5] for d in done), "wait": sum(waiting) / max(1, len(waiting)) / procs}


def bench_throughput(args, setup) -> None:
    user, working, _ = setup
    counts = [int(x) for x in args.parents.split(",")]
    procs = [int(x) for x in args.procs.split(",")]
    step_s = settings.EMS_TICK_S * args.speed
    print(f"throughput: working TWAP parents over {args.instruments} instruments; {' and '.join(map(str, procs))} worker processes, "
          f"each ticking its instrument-days in rounds for {args.seconds:.0f} s, every round {step_s:.0f} market s on (a {args.speed:g}x "
          f"demo ticked every EMS_TICK_S = {settings.EMS_TICK_S:g} s); median of {args.tp_runs} runs; {os.cpu_count()} cores shared "
          f"with PostgreSQL, load average at start {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    rows = []
    for n in counts:
        start_us = THROUGHPUT_START_US  # every count starts at 12:00 on instrument-days of its own
        clock_set(start_us, 1.0)
        instruments = [make_instrument(f"BTP{n}-{i}") for i in range(args.instruments)]
        for j in range(n):
            working_parent(f"T{n}-{j}", instruments[j % len(instruments)], user=user, portfolio=working,
                           side="buy" if j % 2 == 0 else "sell", start_us=start_us)
        analyze()
        ids = [i.pk for i in instruments]
        runs = {p: [] for p in procs}
        for r in range(args.tp_runs):
            for p in procs if r % 2 == 0 else procs[::-1]:  # alternate which goes first: drift of the box hits both
                run = throughput_run(ids, p, start_us, args)
                runs[p].append(run)
                start_us = run["market_us"]
        rows.append((n, {p: tuple(statistics.median(x[key] for x in v) for key in ("parents", "pace", "wait")) for p, v in runs.items()},
                     sum(x["idle"] for v in runs.values() for x in v)))
    head = " | ".join(f"{f'{p} process' + ('es' if p > 1 else ''):>31}" for p in procs)
    print(f"  {'parents':>7} | {head} | {f'{procs[-1]}/{procs[0]}':>5}")
    print(f"  {'':>7} | " + " | ".join(f"{'parent-ticks/s (x demo, wait)':>31}" for _ in procs) + " |")
    for n, fig, idle in rows:
        cells = " | ".join(f"{f'{rate:.0f} (x{pace:.2f}, {wait:.0%})':>31}" for rate, pace, wait in (fig[p] for p in procs))
        note = f"   ({idle} ticks found their instrument-day locked or owned elsewhere)" if idle else ""
        print(f"  {n:>7} | {cells} | {fig[procs[-1]][0] / fig[procs[0]][0]:>5.2f}{note}")
    print(f"  x demo: market time the slowest process moved per wall second / the demo's (below 1 it falls behind a {args.speed:g}x "
          "clock); wait: share of the time a process waited on the audit chain's lock (an advisory lock every tick takes "
          "at its first audit row and holds until commit), sampled every 50 ms")


def queue_delete() -> None:
    """Drop the queue the ticks' next ticks went to (nobody consumes it) and the broker's record of it."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fills", default="0,1000,10000,50000", help="fills of ours on each instrument-day (first: the baseline)")
    ap.add_argument("--ticks", type=int, default=30, help="steady ticks timed per instrument-day")
    ap.add_argument("--runs", type=int, default=5, help="rebuilding ticks timed per instrument-day")
    ap.add_argument("--step-s", type=float, default=30, help="market seconds between two ticks")
    ap.add_argument("--parents", default="10,50,200", help="working parents, one throughput row each")
    ap.add_argument("--instruments", type=int, default=10)
    ap.add_argument("--procs", default="1,2", help="worker process counts compared")
    ap.add_argument("--seconds", type=float, default=5, help="wall seconds per throughput measurement")
    ap.add_argument("--tp-runs", type=int, default=3, help="throughput runs (median)")
    ap.add_argument("--speed", type=float, default=60, help="market clock speed during the throughput part")
    args, _ = ap.parse_known_args()  # make bench may pass others' arguments through
    setup = prepare()
    try:
        ratio = bench_fills(args, setup)
        bench_throughput(args, setup)
    finally:
        queue_delete()
    print(f"tick ratio 50k/0: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
