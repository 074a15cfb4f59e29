"""The RFQ platform as the EMS's ``rfq`` destination (rfq.services.destination.RfqDestination), end to end on
PostgreSQL: a block the selection matrix sends to RFQ is aggregated from two PMs' orders, its tick starts an
EMS round (auto at the window's end), the round executes through the EMS fill service, the next tick starts
the next round, and after ``RFQ_MAX_ROUNDS`` (or a round that executed nothing, or nobody to ask) the rest
is worked by IS. Pause, cancel, the kill switch and a strategy change cancel the open RFQ and release it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ems.models import ChildOrder, ParentOrder
from ems.services import control, venues_sync_from_sim
from ems.services.aggregation import aggregation_cycle
from ems.services.working import parent_tick
from ems.states import Control, ExecStatus
from oms.models import AuditEvent
from oms.roles import Actor
from oms.services import orders_submit
from oms.states import OrderStatus
from rfq.models import RFQ, Dissemination, LiquidityProvider
from rfq.services import rfq_create, rfq_window_close
from rfq.states import QuoteStatus, RfqStatus
from tests.ems.live_helpers import check_invariants
from tests.factories import InstrumentFactory
from tests.rfq.services_helpers import mid_price, providers, quote

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("rfq.test")


@pytest.fixture
def thin(db):
    # 30,000 shares of a 100,000-a-day name: 30% of ADV, a block the selection matrix sends to RFQ.
    return InstrumentFactory(symbol="THIN", reference_price="40.00", adv=100_000)


@pytest.fixture
def block(clock, tick_queue, thin, pm, portfolio, other_pm, other_portfolio):
    """An RFQ parent as the aggregation cycle makes it, from 18,000 + 12,000 of two PMs' portfolios."""
    venues_sync_from_sim()
    for user, book, qty in ((pm, portfolio, 18_000), (other_pm, other_portfolio, 12_000)):
        item = {"client_order_id": f"B-{uuid.uuid4().hex[:10]}", "portfolio": book.code, "instrument": thin.symbol, "side": "buy",
                "quantity": qty, "order_type": "market", "time_in_force": "day", "urgency": "medium", "strategy": "auto"}
        result = orders_submit(user=user, actor=Actor.for_user(user, "api"), items=[item])[0]
        assert result.order.status == OrderStatus.ACCEPTED, result.error
    aggregation_cycle(actor=SYSTEM)
    parent = ParentOrder.objects.get(instrument=thin)
    assert parent.strategy == "rfq" and parent.quantity == 30_000, parent.selection_reason
    return parent


def _round(parent: ParentOrder, n: int) -> RFQ:
    return RFQ.objects.get(parent=parent, source="ems", round=n)


def _close_window(rfq: RFQ) -> RFQ:
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(milliseconds=100))
    return rfq_window_close(rfq_id=rfq.pk, actor=SYSTEM)


def test_the_tick_of_an_rfq_parent_starts_an_ems_round_that_holds_the_parent(block, settings):
    providers("MMA", "MMB", "MMC")

    parent_tick(parent_id=block.pk)

    block.refresh_from_db()
    rfq = _round(block, 1)
    assert rfq.status == RfqStatus.SENT and rfq.source == "ems" and rfq.requested_by is None
    assert (rfq.mode, rfq.execute_at, rfq.direction) == ("auto", "window_end", "two_way")
    assert rfq.threshold_bps == settings.RFQ_AUTO_THRESHOLD_BPS and rfq.quantity == 30_000
    assert block.reserved_quantity == 30_000 and block.workable_quantity == 0 and block.strategy == "rfq"
    assert Dissemination.objects.filter(rfq=rfq).count() == 3
    assert not ChildOrder.objects.filter(parent=block).exists()  # nothing went to a lit or dark venue
    parent_tick(parent_id=block.pk)  # it holds everything: no second round while the first is open
    assert RFQ.objects.filter(parent=block).count() == 1


def test_rounds_execute_through_the_ems_and_after_the_last_round_the_rest_is_worked_by_is(block, clock, pm, other_pm):
    providers("MMA", "MMB", "MMC")
    parent_tick(parent_id=block.pk)
    first = _round(block, 1)
    quote(first, "MMA", mid_price(first, 5), size=20_000)  # a partial quote within the threshold
    quote(first, "MMB", mid_price(first, 80))  # outside the 50 bps threshold

    assert _close_window(first).status == RfqStatus.EXECUTED
    block.refresh_from_db()
    assert block.filled_quantity == 20_000 and block.reserved_quantity == 0
    fills = {c.order.created_by.username: c.order.filled_quantity for c in block.constituents.select_related("order__created_by")}
    assert fills == {pm.username: 12_000, other_pm.username: 8_000}  # pro rata to the two PMs' orders

    parent_tick(parent_id=block.pk)  # the next round, for the rest
    second = _round(block, 2)
    assert second.quantity == 10_000 and second.status == RfqStatus.SENT
    quote(second, "MMC", mid_price(second, 7), size=4_000)
    assert _close_window(second).status == RfqStatus.EXECUTED

    clock.advance(1)
    parent_tick(parent_id=block.pk)  # RFQ_MAX_ROUNDS (2) done: IS works the last 6,000

    block.refresh_from_db()
    assert block.strategy == "is" and block.reserved_quantity == 0 and block.filled_quantity == 24_000
    assert "2 RFQ rounds done" in block.selection_reason and "the rest (6,000) is worked by IS" in block.selection_reason
    assert RFQ.objects.filter(parent=block).count() == 2
    clock.advance(30)
    parent_tick(parent_id=block.pk)  # IS plans the rest from now (its own schedule decides when it sends)
    started = AuditEvent.objects.get(object_type="parent_order", object_id=str(block.pk), event_type="parent_order.plan_started")
    assert started.after["strategy"] == "is" and started.after["qty"] == 6_000
    check_invariants(block)


