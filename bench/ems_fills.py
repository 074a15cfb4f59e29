"""Fills booked per second through the booking service (issue 18 aim: >= 2,000 fills/s).

    python bench/ems_fills.py [--fills 3000] [--single-fills 500] [--constituents 20] [--children 50] [--batch 25]
                              [--runs 3] [--lot 1] [--modes single,batch] [--processes 1,2]

Against its own database (``smart_oms_bench_fills``, dropped and migrated here), each run builds a working
parent of ``--constituents`` orders (five portfolios) with ``--children`` child orders, then books
executions of 100..500 shares at prices around 100:

* ``--single-fills`` one by one through ``fill_book`` (one transaction per fill: a report arriving alone);
* ``--fills`` in batches of ``--batch`` through ``fills_book`` (one transaction per batch: what the live driver does
  with the executions one tick of a parent produces), from each number of processes in ``--processes`` at once
  (forked, each booking its own parent's fills, as workers owning different instrument-days do): fills/s is all
  of them over the wall time from the common start to the last one done.

Every fill is allocated at once to all constituents it reaches (lot 1: every one of them), applied to the
orders and positions, and audited, exactly as in production (one "fill.booked" event per fill with its
allocations and the positions it left). Prints the median fills/s of the runs, and the aim's line for the
best of the batched figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SMART_OMS_DB_NAME"] = os.environ.get("BENCH_FILLS_DB", "smart_oms_bench_fills")

from aims import aim  # noqa: E402
from benchdb import close_db_for_fork, django_on_own_database, fresh_channel_layer  # noqa: E402

django_on_own_database(keep="--keep-db" in sys.argv)

import logging  # noqa: E402

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from ems.models import ChildOrder, Constituent, ParentOrder, Venue  # noqa: E402
from ems.services.booking import Execution, fill_book, fills_book  # noqa: E402
from ems.states import ExecStatus  # noqa: E402
from oms.models import Instrument, Order, Portfolio  # noqa: E402
from oms.roles import Actor  # noqa: E402
from oms.states import OrderStatus  # noqa: E402

ACTOR = Actor.system("bench")
# The pushes go out as in production; a blotter group nobody reads in this Redis fills up and would log each send.
logging.getLogger("channels_redis").setLevel(logging.ERROR)


def prepare(lot: int) -> tuple[User, Instrument, list[Portfolio], Venue]:
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-fills")
    instrument, _ = Instrument.objects.update_or_create(
        symbol="BFILL", defaults=dict(name="Bench fills", reference_price=Decimal("100"), adv=50_000_000,
                                      daily_volatility=Decimal("0.02"), spread_bps=Decimal("2"), lot_size=lot))
    portfolios = [Portfolio.objects.get_or_create(code=f"BF-{i}", defaults={"name": f"Bench {i}"})[0] for i in range(5)]
    venue, _ = Venue.objects.get_or_create(code="XSMA", defaults={"name": "Bench lit", "kind": Venue.Kind.LIT})
    return user, instrument, portfolios, venue


def _drop_copy_session() -> None:
    """A drop-copy session for a compliance user (every portfolio): the FIX outbox's cost on the fill path."""
    from django.contrib.auth.models import Group

    from fix.models import FixSession, SessionKind
    from oms.role_names import COMPLIANCE

    officer, _ = User.objects.get_or_create(username="bench-compliance")
    officer.groups.add(Group.objects.get_or_create(name=COMPLIANCE)[0])
    FixSession.objects.get_or_create(sender_comp_id="SMART", target_comp_id="BENCHCOPY",
                                     defaults={"user": officer, "kind": SessionKind.DROP_COPY})
    print("with a FIX drop-copy session of compliance: one outbox row per fill and order")


