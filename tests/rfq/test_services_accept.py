"""Executing an RFQ (rfq.services.quote_accept, auto-execution on a quote and at the window's end): the fill
goes through the EMS fill service at the RFQ venue, on a child of the parent, and is allocated pro rata to
the parent's constituent orders (two PMs' portfolios) and their positions; last look; partial quotes; the
parent's limit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.models import Allocation, ChildOrder, Fill, ParentOrder
from ems.states import ExecStatus
from oms.errors import Conflict
from oms.models import AuditEvent, Position
from oms.states import OrderStatus
from rfq.models import RFQ, LiquidityProvider, Quote
from rfq.services import quote_accept, rfq_create, rfq_window_close
from rfq.states import QuoteStatus, RfqStatus
from tests.ems.live_helpers import check_invariants
from tests.oms.audit_helpers import event_types
from tests.rfq.services_helpers import block_parent, mid_price, providers, quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(clock, instrument, pm, portfolio, other_pm, other_portfolio):
    """Three providers that honour every acceptance, and a parent that buys for two PMs (6,000 + 4,000)."""
    providers("MMA", "MMB", "MMC")

    def make(**kw):
        return block_parent(instrument=instrument, pm=pm, portfolio=portfolio, other_pm=other_pm, other_portfolio=other_portfolio, **kw)

    return make


def _end_window(rfq: RFQ) -> None:
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(milliseconds=200))
    rfq.refresh_from_db()


def _rejects_on_last_look(*codes: str) -> None:
    LiquidityProvider.objects.filter(code__in=codes).update(last_look_reject_probability=Decimal("1"))


def test_click_to_trade_books_an_rfq_fill_on_a_child_and_allocates_it_to_both_pms_orders_and_positions(desk, actor, portfolio, other_portfolio):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    qa = quote(rfq, "MMA", mid_price(rfq, 8))
    qb = quote(rfq, "MMB", mid_price(rfq, 4))
    qc = quote(rfq, "MMC", mid_price(rfq, 12))

    result = quote_accept(rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)

    assert result.executed and result.code is None and result.rejected == () and result.quote.pk == qb.pk
    fill = Fill.objects.get(pk=result.fill_id)
    assert fill.exec_id == f"RFQ{rfq.pk}-Q{qb.pk}" and fill.liquidity == "rfq" and fill.venue.code == "RFQ" and fill.venue.kind == "rfq"
    assert fill.quantity == 10_000 and fill.price == qb.price and fill.fee == 0 and fill.parent_id == parent.pk
    child = ChildOrder.objects.get(pk=fill.child_id)
    assert child.parent_id == parent.pk and child.kind == "rfq" and child.status == ExecStatus.FILLED
    assert (child.client_order_id, child.time_in_force, child.price) == (f"RFQ{rfq.pk}-Q{qb.pk}", "ioc", qb.price)
    # Pro rata to the two PMs' orders, and into their portfolios' positions.
    shares = dict(Allocation.objects.filter(fill=fill).values_list("order__portfolio__code", "quantity"))
    assert shares == {portfolio.code: 6_000, other_portfolio.code: 4_000}
    positions = dict(Position.objects.filter(instrument=parent.instrument).values_list("portfolio__code", "quantity"))
    assert positions == {portfolio.code: 6_000, other_portfolio.code: 4_000}
    for c in parent.constituents.select_related("order"):
        assert c.order.status == OrderStatus.FILLED and c.order.avg_price == qb.price
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED and parent.reserved_quantity == 0 and parent.filled_quantity == 10_000
    check_invariants(parent)
    # The RFQ and its quotes.
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.EXECUTED and rfq.executed_quote_id == qb.pk and rfq.child_id == child.pk
    assert rfq.executed_quantity == 10_000 and rfq.executed_price == qb.price and rfq.closed_at is not None
    statuses = dict(Quote.objects.filter(rfq=rfq).values_list("pk", "status"))
    assert statuses == {qa.pk: QuoteStatus.EXPIRED, qb.pk: QuoteStatus.ACCEPTED, qc.pk: QuoteStatus.EXPIRED}
    # The audit trail a trader reads.
    assert event_types("rfq", rfq.pk) == ["rfq.created", "rfq.sent", "rfq.quoting", "rfq.executed"]
    assert event_types("quote", qb.pk) == ["quote.received", "quote.accepted"] and event_types("quote", qa.pk)[-1] == "quote.expired"
    assert event_types("child_order", child.pk) == ["child_order.placed", "child_order.filled"]
    assert event_types("fill", fill.pk) == ["fill.booked"]
    assert "parent_order.released" in event_types("parent_order", parent.pk)
    executed = AuditEvent.objects.get(object_type="rfq", object_id=str(rfq.pk), event_type="rfq.executed")
    assert executed.after["provider"] == "MMB" and executed.after["exec_id"] == fill.exec_id and executed.actor == "desk_trader"

    with pytest.raises(Conflict) as exc:  # a second click after the execution
        quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)
    assert exc.value.code == "rfq.already_executed"


def test_a_sell_is_executed_on_the_bid_and_allocated_as_sales(desk, actor, portfolio, other_portfolio):
    parent = desk(side="sell")
    rfq = rfq_create(parent_id=parent.pk, actor=actor, direction="sell")
    qa = quote(rfq, "MMA", mid_price(rfq, 6))

    result = quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)

    assert result.executed and qa.price == qa.bid_price and qa.ask_price is None and qa.price < rfq.mid_at_request
    positions = dict(Position.objects.values_list("portfolio__code", "quantity"))
    assert positions == {portfolio.code: -6_000, other_portfolio.code: -4_000}


def test_auto_executes_the_first_quote_that_meets_the_threshold_on_arrival(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, mode="auto", execute_at="quote", threshold_bps=Decimal("10"))
    wide = quote(rfq, "MMA", mid_price(rfq, 25))
    rfq.refresh_from_db()
    assert wide.status == QuoteStatus.LIVE and rfq.status == RfqStatus.QUOTING  # outside the threshold: waits

    inside = quote(rfq, "MMB", mid_price(rfq, 5))

    rfq.refresh_from_db()
    wide.refresh_from_db()
    assert inside.status == QuoteStatus.ACCEPTED and rfq.status == RfqStatus.EXECUTED and rfq.executed_quote_id == inside.pk
    assert wide.status == QuoteStatus.EXPIRED
    assert Fill.objects.get(parent=parent).price == inside.price
    executed = AuditEvent.objects.get(object_type="rfq", object_id=str(rfq.pk), event_type="rfq.executed")
    assert executed.actor == "system"  # the platform executed it, on the provider's quote arrival


def test_auto_by_price_threshold_on_arrival(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, mode="auto", threshold_price=Decimal(mid_price_for(parent, 10)))
    over = quote(rfq, "MMA", mid_price(rfq, 30))
    assert over.status == QuoteStatus.LIVE  # above the price a buyer accepts

    under = quote(rfq, "MMB", mid_price(rfq, 2))

    rfq.refresh_from_db()
    over.refresh_from_db()
    assert under.status == QuoteStatus.ACCEPTED and over.status == QuoteStatus.EXPIRED
    assert rfq.status == RfqStatus.EXECUTED and rfq.executed_quote_id == under.pk


def mid_price_for(parent: ParentOrder, bps: float) -> str:
    from rfq.selectors import market_snapshot

    mid = Decimal(repr(market_snapshot(parent.instrument).mid))
    return str((mid * (1 + Decimal(bps) / Decimal(10_000))).quantize(Decimal("0.01")))


def test_auto_at_window_end_executes_the_best_quote_within_the_threshold(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, mode="auto", execute_at="window_end", threshold_bps=Decimal("20"))
    qa = quote(rfq, "MMA", mid_price(rfq, 9))
    qb = quote(rfq, "MMB", mid_price(rfq, 6))
    qc = quote(rfq, "MMC", mid_price(rfq, 40))
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING  # nothing executes before the window's end
    _end_window(rfq)

    closed = rfq_window_close(rfq_id=rfq.pk, actor=actor)

    assert closed.status == RfqStatus.EXECUTED and closed.executed_quote_id == qb.pk
    statuses = dict(Quote.objects.filter(rfq=rfq).values_list("pk", "status"))
    assert statuses == {qa.pk: QuoteStatus.EXPIRED, qb.pk: QuoteStatus.ACCEPTED, qc.pk: QuoteStatus.EXPIRED}
    parent.refresh_from_db()
    assert parent.filled_quantity == 10_000 and parent.reserved_quantity == 0


def test_auto_at_window_end_with_nothing_within_the_threshold_expires_and_releases(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, mode="auto", execute_at="window_end", threshold_bps=Decimal("5"))
    quote(rfq, "MMA", mid_price(rfq, 15))
    quote(rfq, "MMB", mid_price(rfq, 30))
    _end_window(rfq)

    closed = rfq_window_close(rfq_id=rfq.pk, actor=actor)

    parent.refresh_from_db()
    assert closed.status == RfqStatus.EXPIRED and "none of 2 quotes within the threshold" in closed.close_reason
    assert parent.reserved_quantity == 0 and parent.filled_quantity == 0 and not Fill.objects.exists()
    assert set(Quote.objects.filter(rfq=rfq).values_list("status", flat=True)) == {QuoteStatus.EXPIRED}


def test_a_last_look_rejection_falls_through_to_the_next_best_quote_within_the_threshold(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, threshold_bps=Decimal("10"))  # the trader's bound
    qa = quote(rfq, "MMA", mid_price(rfq, 8))
    qb = quote(rfq, "MMB", mid_price(rfq, 3))
    qc = quote(rfq, "MMC", mid_price(rfq, 12))
    _rejects_on_last_look("MMB")

    result = quote_accept(rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)

    assert result.executed and result.rejected == (qb.pk,) and result.quote.pk == qa.pk  # the next best, not MMC
    qb.refresh_from_db()
    assert qb.status == QuoteStatus.REJECTED and "rejected on last look" in qb.status_reason
    assert event_types("quote", qb.pk) == ["quote.received", "quote.rejected"]
    assert Fill.objects.get(parent=parent).price == qa.price
    qc.refresh_from_db()
    assert qc.status == QuoteStatus.EXPIRED


def test_a_fall_through_stops_at_the_threshold(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, threshold_bps=Decimal("6"))
    qa = quote(rfq, "MMA", mid_price(rfq, 8))  # live, but beyond the trader's bound
    qb = quote(rfq, "MMB", mid_price(rfq, 3))
    _rejects_on_last_look("MMB")

    result = quote_accept(rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)

    assert not result.executed and result.code == "rfq.last_look_rejected" and result.rejected == (qb.pk,)
    assert "within the threshold" in result.detail and not Fill.objects.exists()
    qa.refresh_from_db()
    rfq.refresh_from_db()
    assert qa.status == QuoteStatus.LIVE and rfq.status == RfqStatus.QUOTING


def test_click_without_a_threshold_does_not_fall_through_and_names_the_next_best(desk, actor):
    """The trader set no bound: after the clicked quote's last-look rejection nothing else is executed on
    their behalf; the answer names the next best live quote, and a second click takes it."""
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    qa = quote(rfq, "MMA", mid_price(rfq, 12))
    qb = quote(rfq, "MMB", mid_price(rfq, 3))
    qc = quote(rfq, "MMC", mid_price(rfq, 14))
    _rejects_on_last_look("MMB")

    result = quote_accept(rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)

    assert not result.executed and result.code == "rfq.last_look_rejected" and result.rejected == (qb.pk,)
    assert result.next_best.pk == qa.pk and f"quote {qb.pk}" in result.detail and f"MMA's quote {qa.pk}" in result.detail
    assert not Fill.objects.exists() and not ChildOrder.objects.filter(parent=parent).exists()
    rfq.refresh_from_db()
    parent.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING and parent.reserved_quantity == 10_000
    statuses = dict(Quote.objects.filter(rfq=rfq).values_list("pk", "status"))
    assert statuses == {qa.pk: QuoteStatus.LIVE, qb.pk: QuoteStatus.REJECTED, qc.pk: QuoteStatus.LIVE}
    assert event_types("quote", qa.pk) == ["quote.received"]

    again = quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)  # the trader's confirmation: their click
    assert again.executed and again.quote.pk == qa.pk and Fill.objects.get(parent=parent).price == qa.price


def test_last_look_rejecting_every_quote_keeps_the_rfq_quoting_and_says_so(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor, threshold_bps=Decimal("20"))
    qa = quote(rfq, "MMA", mid_price(rfq, 8))
    qb = quote(rfq, "MMB", mid_price(rfq, 3))
    _rejects_on_last_look("MMA", "MMB")

    result = quote_accept(rfq_id=rfq.pk, quote_id=qb.pk, actor=actor)

    assert not result.executed and result.code == "rfq.last_look_rejected" and result.fill_id is None
    assert result.rejected == (qb.pk, qa.pk) and "MMB" in result.detail
    rfq.refresh_from_db()
    parent.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING and parent.reserved_quantity == 10_000 and not Fill.objects.exists()
    assert set(Quote.objects.filter(rfq=rfq).values_list("status", flat=True)) == {QuoteStatus.REJECTED}
    # A quote that arrives afterwards can still be taken while the window is open.
    qc = quote(rfq, "MMC", mid_price(rfq, 10))
    assert quote_accept(rfq_id=rfq.pk, quote_id=qc.pk, actor=actor).executed


def test_last_look_rejects_when_the_mid_moved_against_the_provider_beyond_its_tolerance(desk, actor):
    parent = desk()
    LiquidityProvider.objects.filter(code="MMA").update(last_look_tolerance_bps=Decimal("10"))
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    # It priced its offer when the mid was 1% lower than now: it sold, the mid rose, it says no.
    low_mid = str((rfq.mid_at_request * Decimal("0.99")).quantize(Decimal("0.000001")))
    qa = quote(rfq, "MMA", mid_price(rfq, 5), mid=low_mid)

    result = quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)

    qa.refresh_from_db()
    assert not result.executed and qa.status == QuoteStatus.REJECTED and "against it" in qa.status_reason


def test_a_partial_quote_executes_its_size_and_leaves_the_rest_with_the_parent(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    qa = quote(rfq, "MMA", mid_price(rfq, 5), size=4_000)

    result = quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)

    rfq.refresh_from_db()
    parent.refresh_from_db()
    assert result.executed and rfq.executed_quantity == 4_000 and rfq.status == RfqStatus.EXECUTED
    assert "6,000 left with the parent" in rfq.close_reason
    assert parent.filled_quantity == 4_000 and parent.reserved_quantity == 0 and parent.workable_quantity == 6_000
    assert parent.status == ExecStatus.PARTIALLY_FILLED and parent.replan  # its algorithm re-plans for the rest
    assert dict(Allocation.objects.values_list("order__quantity", "quantity")) == {6_000: 2_400, 4_000: 1_600}
    check_invariants(parent)


def test_a_quote_through_the_parents_limit_is_refused_and_never_auto_executed(desk, actor):
    parent = desk(limit_price="100.00")
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    ParentOrder.objects.filter(pk=parent.pk).update(limit_price=rfq.mid_at_request + Decimal("0.02"))
    through = quote(rfq, "MMA", str(rfq.mid_at_request + Decimal("0.05")))

    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=through.pk, actor=actor)

    assert exc.value.code == "rfq.quote_through_limit"
    through.refresh_from_db()
    assert through.status == QuoteStatus.LIVE and not Fill.objects.exists()

    auto = rfq_create(parent_id=desk(limit_price="100.00").pk, actor=actor, mode="auto", threshold_bps=Decimal("1000"))
    ParentOrder.objects.filter(pk=auto.parent_id).update(limit_price=auto.mid_at_request + Decimal("0.02"))
    q = quote(auto, "MMA", str(auto.mid_at_request + Decimal("0.05")))
    auto.refresh_from_db()
    assert q.status == QuoteStatus.LIVE and auto.status == RfqStatus.QUOTING  # within the threshold, not the limit


def test_accept_needs_a_working_parent(desk, actor):
    parent = desk()
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    qa = quote(rfq, "MMA", mid_price(rfq, 5))
    ParentOrder.objects.filter(pk=parent.pk).update(control="halted")
    with pytest.raises(Conflict) as exc:
        quote_accept(rfq_id=rfq.pk, quote_id=qa.pk, actor=actor)
    assert exc.value.code == "rfq.parent_not_working"


def test_accept_is_a_bounded_number_of_queries_however_many_quotes(desk, actor, django_assert_max_num_queries):
    parent = desk()
    providers("MMD", "MME", "MMF", "MMG")
    rfq = rfq_create(parent_id=parent.pk, actor=actor, providers=7)
    quotes = [quote(rfq, code, mid_price(rfq, 3 + i)) for i, code in enumerate(["MMA", "MMB", "MMC", "MMD", "MME", "MMF", "MMG"])]

    # ~34 today (three locks, the market, the child, the fill service's own, one UPDATE for all the other quotes).
    with django_assert_max_num_queries(40):
        assert quote_accept(rfq_id=rfq.pk, quote_id=quotes[0].pk, actor=actor).executed
