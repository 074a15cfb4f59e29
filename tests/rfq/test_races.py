"""RFQ execution under real concurrency: threads with their own PostgreSQL connections, released together
(tests/concurrency.py). Two clicks on two quotes, a click racing the window's close or an auto-execution,
a click at the very end of the window: exactly one execution (one fill), or a clean refusal with a code."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
import redis
from django.utils import timezone

from ems.models import Fill
from oms.errors import Conflict
from oms.roles import Actor
from rfq.models import RFQ
from rfq.services import AcceptResult, quote_accept, rfq_create, rfq_window_close
from rfq.states import QuoteStatus, RfqStatus
from tests.concurrency import run_together
from tests.ems.live_helpers import check_invariants
from tests.rfq.services_helpers import block_parent, mid_price, providers, quote

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 4
CLOSER = Actor.system("rfq.rfq_window_close")
REFUSALS = {"rfq.already_executed", "rfq.window_closed", "rfq.not_open"}


@pytest.fixture
def large_pooled_parent(clock, tick_queue, settings, instrument, pm, portfolio, other_pm, other_portfolio):
    providers("MMA", "MMB", "MMC")
    yield block_parent(instrument=instrument, pm=pm, portfolio=portfolio, other_pm=other_pm, other_portfolio=other_portfolio,
                       quantities=(30_000, 20_000))
    # The tasks each commit sent went to this test's own queue, which no worker reads: drop them.
    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in r.scan_iter(match=f"{tick_queue}*"):
        r.delete(key)


def _fills(rfq: RFQ) -> int:
    return Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").count()


def _outcome(results, errors) -> tuple[list[AcceptResult], list[str]]:
    """The executions and the refusal codes; anything else that was raised fails the test."""
    unexpected = [e for e in errors if not isinstance(e, Conflict) or e.code not in REFUSALS]
    assert not unexpected, unexpected
    return [r for r in results if isinstance(r, AcceptResult) and r.executed], [e.code for e in errors]


def _at(instant, fn):
    """Call ``fn`` at wall instant ``instant`` (a datetime): a thread's way to aim at the window's end."""
    def run():
        while (delay := (instant - timezone.now()).total_seconds()) > 0:
            time.sleep(delay)
        return fn()

    return run


def test_two_clicks_on_two_quotes_at_once_execute_exactly_once(large_pooled_parent, actor):
    for _ in range(ROUNDS):
        rfq = rfq_create(parent_id=large_pooled_parent.pk, actor=actor, quantity=5_000)
        qa = quote(rfq, "MMA", mid_price(rfq, 5))
        qb = quote(rfq, "MMB", mid_price(rfq, 6))

        results, errors = run_together([
            partial(quote_accept, rfq_id=rfq.pk, quote_id=qa.pk, actor=actor),
            partial(quote_accept, rfq_id=rfq.pk, quote_id=qb.pk, actor=actor),
        ])

        executed, codes = _outcome(results, errors)
        assert len(executed) == 1 and codes == ["rfq.already_executed"]
        rfq.refresh_from_db()
        assert rfq.status == RfqStatus.EXECUTED and _fills(rfq) == 1
        assert rfq.executed_quote_id == executed[0].quote.pk
    large_pooled_parent.refresh_from_db()
    assert large_pooled_parent.filled_quantity == ROUNDS * 5_000 and large_pooled_parent.reserved_quantity == 0
    check_invariants(large_pooled_parent)


def test_a_click_racing_the_close_of_an_auto_window_end_rfq_executes_exactly_once(large_pooled_parent, actor):
    for i in range(ROUNDS):
        rfq = rfq_create(parent_id=large_pooled_parent.pk, actor=actor, quantity=5_000, mode="auto", execute_at="window_end",
                         threshold_bps=Decimal("50"))
        clicked = quote(rfq, "MMA", mid_price(rfq, 9))
        best = quote(rfq, "MMB", mid_price(rfq, 4))  # what the close would take
        ends = timezone.now() + timedelta(milliseconds=150)
        RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=ends)
        # The click lands just before, at, or just after the end; the close runs at the end.
        click_at = ends + timedelta(milliseconds=(-20, -2, 0, 3)[i % 4])

        results, errors = run_together([
            _at(click_at, partial(quote_accept, rfq_id=rfq.pk, quote_id=clicked.pk, actor=actor)),
            _at(ends, partial(rfq_window_close, rfq_id=rfq.pk, actor=CLOSER)),
        ])

        executed, codes = _outcome(results[:1], errors)
        rfq.refresh_from_db()
        assert rfq.status == RfqStatus.EXECUTED and _fills(rfq) == 1
        if executed:  # the click won: the close found the RFQ executed
            assert rfq.executed_quote_id == clicked.pk and not codes
        else:  # the close won (on the best quote) and the click was refused cleanly
            assert rfq.executed_quote_id == best.pk and len(codes) == 1
    large_pooled_parent.refresh_from_db()
    assert large_pooled_parent.filled_quantity == ROUNDS * 5_000 and large_pooled_parent.reserved_quantity == 0
    check_invariants(large_pooled_parent)


def test_clicks_at_the_very_end_of_the_window_give_one_execution_or_a_clean_window_closed(large_pooled_parent, actor):
    for i in range(ROUNDS):
        rfq = rfq_create(parent_id=large_pooled_parent.pk, actor=actor, quantity=5_000)
        qa = quote(rfq, "MMA", mid_price(rfq, 5))
        qb = quote(rfq, "MMB", mid_price(rfq, 6))
        ends = timezone.now() + timedelta(milliseconds=150)
        RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=ends)
        offsets = ((-3, 1), (-1, 0), (0, 2), (-5, -4))[i]

        results, errors = run_together([
            _at(ends + timedelta(milliseconds=offsets[0]), partial(quote_accept, rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)),
            _at(ends + timedelta(milliseconds=offsets[1]), partial(quote_accept, rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)),
            _at(ends, partial(rfq_window_close, rfq_id=rfq.pk, actor=CLOSER)),
        ])

        executed, codes = _outcome(results[:2], errors)
        rfq.refresh_from_db()
        assert len(executed) <= 1 and _fills(rfq) == len(executed)
        if executed:
            assert rfq.status == RfqStatus.EXECUTED and set(codes) <= {"rfq.already_executed", "rfq.window_closed", "rfq.not_open"}
        else:  # the end came first for both clicks: refused, and the close expired the RFQ
            assert rfq.status == RfqStatus.EXPIRED and len(codes) == 2 and set(codes) <= {"rfq.window_closed", "rfq.not_open"}
    large_pooled_parent.refresh_from_db()
    assert large_pooled_parent.reserved_quantity == 0
    assert large_pooled_parent.filled_quantity == sum(r.executed_quantity for r in RFQ.objects.filter(parent=large_pooled_parent))
    check_invariants(large_pooled_parent)


def test_a_click_racing_an_auto_execution_on_quote_arrival_executes_exactly_once(large_pooled_parent, actor):
    for _ in range(ROUNDS):
        rfq = rfq_create(parent_id=large_pooled_parent.pk, actor=actor, quantity=5_000, mode="auto", execute_at="quote",
                         threshold_bps=Decimal("10"))
        wide = quote(rfq, "MMA", mid_price(rfq, 30))  # outside the threshold: live, for a trader to click
        assert wide.status == QuoteStatus.LIVE

        results, errors = run_together([
            partial(quote_accept, rfq_id=rfq.pk, quote_id=wide.pk, actor=actor),
            partial(quote, rfq, "MMB", mid_price(rfq, 3)),  # inside: executes on arrival
        ])

        executed, codes = _outcome(results[:1], errors)
        rfq.refresh_from_db()
        arrived = results[1]
        assert rfq.status == RfqStatus.EXECUTED and _fills(rfq) == 1
        if executed:  # the click won; the arriving quote found the RFQ executed and was refused
            assert rfq.executed_quote_id == wide.pk and arrived.status == QuoteStatus.REFUSED
        else:
            assert codes == ["rfq.already_executed"] and rfq.executed_quote_id == arrived.pk
    large_pooled_parent.refresh_from_db()
    assert large_pooled_parent.filled_quantity == ROUNDS * 5_000 and large_pooled_parent.reserved_quantity == 0
    check_invariants(large_pooled_parent)
