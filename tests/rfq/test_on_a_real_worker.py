"""The RFQ platform on a real Celery worker through Redis, on the test database: the simulated market makers
answer as ``rfq.tasks.provider_respond`` tasks after their latency (one quotes, one declines, one answers
too late and is refused by the server), the window is closed by ``rfq.tasks.rfq_window_close`` at its end,
and an auto window-end RFQ executes on the quote, allocated to the parent's two orders."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from ems.models import Allocation, Fill
from oms.models import AuditEvent
from rfq.models import RFQ, Dissemination, Quote
from rfq.services import quote_accept, rfq_create
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, check_invariants, working_parent
from tests.rfq.services_helpers import provider
from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def worker_env(settings):
    queue = f"test-rfq-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue  # what this process sends after commit goes to the test's worker only
    MarketClock(settings, speed=1.0)
    env = {"DATABASE_URL": database_url(connection.settings_dict), "SIM_ANCHOR": repr(settings.SIM_ANCHOR), "SIM_SPEED": "1",
           "EMS_QUEUE": queue}
    return queue, env


@pytest.fixture
def working_pooled_parent(instrument, pm, portfolio, other_pm, other_portfolio):
    orders = [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=6_000),
              f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=4_000)]
    return working_parent(instrument=instrument, orders=orders)


def test_the_simulated_makers_answer_on_a_worker_and_the_window_close_auto_executes(worker_env, working_pooled_parent, actor):
    queue, env = worker_env
    provider("MMFAST", latency_ms_median=150)
    provider("MMNONE", response_probability=Decimal("0"))  # declines every request
    provider("MMLATE", latency_ms_median=3_500, latency_ms_sigma=Decimal("0.01"))  # answers after a 1.5 s window

    with celery_worker(env, queue) as log:
        rfq = rfq_create(parent_id=working_pooled_parent.pk, actor=actor, mode="auto", execute_at="window_end", threshold_bps=Decimal("50"),
                         window_s=Decimal("1.5"))
        assert rfq.status == RfqStatus.SENT
        done = wait_for(lambda: not Dissemination.objects.filter(rfq=rfq, response="").exists()
                         and RFQ.objects.get(pk=rfq.pk).status == RfqStatus.EXECUTED)
        worker_log = log.read_text()
    assert done, worker_log[-4000:]

    rfq.refresh_from_db()
    responses = dict(Dissemination.objects.filter(rfq=rfq).values_list("provider__code", "response"))
    assert responses == {"MMFAST": "quoted", "MMNONE": "declined", "MMLATE": "late"}
    fast = Quote.objects.get(rfq=rfq, provider__code="MMFAST")
    late = Quote.objects.get(rfq=rfq, provider__code="MMLATE")
    assert fast.status == QuoteStatus.ACCEPTED and late.status == QuoteStatus.REFUSED
    assert late.received_at >= rfq.window_ends_at  # refused by the server's clock
    assert fast.bid_price < rfq.mid_at_request < fast.ask_price  # a two-way quote around the mid
    assert rfq.executed_quote_id == fast.pk and rfq.executed_price == fast.ask_price and rfq.executed_quantity == 10_000
    fill = Fill.objects.get(parent=working_pooled_parent)
    assert fill.liquidity == "rfq" and fill.venue.code == "RFQ"
    assert sorted(Allocation.objects.filter(fill=fill).values_list("quantity", flat=True)) == [4_000, 6_000]
    closed = AuditEvent.objects.get(object_type="rfq", object_id=str(rfq.pk), event_type="rfq.executed")
    assert closed.source == "system:rfq.rfq_window_close"
    check_invariants(working_pooled_parent)
    assert "rfq.tasks.provider_respond" in worker_log and "rfq.tasks.rfq_window_close" in worker_log
    assert "Traceback" not in worker_log, worker_log[-4000:]


def test_a_trader_clicks_a_quote_that_arrived_from_a_worker(worker_env, working_pooled_parent, actor):
    queue, env = worker_env
    provider("MMA", latency_ms_median=100)
    provider("MMB", latency_ms_median=200)

    with celery_worker(env, queue) as log:
        rfq = rfq_create(parent_id=working_pooled_parent.pk, actor=actor, window_s=Decimal("20"))
        assert wait_for(lambda: Quote.objects.filter(rfq=rfq, status=QuoteStatus.LIVE).count() == 2, 30), log.read_text()[-4000:]
        best = min(Quote.objects.filter(rfq=rfq), key=lambda q: q.price)

        result = quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor)

        worker_log = log.read_text()
    assert result.executed and result.quote.pk == best.pk
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.EXECUTED and Fill.objects.get(parent=working_pooled_parent).price == best.price
    assert "Traceback" not in worker_log, worker_log[-4000:]
