"""Parents worked by a real Celery worker through Redis, and a worker SIGKILLed while working them: after a
restart (and the sweep re-enqueuing the chains that died with it) every parent completes with the
invariants intact: no fill twice, no over-fill, allocations summing to the parent's fills."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from ems.models import ChildOrder, Fill, ParentOrder
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
