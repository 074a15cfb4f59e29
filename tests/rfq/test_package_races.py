"""Package execution under real concurrency (threads with their own PostgreSQL connections, tests/concurrency.py):
two clicks on two net quotes, or a click racing the window's close, execute the package exactly once: four leg
fills or none."""

from __future__ import annotations

from functools import partial

import pytest
import redis

from ems.models import Fill
from oms.errors import Conflict
from oms.roles import Actor
from rfq.services import AcceptResult, quote_accept, rfq_window_close
from rfq.states import RfqStatus
from tests.concurrency import run_together
from tests.rfq.package_helpers import chain, four_legs, net_quote, package_for
from tests.rfq.services_helpers import providers

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 3


@pytest.fixture
def desk(clock, tick_queue, settings, venues, instrument):
    providers("MMA", "MMB", "MMC")
    yield chain(instrument)
    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in r.scan_iter(match=f"{tick_queue}*"):
        r.delete(key)


def test_two_clicks_on_two_net_quotes_execute_the_package_once(desk, instrument, trader, portfolio, actor):
    for _ in range(ROUNDS):
        rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=4)
        qa, qb = net_quote(rfq, "MMA", "0.10"), net_quote(rfq, "MMB", "0.12")

        results, errors = run_together([
            partial(quote_accept, rfq_id=rfq.pk, quote_id=qa.pk, actor=actor),
            partial(quote_accept, rfq_id=rfq.pk, quote_id=qb.pk, actor=actor),
        ])

        assert all(isinstance(e, Conflict) and e.code == "rfq.already_executed" for e in errors), errors
        executed = [r for r in results if isinstance(r, AcceptResult) and r.executed]
        assert len(executed) == 1 and len(errors) == 1
        rfq.refresh_from_db()
        assert rfq.status == RfqStatus.EXECUTED
        fills = Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-")
        assert fills.count() == 4 and {f.exec_id.split("-")[1] for f in fills} == {f"Q{executed[0].quote.pk}"}


def test_a_click_racing_the_windows_close_is_all_or_nothing(desk, instrument, trader, portfolio, actor):
    from datetime import timedelta

    from django.utils import timezone

    from rfq.models import RFQ

    for _ in range(ROUNDS):
        rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=2)
        q = net_quote(rfq, "MMA", "0.10")
        RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() + timedelta(milliseconds=30))

        def close_at_end(rfq_id=rfq.pk):
            import time
            time.sleep(0.04)
            return rfq_window_close(rfq_id=rfq_id, actor=Actor.system("rfq.rfq_window_close"))

        results, errors = run_together([partial(quote_accept, rfq_id=rfq.pk, quote_id=q.pk, actor=actor), close_at_end])
        assert all(isinstance(e, Conflict) and e.code in {"rfq.window_closed", "rfq.not_open", "rfq.already_executed"} for e in errors), errors
        rfq.refresh_from_db()
        n = Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").count()
        assert (rfq.status, n) in {(RfqStatus.EXECUTED, 4), (RfqStatus.EXPIRED, 0)}