def test_a_round_that_executed_nothing_hands_the_parent_to_is(block, clock):
    providers("MMA", "MMB")
    parent_tick(parent_id=block.pk)
    first = _round(block, 1)
    quote(first, "MMA", mid_price(first, 90))  # nothing within the threshold

    assert _close_window(first).status == RfqStatus.EXPIRED
    parent_tick(parent_id=block.pk)

    block.refresh_from_db()
    assert block.strategy == "is" and "RFQ round 1 executed nothing (expired" in block.selection_reason
    assert RFQ.objects.filter(parent=block).count() == 1
    event = AuditEvent.objects.filter(object_type="parent_order", object_id=str(block.pk),
                                      event_type="parent_order.strategy_changed").get()
    assert event.before["strategy"] == "rfq" and event.after["strategy"] == "is"


def test_nobody_to_ask_hands_the_parent_to_is_at_once(block):
    providers("MMOFF", is_active=False)

    parent_tick(parent_id=block.pk)

    block.refresh_from_db()
    assert block.strategy == "is" and "no active liquidity provider quotes THIN" in block.selection_reason
    assert block.reserved_quantity == 0 and not RFQ.objects.filter(parent=block).exists()


@pytest.mark.parametrize("stop", ["pause", "cancel", "kill_switch", "strategy_change"])
def test_pause_cancel_kill_switch_and_a_strategy_change_cancel_the_open_rfq_and_release_the_parent(block, actor, stop):
    providers("MMA", "MMB")
    parent_tick(parent_id=block.pk)
    rfq = _round(block, 1)
    q = quote(rfq, "MMA", mid_price(rfq, 5))

    if stop == "pause":
        control.parent_pause(parent_id=block.pk, actor=actor)
    elif stop == "cancel":
        control.parent_cancel(parent_id=block.pk, actor=actor)
    elif stop == "kill_switch":
        control.kill_switch(scope="all", actor=actor)
    else:
        control.parent_strategy_change(parent_id=block.pk, strategy="twap", actor=actor)

    rfq.refresh_from_db()
    q.refresh_from_db()
    block.refresh_from_db()
    assert rfq.status == RfqStatus.CANCELLED and q.status == QuoteStatus.EXPIRED
    assert block.reserved_quantity == 0 and block.filled_quantity == 0
    cancelled = AuditEvent.objects.get(object_type="rfq", object_id=str(rfq.pk), event_type="rfq.cancelled")
    assert cancelled.source == "system:rfq.parents_stop" and cancelled.reason
    if stop == "cancel":
        parent_tick(parent_id=block.pk)  # nothing held any more: the parent closes
        block.refresh_from_db()
        assert block.status == ExecStatus.CANCELLED
        assert set(block.constituents.values_list("order__status", flat=True)) == {OrderStatus.CANCELLED}
    if stop == "pause":
        assert block.control == Control.PAUSED
        rfq2 = rfq_create(parent_id=block.pk, actor=actor, quantity=5_000)  # a trader may price it with dealers while paused
        assert rfq2.status == RfqStatus.SENT and rfq2.source == "desk" and rfq2.round == 0


def test_a_round_cancelled_by_a_pause_does_not_count_and_a_resume_asks_the_dealers_again(block, actor):
    providers("MMA", "MMB")
    parent_tick(parent_id=block.pk)
    control.parent_pause(parent_id=block.pk, actor=actor)
    assert _round(block, 1).status == RfqStatus.CANCELLED

    control.parent_resume(parent_id=block.pk, actor=actor)
    parent_tick(parent_id=block.pk)

    block.refresh_from_db()
    assert block.strategy == "rfq"  # not handed to IS: the dealers never had their chance
    assert _round(block, 2).status == RfqStatus.SENT and block.reserved_quantity == 30_000


def test_a_trader_rfq_on_an_algorithm_parent_is_left_alone_by_its_algorithm_and_cancelled_by_a_pause(block, actor, clock):
    providers("MMA")
    LiquidityProvider.objects.update(max_size=1_000_000)
    control.parent_strategy_change(parent_id=block.pk, strategy="twap", actor=actor)
    rfq = rfq_create(parent_id=block.pk, actor=actor, quantity=10_000)
    block.refresh_from_db()
    assert block.reserved_quantity == 10_000

    for _ in range(6):
        clock.advance(30)
        parent_tick(parent_id=block.pk)
    block.refresh_from_db()
    started = AuditEvent.objects.filter(object_id=str(block.pk), event_type="parent_order.plan_started").order_by("-id").first()
    assert started.after["qty"] <= 20_000  # its plan covers only what the RFQ does not hold
    assert rfq.quantity + block.filled_quantity <= block.quantity

    control.parent_pause(parent_id=block.pk, actor=actor)
    rfq.refresh_from_db()
    block.refresh_from_db()
    assert rfq.status == RfqStatus.CANCELLED and block.reserved_quantity == 0
    assert "parent paused" in rfq.close_reason
    check_invariants(block)