def build(run: str, *, user, instrument, portfolios, venue, constituents: int, children: int, quantity: int, rng) -> list[int]:
    """A working parent over ``constituents`` orders sized to take ``quantity`` shares; its children's ids."""
    sizes = [rng.randrange(20, 100) for _ in range(constituents)]
    per = -(-quantity // sum(sizes))  # every order a multiple of its size, all together at least ``quantity``
    lot = instrument.lot_size
    orders = [Order.objects.create(
        client_order_id=f"{run}-{i}", source="api:bench-fills", portfolio=portfolios[i % len(portfolios)], instrument=instrument,
        side="buy", quantity=-(-s * per // lot) * lot, order_type="market", status=OrderStatus.ACCEPTED, created_by=user,
    ) for i, s in enumerate(sizes)]
    total = sum(o.quantity for o in orders)
    parent = ParentOrder.objects.create(
        instrument=instrument, side="buy", quantity=total, group_key=f"bench|{run}", strategy="twap", params={},
        arrival_price=Decimal("100"), market_day=0, start_us=0, end_us=23_400_000_000, last_tick_us=0,
    )
    Constituent.objects.bulk_create([Constituent(parent=parent, order=o, quantity=o.quantity) for o in orders])
    per_child = -(-total // children)
    kids = ChildOrder.objects.bulk_create([ChildOrder(
        parent=parent, venue=venue, client_order_id=f"{run}-C{k}", venue_order_id=f"{run}-V{k}", side="buy",
        order_type="limit", price=Decimal("101"), quantity=per_child, kind="passive", status=ExecStatus.ACCEPTED, sent_us=0,
    ) for k in range(children)])
    with connection.cursor() as cur:
        cur.execute("ANALYZE ems_fill; ANALYZE ems_allocation; ANALYZE oms_order; ANALYZE oms_auditevent; ANALYZE oms_position")
    return [c.pk for c in kids]


def executions(run: str, child_ids: list[int], n: int, rng) -> list[tuple[int, Execution]]:
    out = []
    for i in range(n):
        out.append((child_ids[i % len(child_ids)], Execution(
            exec_id=f"{run}-E{i}", venue_code="XSMA", side="buy", quantity=rng.randrange(100, 501),
            price=Decimal(f"{100 + rng.uniform(-0.5, 0.5):.2f}"), liquidity="maker", fee=Decimal("-0.20"),
            market_day=0, market_time_us=1_000_000 + i,
        )))
    return out


def measure(mode: str, args, setup, rng, run: str) -> float:
    n = args.single_fills if mode == "single" else args.fills
    child_ids = build(run, constituents=args.constituents, children=args.children, quantity=n * 500, rng=rng, **setup)
    work = executions(run, child_ids, n, rng)
    t0 = time.perf_counter()
    if mode == "single":
        for child_id, ex in work:
            fill_book(child_id=child_id, execution=ex, actor=ACTOR)
    else:
        book_batches(work, args.batch)
    return len(work) / (time.perf_counter() - t0)


def book_batches(work, batch: int) -> None:
    for i in range(0, len(work), batch):
        fills_book(executions=work[i:i + batch], actor=ACTOR)


def _booker(args, setup, seed: int, run: str, start, done) -> None:
    fresh_channel_layer()
    rng = random.Random(seed)
    child_ids = build(run, constituents=args.constituents, children=args.children, quantity=args.fills * 500, rng=rng, **setup)
    work = executions(run, child_ids, args.fills, rng)
    start.wait()
    t0 = time.time()
    book_batches(work, args.batch)
    done.put((t0, time.time(), len(work)))


def measure_processes(processes: int, args, setup, run: str) -> float:
    """Fills/s of ``processes`` forked bookers at once, each on a parent of its own."""
    ctx = mp.get_context("fork")
    start, done = ctx.Barrier(processes), ctx.Queue()
    close_db_for_fork()
    procs = [ctx.Process(target=_booker, args=(args, setup, 1000 + k, f"{run}p{k}", start, done)) for k in range(processes)]
    for p in procs:
        p.start()
    results = [done.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return sum(n for _, _, n in results) / (max(t1 for _, t1, _ in results) - min(t0 for t0, _, _ in results))


def _run_name(mode: str, r: int) -> str:
    return f"{mode[0].upper()}{r}-{int(time.time() * 1000) % 10**8}"


def _print_rates(label: str, rates: list[float]) -> float:
    med = statistics.median(rates)
    print(f"  {label:48s} {med:8.0f} fills/s  ({1e3 / med:.2f} ms/fill; runs: {', '.join(f'{r:.0f}' for r in rates)})", flush=True)
    return med


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=3000)
    parser.add_argument("--single-fills", type=int, default=500)
    parser.add_argument("--constituents", type=int, default=20)
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lot", type=int, default=1)
    parser.add_argument("--modes", default="single,batch")
    parser.add_argument("--processes", default="1,2", help="booking processes at once, for the batched figures")
    parser.add_argument("--drop-copy", action="store_true",
                        help="with a compliance FIX drop-copy session: every fill to every order writes an outbox row")
    args, _ = parser.parse_known_args()  # bench/ems.py passes its own arguments through
    user, instrument, portfolios, venue = prepare(args.lot)
    if args.drop_copy:
        _drop_copy_session()
    setup = dict(user=user, instrument=instrument, portfolios=portfolios, venue=venue)
    rng = random.Random(20261126)
    print(f"fill booking: {args.single_fills} single / {args.fills} batched fills per run, parent of {args.constituents} constituents (lot {args.lot}), "
          f"{args.children} children, {args.runs} runs (median)")
    batched = {}
    for mode in args.modes.split(","):
        if mode == "single":
            rates = [measure(mode, args, setup, rng, _run_name(mode, r)) for r in range(args.runs)]
            _print_rates("fill_book, one transaction per fill", rates)
            continue
        for processes in [int(p) for p in args.processes.split(",")]:
            if processes == 1:
                rates = [measure(mode, args, setup, rng, _run_name(mode, r)) for r in range(args.runs)]
            else:
                rates = [measure_processes(processes, args, setup, _run_name(mode, r)) for r in range(args.runs)]
            batched[processes] = _print_rates(f"fills_book, batches of {args.batch}, {processes} process{'es' if processes > 1 else ''}", rates)
    if batched:
        best = max(batched, key=batched.get)
        aim("fills", f"{batched[best]:,.0f} fills/s ({args.batch} per transaction, {best} booking process{'es' if best > 1 else ''})",
            ">= 2,000 fills/s", batched[best] >= 2000,
            note=", ".join(f"{p} process{'es' if p > 1 else ''}: {r:,.0f}/s" for p, r in sorted(batched.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
