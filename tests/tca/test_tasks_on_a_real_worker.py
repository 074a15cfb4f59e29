"""The TCA beat tasks run the way beat runs them: sent through Redis to a real Celery worker process on the
test database (not called in-process), outside any test transaction."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)



def test_a_worker_computes_closed_parents_and_reconciles_the_book(clock, settings, instrument, portfolio, pm):
    from ems.services import venues_sync_from_sim
    from ems.sim.clock import US
    from ems.states import ExecStatus
    from oms.models import AuditEvent
    from tca.models import FillMetrics, ParentTCA, ReconciliationRun
    from tca.tasks import reconciliation_run, tca_refresh
    from tests.ems import factories as f

    venues_sync_from_sim()
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = f.parent(instrument=instrument, orders=[order], market_day=2, start_us=30 * 60 * US, end_us=40 * 60 * US)
    f.fill(parent=parent, quantity=600, price="100.10", t_us=31 * 60 * US)
    f.fill(parent=parent, quantity=400, price="100.20", t_us=32 * 60 * US)
    parent.refresh_from_db()
    parent.status, parent.last_tick_us = ExecStatus.FILLED, 33 * 60 * US
    parent.save(update_fields=["status", "last_tick_us"])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    # The worker's clock is the test's (day 2, 10:30 market time: the parent stopped 27 minutes ago).
    env = {"DATABASE_URL": database_url(connection.settings_dict), "SIM_ANCHOR": repr(settings.SIM_ANCHOR),
           "SIM_SPEED": repr(settings.SIM_SPEED)}

    with celery_worker(env, queue) as log:
        tca_refresh.apply_async(queue=queue)
        reconciliation_run.apply_async(queue=queue)
        assert wait_for(lambda: ParentTCA.objects.filter(parent=parent).exists() and ReconciliationRun.objects.exists()), \
            log.read_text()[-3000:]
        # The worker logs "succeeded" after the task's transaction commits: wait for both lines, not the rows.
        assert wait_for(lambda: log.read_text().count("succeeded") >= 2), log.read_text()[-3000:]
        worker_log = log.read_text()

    tca = ParentTCA.objects.get(parent=parent)
    assert tca.filled_quantity == 1000 and tca.avg_price is not None
    assert FillMetrics.objects.filter(fill__parent=parent).count() == 2
    run = ReconciliationRun.objects.get()
    assert run.ok, run.breaks
    event = AuditEvent.objects.get(event_type="tca.reconciliation")
    assert event.object_id == str(run.pk) and event.source == "system:tca.reconciliation"
    assert "succeeded" in worker_log and "Traceback" not in worker_log, worker_log[-3000:]
