"""A trader's four-leg package on a real Celery worker through Redis (issue 22, item 3, "how it is checked"): the
simulated market makers price the package as ``rfq.tasks.provider_respond`` tasks after their own latencies, net
quotes arrive one after another, one accept books every leg (fills, allocations, positions per leg), the
portfolio's Greeks move, and the audit chain verifies."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from ems.models import Fill
from ems.selectors import greeks_by_underlying, position_marks
from oms.models import AuditEvent, Position
from oms.services import audit_verify
from rfq.models import Quote
from rfq.services import quote_accept
from rfq.states import QuoteStatus, RfqStatus
from tests.ems.live_helpers import MarketClock
from tests.rfq.package_helpers import chain, four_legs, package_for
from tests.rfq.services_helpers import provider
from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_env(settings, venues):
    queue = f"test-pkg-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue
    MarketClock(settings, speed=1.0)
    env = {"DATABASE_URL": database_url(connection.settings_dict), "SIM_ANCHOR": repr(settings.SIM_ANCHOR), "SIM_SPEED": "1",
           "EMS_QUEUE": queue}
    return queue, env


def test_a_four_leg_package_gets_net_quotes_from_several_makers_and_one_accept_books_every_leg(
        worker_env, instrument, trader, portfolio, actor):
    queue, env = worker_env
    options = chain(instrument)
    provider("MMFAST", latency_ms_median=100, base_spread_bps=Decimal("25"), seed=1)
    provider("MMMID", latency_ms_median=700, base_spread_bps=Decimal("15"), seed=2)
    provider("MMSLOW", latency_ms_median=1500, base_spread_bps=Decimal("40"), seed=3)

    with celery_worker(env, queue) as log:
        rfq = package_for(trader, portfolio, four_legs(instrument, options), quantity=10, window_s="20")
        assert wait_for(lambda: Quote.objects.filter(rfq=rfq, status=QuoteStatus.LIVE).count() == 3, 30), log.read_text()[-4000:]
        quotes = list(Quote.objects.filter(rfq=rfq).order_by("received_at"))
        assert [q.provider.code for q in quotes] == ["MMFAST", "MMMID", "MMSLOW"]  # over time, as their latencies say
        best = min(quotes, key=lambda q: q.price)
        assert best.provider.code == "MMMID"  # the tightest

        result = quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor)
        worker_log = log.read_text()

    assert result.executed
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.EXECUTED
    legs = list(rfq.legs.select_related("instrument"))
    assert sum((leg.sign * leg.weight * leg.executed_price for leg in legs), Decimal(0)) == best.price
    assert Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-Q{best.pk}-L").count() == 4
    held = {p.instrument.symbol: p.quantity for p in Position.objects.filter(portfolio=portfolio).select_related("instrument")}
    assert held == {leg.instrument.symbol: leg.quantity * leg.sign for leg in legs}
    greeks = greeks_by_underlying(position_marks(Position.objects.filter(portfolio=portfolio).select_related("instrument", "portfolio")))
    row = next(g for g in greeks if g["underlying"] == instrument.symbol)
    assert row["shares"] == -400 and row["vega"] != 0  # the hedge and the options' vega are the portfolio's now
    assert AuditEvent.objects.filter(event_type="rfq.package_executed", object_id=str(rfq.pk)).exists()
    assert audit_verify().ok
    assert "rfq.tasks.provider_respond" in worker_log and "Traceback" not in worker_log, worker_log[-4000:]
