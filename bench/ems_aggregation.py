"""Aggregation of 10,000 accepted orders into parent orders (issue 8; aim < 1 s).

    python bench/ems_aggregation.py [--orders 10000] [--runs 3] [--profile]

Runs on its own database (``smart_oms_bench_aggregation``, dropped and migrated at the start). Each run
submits ``--orders`` orders through the real intake (in bulks of 1,000, not timed), then times one
``aggregation_cycle`` (one transaction, commit included) in two scenarios:

* **aggregate**: buys only over 10 instruments, market and a few limit prices, three urgencies: pure
  grouping, parents, constituents, audit;
* **net + aggregate**: the same with 40 % sells, so every instrument also books an internal cross (its
  fills, allocations, order progress and positions through the OMS lifecycle).

Prints the median (and the first, cold run: the market model of each instrument is built once per process)
and the number of SQL statements of one cycle, and for the aggregate scenario the line with its aim (<= 1 s).
The process's start-up heap is frozen out of the cyclic collector, as the Celery worker's is. Asserts nothing
about time.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMART_OMS_DB_NAME", "smart_oms_bench_aggregation")
# Pushes and Celery messages of the bench stay in its own namespaces: nothing reaches a running app or worker.
os.environ.setdefault("CHANNELS_PREFIX", "bench-aggregation")
os.environ.setdefault("CACHE_KEY_PREFIX", "bench-aggregation")
DISCARD_QUEUE = "bench-aggregation-discard"  # the parents' first ticks go here, and are deleted at the end

from aims import aim  # noqa: E402
from benchdb import django_on_own_database  # noqa: E402

OWN_DATABASE = django_on_own_database()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from ems.selectors import market_prices  # noqa: E402
from ems.services import venues_sync_from_sim  # noqa: E402
from ems.services.aggregation import aggregation_cycle  # noqa: E402
from oms import role_names  # noqa: E402
from oms.models import Instrument, Portfolio  # noqa: E402
from oms.roles import Actor  # noqa: E402
from oms.services import orders_submit  # noqa: E402

ACTOR = Actor.system("aggregation-bench")
AIM_S = 1.0  # issue 18: the aggregate scenario of 10,000 orders
N_INSTRUMENTS = 10


def prepare():
    call_command("migrate", verbosity=0)
    venues_sync_from_sim()
    user, _ = User.objects.get_or_create(username="bench-aggregation")
    user.groups.set([Group.objects.get_or_create(name=role_names.API_CLIENT)[0]])
    portfolio, _ = Portfolio.objects.get_or_create(code="BENCH-AGG", defaults={"name": "Aggregation bench"})
    portfolio.members.add(user)
    instruments = [
        Instrument.objects.get_or_create(symbol=f"AGG{i}", defaults=dict(
            name=f"Aggregation {i}", reference_price=Decimal(50 + 10 * i), adv=5_000_000 + 500_000 * i,
            daily_volatility=Decimal("0.02"), spread_bps=Decimal("3"), tick_size=Decimal("0.01"), lot_size=1))[0]
        for i in range(N_INSTRUMENTS)
    ]
    return user, portfolio, instruments


def submit(user, portfolio, instruments, n: int, run: int, sells: bool) -> None:
    mids = {t.instrument_id: t.mid for t in market_prices(instruments)}
    items = []
    for i in range(n):
        inst = instruments[i % len(instruments)]
        side = "sell" if sells and (i // len(instruments)) % 5 < 2 else "buy"
        item = {"client_order_id": f"R{run}-{int(sells)}-{i}", "portfolio": portfolio.code, "instrument": inst.symbol,
                "side": side, "quantity": 100 * (1 + i % 10), "order_type": "market",
                "urgency": ("low", "medium", "high")[i % 3]}
        if i % 3 == 0:  # a few limit prices per instrument and side
            step = Decimal("0.05") * (1 + i % 4)
            price = mids[inst.id] - step if side == "buy" else mids[inst.id] + step
            item |= {"order_type": "limit", "limit_price": str(price.quantize(Decimal("0.01")))}
        items.append(item)
    actor = Actor.for_user(user, "api")
    for k in range(0, n, 1000):
        results = orders_submit(user=user, actor=actor, items=items[k:k + 1000])
        bad = [r.error for r in results if r.outcome != "created"]
        if bad:
            raise SystemExit(f"intake refused bench orders: {bad[:3]}")


def timed_cycle(count_queries: bool):
    if count_queries:
        with CaptureQueriesContext(connection) as q:
            result = aggregation_cycle(actor=ACTOR)
        return None, result, len(q.captured_queries)
    t0 = time.perf_counter()
    result = aggregation_cycle(actor=ACTOR)
    return time.perf_counter() - t0, result, None


def _discard_sent_tasks() -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(DISCARD_QUEUE)


def main() -> int:
    from celery import current_app

    current_app.conf.task_default_queue = DISCARD_QUEUE
    try:
        return _main()
    finally:
        _discard_sent_tasks()


def _main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile one extra run of each scenario")
    ap.add_argument("--only", choices=["aggregate", "net"], help="run one scenario")
    args = ap.parse_args()
    user, portfolio, instruments = prepare()
    # The worker freezes its start-up heap once ready (config/celery.py): the cycle runs here as it runs there.
    gc.freeze()
    run = 0
    for label, sells in (("aggregate", False), ("net + aggregate", True)):
        if args.only and args.only != label.split()[0]:
            continue
        times, result = [], None
        for _ in range(args.runs):
            run += 1
            submit(user, portfolio, instruments, args.orders, run, sells)
            elapsed, result, _ = timed_cycle(False)
            if result.candidates != args.orders:
                raise SystemExit(f"expected {args.orders} candidates, got {result.candidates}")
            times.append(elapsed)
        run += 1
        submit(user, portfolio, instruments, args.orders, run, sells)
        _, counted, queries = timed_cycle(True)
        print(f"{label:16s} {args.orders:,} orders: median {statistics.median(times) * 1000:.0f} ms "
              f"(runs {', '.join(f'{t * 1000:.0f}' for t in times)} ms; first run builds the market models) | "
              f"{queries} SQL statements | {len(counted.parents)} parents, {len(counted.crosses)} crosses, "
              f"{counted.crossed_quantity:,} shares crossed, {counted.filled_by_cross:,} orders filled by a cross", flush=True)
        if not sells:
            median = statistics.median(times)
            aim("aggregation", f"{median:.2f} s for {args.orders:,} orders (median of {args.runs})", f"<= {AIM_S:g} s", median <= AIM_S)
        if args.profile:
            import cProfile
            import pstats

            run += 1
            submit(user, portfolio, instruments, args.orders, run, sells)
            prof = cProfile.Profile()
            prof.enable()
            aggregation_cycle(actor=ACTOR)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    return 0


if __name__ == "__main__":
    sys.exit(main())
