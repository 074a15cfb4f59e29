"""Parents worked by a real Celery worker through Redis, and a worker SIGKILLed while working them: after a
restart (and the sweep re-enqueuing the chains that died with it) every parent completes with the
invariants intact: no fill twice, no over-fill, allocations summing to the parent's fills."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from ems.models import ChildOrder, Fill, InstrumentDay, ParentOrder
from ems.selectors import live_clock
from ems.services.ticks import instrument_days_sweep, parent_tick_enqueue
from ems.states import ExecStatus
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, check_invariants, working_parent
from tests.servers import celery_worker_start, database_url, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _all_closed(ids) -> bool:
    return not ParentOrder.objects.filter(pk__in=ids, status__in=ExecStatus.open()).exists() and not ChildOrder.objects.filter(
        parent_id__in=ids, status__in=ExecStatus.open()).exists()


@pytest.fixture
def live(settings):
    queue = f"test-live-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue
    settings.EMS_STALE_TICK_S = 1.0
    clock = MarketClock(settings, speed=60.0)
    env = {"DATABASE_URL": database_url(connection.settings_dict), "SIM_ANCHOR": repr(settings.SIM_ANCHOR),
           "SIM_SPEED": "60", "EMS_QUEUE": queue, "EMS_TICK_S": "0.2", "EMS_LEASE_S": "1"}
    return queue, env, clock


def _parents(instrument, other_instrument, portfolio, other_portfolio, pm, other_pm):
    t = live_clock().market_time().t_us
    specs = [
        (instrument, portfolio, pm, "buy", 20_000, "twap"),
        (instrument, other_portfolio, other_pm, "sell", 15_000, "vwap"),
        (other_instrument, portfolio, pm, "buy", 12_000, "pov"),
    ]
    out = []
    for inst, pf, user, side, qty, strategy in specs:
        orders = [f.order(portfolio=pf, instrument=inst, user=user, side=side, quantity=qty // 2),
                  f.order(portfolio=pf, instrument=inst, user=user, side=side, quantity=qty - qty // 2)]
        out.append(working_parent(instrument=inst, orders=orders, strategy=strategy, start_us=t, window_s=15 * 60,
                                  **({"max_participation": 0.5} if strategy == "pov" else {})))
    return out


def _finish(ids, env, queue, timeout_s=120):
    proc, log = celery_worker_start(env, queue)

    def closed() -> bool:
        if _all_closed(ids):
            return True
        instrument_days_sweep()  # what beat does every 2 s: restart the chains that died with the killed worker
        return False

    try:
        assert wait_for(closed, timeout_s, every_s=1.0), log.read_text()[-4000:]
        return log.read_text()
    finally:
        stop(proc)


def _check(ids):
    for parent in ParentOrder.objects.filter(pk__in=ids):
        check_invariants(parent)
        assert parent.status in (ExecStatus.FILLED, ExecStatus.EXPIRED), parent.status
        for con in parent.constituents.select_related("order"):
            assert con.order.status in (OrderStatus.FILLED, OrderStatus.EXPIRED)
    exec_ids = list(Fill.objects.filter(parent_id__in=ids).values_list("exec_id", flat=True))
    assert exec_ids and len(exec_ids) == len(set(exec_ids))


def test_a_real_worker_works_parents_to_completion(live, instrument, other_instrument, portfolio, other_portfolio, pm, other_pm):
    queue, env, clock = live
    ids = [p.pk for p in _parents(instrument, other_instrument, portfolio, other_portfolio, pm, other_pm)]
    for pid in ids:
        parent_tick_enqueue(pid, countdown=0)  # outside a transaction: sent at once
    log = _finish(ids, env, queue)
    _check(ids)
    assert "Traceback" not in log, log[-4000:]
    # The schedules (TWAP, VWAP) finish by their end; POV may expire capped by the market's volume.
    assert ParentOrder.objects.filter(pk__in=ids[:2], status=ExecStatus.FILLED).count() == 2
    assert all(p.filled_quantity > 0 for p in ParentOrder.objects.filter(pk__in=ids))


@pytest.mark.parametrize("run", [1, 2, 3])
def test_a_worker_killed_mid_work_loses_nothing_after_restart(run, live, instrument, other_instrument, portfolio, other_portfolio,
                                                              pm, other_pm):
    queue, env, clock = live
    ids = [p.pk for p in _parents(instrument, other_instrument, portfolio, other_portfolio, pm, other_pm)]
    for pid in ids:
        parent_tick_enqueue(pid, countdown=0)
    for kill in range(2):
        proc, _ = celery_worker_start(env, queue)
        wait_for(lambda: ChildOrder.objects.filter(parent_id__in=ids).exists(), 30)
        time.sleep(0.4 * run + 0.3 * kill)  # working: somewhere in the middle of a tick, most likely
        proc.kill()  # SIGKILL: no clean shutdown, the running tick's transaction dies with it
        proc.wait()
        for parent in ParentOrder.objects.filter(pk__in=ids):
            check_invariants(parent)  # what was committed before the kill is consistent
        # The killed worker's tick messages stay unacknowledged (acks_late): once a parent's last tick is older than
        # EMS_STALE_TICK_S (1 s) the sweep restarts its chain. Polled, not slept: a loaded machine may need longer.
        assert wait_for(instrument_days_sweep, 15, every_s=0.2)  # the window (15 market minutes = 15 s) outlasts both kills
    assert ChildOrder.objects.filter(parent_id__in=ids).exists()
    _finish(ids, env, queue)
    _check(ids)


def _twenty_parents(instruments, portfolios, users):
    """20 parents over 3 instruments, both sides, every algorithm: 7 + 7 + 6 on one instrument-day each."""
    t = live_clock().market_time().t_us
    strategies = ["twap", "vwap", "pov", "is", "twap", "vwap", "direct"]
    out = []
    for k in range(20):
        inst = instruments[k % 3]
        pf, user = portfolios[k % 2], users[k % 2]
        side = "buy" if k % 4 in (0, 1) else "sell"
        strategy = strategies[k % len(strategies)]
        qty = 2_000 + 500 * (k % 5)
        orders = [f.order(portfolio=pf, instrument=inst, user=user, side=side, quantity=qty // 2),
                  f.order(portfolio=pf, instrument=inst, user=user, side=side, quantity=qty - qty // 2)]
        out.append(working_parent(instrument=inst, orders=orders, strategy=strategy, start_us=t, window_s=20 * 60,
                                  **({"max_participation": 0.5} if strategy == "pov" else {})))
    return out


def test_twenty_parents_on_three_instruments_two_workers_one_killed_mid_tick(live, instrument, other_instrument, portfolio,
                                                                              other_portfolio, pm, other_pm):
    """Two workers share three instrument-days; the one owning the most is SIGKILLed while it ticks them. The
    survivor takes its instrument-days over (rebuilding their markets from the database) and every parent
    completes: nothing filled twice, allocations sum to fills, the audit chain verifies."""
    from oms.services.audit_verification import audit_verify
    from tests.factories import InstrumentFactory

    queue, env, clock = live
    third = InstrumentFactory(symbol="GAMA", reference_price="80.00", adv=8_000_000)
    workers = [celery_worker_start(env, queue) for _ in range(2)]  # first: the parents' window starts when they exist
    try:
        parents = _twenty_parents([instrument, other_instrument, third], [portfolio, other_portfolio], [pm, other_pm])
        ids = [p.pk for p in parents]
        days = {(p.instrument_id, p.market_day) for p in parents}
        for pid in ids:
            parent_tick_enqueue(pid, countdown=0)
        # Both workers own instrument-days (each takes requests from the shared queue while the other is busy).
        assert wait_for(lambda: InstrumentDay.objects.filter(owner__gt="").count() == 3, 30)
        wait_for(lambda: len(set(InstrumentDay.objects.values_list("owner", flat=True))) == 2, 10)
        owners = list(InstrumentDay.objects.values_list("owner", flat=True))
        victim_name = max(set(owners), key=owners.count)
        victim = next(w for w in workers if victim_name in w[1].read_text())
        wait_for(lambda: Fill.objects.filter(parent_id__in=ids).count() >= 20, 30)
        victim[0].kill()  # SIGKILL: no clean shutdown, the running tick's transaction dies with it
        victim[0].wait()
        orphaned = {(r.instrument_id, r.market_day) for r in InstrumentDay.objects.filter(owner=victim_name)}
        open_days = set(ParentOrder.objects.filter(pk__in=ids, status__in=ExecStatus.open()).values_list("instrument_id", "market_day"))
        for parent in ParentOrder.objects.filter(pk__in=ids):
            check_invariants(parent)  # what was committed before the kill is consistent
        survivor = next(w for w in workers if w is not victim)

        def closed() -> bool:
            if _all_closed(ids):
                return True
            instrument_days_sweep()  # what beat does every 2 s: after the lease runs out, the survivor takes over
            return False

        assert wait_for(closed, 120, every_s=1.0), survivor[1].read_text()[-4000:]
    finally:
        for proc, _ in workers:
            stop(proc)
    _check(ids)
    rows = InstrumentDay.objects.filter(instrument_id__in=[k[0] for k in days])
    assert {(r.instrument_id, r.market_day) for r in rows} == days
    moved = orphaned & open_days  # the killed worker's instrument-days that still had work
    assert moved and sum(r.takeovers for r in rows) >= len(moved), (orphaned, open_days, owners, victim_name)
    assert not any(r.owner == victim_name for r in rows if (r.instrument_id, r.market_day) in moved)  # on the survivor now
    # Every row the two workers wrote is in the trail, the killed one's last commit included, awaiting the sealer (none
    # runs here). (The verifier also reports the factories' orders and parents, made without their creation events:
    # not what this test is about.)
    verified = audit_verify(write_checkpoint=False)
    assert verified.broken_seq is None and verified.unsealed + verified.tree_size > 1_000, verified
    assert verified.ok or verified.problem.startswith(("40 order(s) have no creation event", "20 parent")), verified
