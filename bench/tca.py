"""TCA summary and parent report timings over 10,000 parents and 1,000,000 fills (issue 10 aims: the summary
<= 2 s for each grouping, one parent's report <= 200 ms).

    python bench/tca.py [--parents 10000] [--fills-per-parent 100] [--instruments 20] [--days 25] [--runs 5]
                        [--report-runs 20] [--keep-db]

Against its own database (``smart_oms_bench_tca``, dropped and migrated here; ``--keep-db`` reuses the data
of the last run), the book is generated in the database (``INSERT ... SELECT`` over ``generate_series``, not
through the services: the bench times the reads): closed parents over ``--instruments`` instruments and
``--days`` market days, each with one order (every third parent two orders of two portfolios), ten child
orders over the five simulated venues and ``--fills-per-parent`` fills, the fills allocated to the orders
(about 1.33 allocations a fill), and the stored TCA figures (one ``FillMetrics`` per fill, one ``ParentTCA`` per
parent) that ``tca.services.parent_tca_compute`` would have written. Then it prints, for a trader (who sees
everything):

* ``tca.selectors.summary`` for each ``group_by`` (venue, algorithm, portfolio, period): median of ``--runs``;
* ``tca.selectors.best_execution``: median of ``--runs``;
* ``tca.reports.parent_report`` of one parent: the first call (which rebuilds the instrument-day's market
  with its fills) and the median of ``--report-runs`` calls after it (the rebuilt market is kept per process
  while the day's fills are unchanged).

Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SMART_OMS_DB_NAME"] = os.environ.get("BENCH_TCA_DB", "smart_oms_bench_tca")

from benchdb import django_on_own_database  # noqa: E402

django_on_own_database(keep="--keep-db" in sys.argv)

from decimal import Decimal  # noqa: E402

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from ems.algos import ALGORITHMS  # noqa: E402
from ems.models import ParentOrder, Venue  # noqa: E402
from ems.services import venues_sync_from_sim  # noqa: E402
from ems.sim.clock import US  # noqa: E402
from oms.models import Instrument, Portfolio  # noqa: E402
from tca.models import ParentTCA  # noqa: E402
from tca.reports import parent_report  # noqa: E402
from tca.selectors import best_execution, summary  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

STRATEGIES = tuple(name.value for name in ALGORITHMS)


def generate(args) -> None:
    """Write the book with SQL (see the module docstring)."""
    call_command("migrate", verbosity=0)
    venues_sync_from_sim()
    venue_ids = list(Venue.objects.filter(kind__in=("lit", "dark")).order_by("code").values_list("id", flat=True))
    owner, _ = User.objects.get_or_create(username="bench-tca-owner")
    for i in range(args.instruments):
        Instrument.objects.update_or_create(symbol=f"BT{i:02d}", defaults=dict(
            name=f"Bench TCA {i}", reference_price=Decimal(50 + 7 * i), adv=5_000_000 + 500_000 * i,
            daily_volatility=Decimal("0.02"), spread_bps=Decimal("3"), lot_size=100))
    portfolios = [Portfolio.objects.get_or_create(code=f"BT-PF{i}", defaults={"name": f"Bench {i}"})[0].pk for i in range(5)]
    inst_ids = list(Instrument.objects.filter(symbol__startswith="BT").order_by("symbol").values_list("id", flat=True))
    n, k = args.parents, args.fills_per_parent
    per_child = max(1, k // 10)
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_inst (idx int, id bigint, ref numeric) ON COMMIT DROP")
        cur.executemany("INSERT INTO bench_inst VALUES (%s, %s, %s)",
                        [(i, pk, 50 + 7 * i) for i, pk in enumerate(inst_ids)])
        # Parents: closed (FILLED; every tenth EXPIRED with a quarter left), 10:00 + (g mod 300) min, 20-minute windows.
        cur.execute(f"""
            INSERT INTO ems_parentorder (instrument_id, side, quantity, filled_quantity, reserved_quantity, notional, avg_price, fees,
                order_type, limit_price, urgency, requested_strategy, max_participation, end_time, group_key, strategy, params,
                selection_reason, arrival_price, status, control, market_day, start_us, end_us, last_tick_us, epoch, replan,
                algo_state, driver_state, created_at, updated_at, completed_at)
            SELECT i.id, CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, 1, 0, 0, 0, NULL, 0,
                'market', NULL, 'medium', 'auto', NULL, NULL, 'bench|' || g, (ARRAY{list(STRATEGIES)!r})[1 + g % {len(STRATEGIES)}], '{{}}'::jsonb,
                'bench', round(i.ref * (1 + (random()::numeric - 0.5) * 0.01), 2), CASE WHEN g % 10 = 0 THEN 'EXPIRED' ELSE 'FILLED' END,
                'running', g % {args.days}, (1800 + (g % 300) * 60)::bigint * {US}, (1800 + (g % 300) * 60 + 1200)::bigint * {US},
                (1800 + (g % 300) * 60 + 1200)::bigint * {US}, 1, '', '{{}}'::jsonb, '{{}}'::jsonb, now(), now(), now()
            FROM generate_series(0, {n - 1}) g JOIN bench_inst i ON i.idx = g % {len(inst_ids)}
        """)
        cur.execute("""CREATE TEMP TABLE bench_parent ON COMMIT DROP AS
                       SELECT id, row_number() OVER (ORDER BY id) - 1 AS g, instrument_id, side, arrival_price, market_day, start_us
                       FROM ems_parentorder WHERE group_key LIKE 'bench|%%'""")
        # Orders: one per parent, a second (another portfolio) for every third parent.
        cur.execute(f"""
            INSERT INTO oms_order (client_order_id, source, portfolio_id, instrument_id, side, quantity, order_type, limit_price,
                time_in_force, urgency, strategy, start_time, end_time, max_participation, status, filled_quantity, avg_price,
                notional, reserved_notional, deny_code, deny_reason, created_by_id, created_at, updated_at)
            SELECT 'BT-' || p.id || '-' || o, 'api:bench', (ARRAY{portfolios!r})[1 + (p.g + o) % 5], p.instrument_id, p.side, 1,
                'market', NULL, 'day', 'medium', 'auto', NULL, NULL, NULL, 'FILLED', 0, NULL, 0, 0, '', '', {owner.pk}, now(), now()
            FROM bench_parent p CROSS JOIN generate_series(0, 1) o WHERE o = 0 OR p.g % 3 = 0
        """)
        cur.execute("""INSERT INTO ems_constituent (parent_id, order_id, quantity, allocated_quantity, created_at)
                       SELECT split_part(client_order_id, '-', 2)::bigint, id, 1, 0, now() FROM oms_order WHERE source = 'api:bench'""")
        # Ten children per parent over the venues; fills per child at 100..500 shares (whole hundreds, even).
        cur.execute(f"""
            INSERT INTO ems_childorder (parent_id, epoch, venue_id, client_order_id, venue_order_id, side, order_type, time_in_force,
                price, quantity, kind, status, filled_quantity, notional, avg_price, reason, sent_us, created_at, updated_at)
            SELECT p.id, 1, (ARRAY{venue_ids!r})[1 + (p.g + c) % {len(venue_ids)}], 'BTC-' || p.id || '-' || c,
                'BTV-' || p.id || '-' || c, p.side, 'limit', 'day', NULL, 1, CASE WHEN c % 3 = 0 THEN 'take' ELSE 'passive' END,
                'FILLED', 0, 0, NULL, '', p.start_us, now(), now()
            FROM bench_parent p CROSS JOIN generate_series(0, 9) c
        """)
        cur.execute(f"""
            INSERT INTO ems_fill (exec_id, instrument_id, parent_id, child_id, cross_id, venue_id, side, quantity, price, liquidity, fee,
                allocated_quantity, market_day, market_time_us, executed_at, booked_at)
            SELECT 'BTE-' || c.id || '-' || k, p.instrument_id, p.id, c.id, NULL, c.venue_id, p.side, q.qty,
                round(p.arrival_price * (1 + (random()::numeric - 0.45) * 0.004), 2),
                CASE WHEN v.kind = 'dark' THEN 'mid' WHEN c.kind = 'take' THEN 'taker' ELSE 'maker' END,
                round(q.qty * CASE WHEN c.kind = 'take' THEN 0.003 ELSE -0.002 END, 6), q.qty, p.market_day,
                p.start_us + ((c.id % 10) * {per_child} + k) * 1000000, now(), now()
            FROM ems_childorder c JOIN bench_parent p ON p.id = c.parent_id JOIN ems_venue v ON v.id = c.venue_id
            CROSS JOIN generate_series(1, {per_child}) k
            CROSS JOIN LATERAL (SELECT (200 * (1 + floor(random()::numeric * 3)))::bigint AS qty WHERE k > 0) q
        """)
        # Allocations: a one-order parent gets each fill whole; a two-order parent half each.
        cur.execute("""
            INSERT INTO ems_allocation (fill_id, order_id, parent_id, quantity, price, created_at)
            SELECT f.id, con.order_id, f.parent_id, f.quantity / n.orders, f.price, now()
            FROM ems_fill f JOIN ems_constituent con ON con.parent_id = f.parent_id
            JOIN (SELECT parent_id, count(*) AS orders FROM ems_constituent GROUP BY parent_id) n ON n.parent_id = f.parent_id
            WHERE f.exec_id LIKE 'BTE-%%'
        """)
        # The book's totals from its fills: children, parents (an EXPIRED one had a quarter more to do), orders, constituents.
        cur.execute("""UPDATE ems_childorder c SET quantity = s.q + s.q / 4, filled_quantity = s.q, notional = s.v, avg_price = round(s.v / s.q, 6)
                       FROM (SELECT child_id, sum(quantity) q, sum(quantity * price) v FROM ems_fill WHERE exec_id LIKE 'BTE-%%' GROUP BY child_id) s
                       WHERE c.id = s.child_id""")
        cur.execute("""UPDATE ems_parentorder p SET filled_quantity = s.q, notional = s.v, avg_price = round(s.v / s.q, 6), fees = s.fee,
                           quantity = CASE WHEN p.status = 'EXPIRED' THEN s.q + s.q / 4 ELSE s.q END
                       FROM (SELECT parent_id, sum(quantity) q, sum(quantity * price) v, sum(fee) fee FROM ems_fill
                             WHERE exec_id LIKE 'BTE-%%' GROUP BY parent_id) s WHERE p.id = s.parent_id""")
        cur.execute("""UPDATE oms_order o SET filled_quantity = s.q, quantity = s.q, avg_price = round(s.v / s.q, 6)
                       FROM (SELECT order_id, sum(quantity) q, sum(quantity * price) v FROM ems_allocation GROUP BY order_id) s
                       WHERE o.id = s.order_id""")
        cur.execute("""UPDATE ems_constituent c SET quantity = s.q, allocated_quantity = s.q
                       FROM (SELECT order_id, sum(quantity) q FROM ems_allocation GROUP BY order_id) s WHERE c.order_id = s.order_id""")
        # The stored figures: plausible per-fill metrics, and each parent's row from its fills.
        cur.execute("""
            INSERT INTO tca_fillmetrics (fill_id, mid, spread_bps, effective_spread_bps, spread_capture, markout_1s_bps,
                markout_10s_bps, markout_60s_bps, markout_300s_bps, computed_at)
            SELECT f.id, m.mid, 3, round(2 * abs(f.price - m.mid) / m.mid * 10000, 4), round((random()::numeric * 2 - 1), 4),
                round(((random()::numeric - 0.5) * 2), 4), round(((random()::numeric - 0.5) * 5), 4),
                round(((random()::numeric - 0.5) * 10), 4), round(((random()::numeric - 0.5) * 20), 4), now()
            FROM ems_fill f CROSS JOIN LATERAL (SELECT round(f.price * (1 + (random()::numeric - 0.5) * 0.0004), 6) AS mid) m
            WHERE f.exec_id LIKE 'BTE-%%'
        """)
        cur.execute("""
            INSERT INTO tca_parenttca (parent_id, instrument_id, side, strategy, market_day, start_us, end_us, quantity,
                filled_quantity, avg_price, notional, fees, decision_price, arrival_price, interval_vwap, interval_twap, open_price,
                close_price, prev_close, slippage_arrival_bps, slippage_vwap_bps, slippage_twap_bps, slippage_open_bps,
                slippage_close_bps, slippage_prev_close_bps, is_delay, is_timing, is_impact, is_opportunity, is_fees, is_total,
                participation, computed_at)
            SELECT p.id, p.instrument_id, p.side, p.strategy, p.market_day, p.start_us, p.end_us, p.quantity, p.filled_quantity,
                p.avg_price, p.notional, p.fees, d.dp, p.arrival_price, d.vwap, d.vwap, p.arrival_price, p.arrival_price,
                p.arrival_price, round(s.sg * (p.arrival_price - p.avg_price) / p.arrival_price * 10000, 4),
                round(s.sg * (d.vwap - p.avg_price) / d.vwap * 10000, 4), round(s.sg * (d.vwap - p.avg_price) / d.vwap * 10000, 4),
                0, 0, 0, s.sg * (p.arrival_price - d.dp) * p.filled_quantity, 0, s.sg * (p.notional - p.filled_quantity * p.arrival_price),
                s.sg * (p.quantity - p.filled_quantity) * p.arrival_price * 0.001, p.fees,
                s.sg * (p.notional - p.filled_quantity * d.dp) + s.sg * (p.quantity - p.filled_quantity) * p.arrival_price * 0.001 + p.fees,
                0.05, now()
            FROM ems_parentorder p
            CROSS JOIN LATERAL (SELECT CASE WHEN p.side = 'buy' THEN 1 ELSE -1 END AS sg) s
            CROSS JOIN LATERAL (SELECT round(p.arrival_price * 0.9995, 6) AS dp, round(p.arrival_price * 1.0003, 6) AS vwap) d
            WHERE p.group_key LIKE 'bench|%%'
        """)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"generated in {time.perf_counter() - t0:.1f} s")


def timed(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=10_000)
    parser.add_argument("--fills-per-parent", type=int, default=100)
    parser.add_argument("--instruments", type=int, default=20)
    parser.add_argument("--days", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--report-runs", type=int, default=20)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not (args.keep_db and ParentTCA.objects.exists()):
        generate(args)
    trader = User.objects.filter(username="bench-tca-trader").first() or UserFactory(username="bench-tca-trader", role="trader")
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM ems_parentorder), (SELECT count(*) FROM ems_fill), (SELECT count(*) FROM ems_allocation),"
                    " (SELECT count(*) FROM tca_fillmetrics), (SELECT count(*) FROM tca_parenttca)")
        parents, fills, allocations, metrics, tcas = cur.fetchone()
    print(f"TCA over {parents:,} parents, {fills:,} fills, {allocations:,} allocations, {metrics:,} fill metrics, {tcas:,} parent rows "
          f"({args.instruments} instruments x {args.days} days), as a trader (sees everything)")
    for group_by in ("venue", "algorithm", "portfolio", "period"):
        med, times = timed(lambda g=group_by: summary(user=trader, group_by=g, filters={}), args.runs)
        rows = len(summary(user=trader, group_by=group_by, filters={}))
        print(f"  summary group_by={group_by:9s} {med * 1e3:8.1f} ms median of {args.runs} ({rows} rows; runs: "
              f"{', '.join(f'{t * 1e3:.0f}' for t in times)} ms)")
    med, times = timed(lambda: summary(user=trader, group_by="venue", filters={"instrument": "BT03", "day_from": 5, "day_to": 9}), args.runs)
    print(f"  summary group_by=venue, one instrument, 5 days {med * 1e3:8.1f} ms median of {args.runs}")
    med, times = timed(lambda: best_execution(user=trader, filters={}), args.runs)
    print(f"  best_execution            {med * 1e3:8.1f} ms median of {args.runs} (runs: {', '.join(f'{t * 1e3:.0f}' for t in times)} ms)")
    pid = ParentOrder.objects.filter(group_key__startswith="bench|").order_by("id").values_list("id", flat=True)[args.parents // 2]
    t0 = time.perf_counter()
    report = parent_report(user=trader, parent_id=pid)
    first = time.perf_counter() - t0
    med, times = timed(lambda: parent_report(user=trader, parent_id=pid), args.report_runs)
    print(f"  parent_report (parent {pid}, {report['fills_total']} fills): first {first * 1e3:.1f} ms (rebuilds the "
          f"instrument-day's market with its {ParentOrder.objects.get(pk=pid).instrument.fills.filter(market_day=report['parent']['market_day']).count():,} "
          f"fills), then {med * 1e3:.1f} ms median of {args.report_runs} (min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
