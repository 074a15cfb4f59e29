"""Trader controls on working parents: pause, resume, cancel, strategy change (PostgreSQL, the real driver)."""

from __future__ import annotations

import pytest

from ems.models import ChildOrder
from ems.services.control import parent_cancel, parent_pause, parent_resume, parent_strategy_change
from ems.services.working import parent_tick
from ems.states import Control, ExecStatus
from oms.errors import Conflict, DomainError, NotFound
from oms.models import AuditEvent
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.ems.live_helpers import check_invariants, tick_until_done, working_parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=30_000)
    return working_parent(instrument=instrument, orders=[order], window_s=20 * 60)


def _work(parent, clock, n=4):
    for _ in range(n):
        parent_tick(parent_id=parent.pk)
        clock.advance(30)


def _events(parent):
    return list(AuditEvent.objects.filter(object_type="parent_order", object_id=str(parent.pk)).order_by("seq")
                .values_list("event_type", flat=True))


def test_pause_cancels_the_children_and_the_algorithm_sends_nothing_until_resumed(parent, clock, actor):
    _work(parent, clock)
    assert ChildOrder.objects.filter(parent=parent, status__in=ExecStatus.open()).exists()
    parent_pause(parent_id=parent.pk, actor=actor)
    parent.refresh_from_db()
    assert parent.control == Control.PAUSED
    assert not ChildOrder.objects.filter(parent=parent, status__in=[ExecStatus.ACCEPTED, ExecStatus.PARTIALLY_FILLED, ExecStatus.PENDING_NEW]).exists()
    sent_before = ChildOrder.objects.filter(parent=parent).count()
    for _ in range(5):
        clock.advance(30)
        parent_tick(parent_id=parent.pk)
    assert ChildOrder.objects.filter(parent=parent).count() == sent_before  # nothing new while paused
    assert not ChildOrder.objects.filter(parent=parent, status__in=ExecStatus.open()).exists()  # the cancels went through
    filled_paused = parent.filled_quantity
    check_invariants(parent)

    parent_resume(parent_id=parent.pk, actor=actor)
    tick_until_done(parent, clock)
    parent.refresh_from_db()
    assert parent.control == Control.RUNNING and parent.status == ExecStatus.FILLED
    assert parent.epoch == 2 and parent.filled_quantity >= filled_paused
    assert ChildOrder.objects.filter(parent=parent, epoch=2).exists()
    events = _events(parent)
    assert events.index("parent_order.paused") < events.index("parent_order.resumed")
    check_invariants(parent)


def test_pause_twice_is_an_illegal_control_transition(parent, actor):
    parent_pause(parent_id=parent.pk, actor=actor)
    with pytest.raises(Conflict) as exc:
        parent_pause(parent_id=parent.pk, actor=actor)
    assert exc.value.code == "parent_control.illegal_transition"
    with pytest.raises(Conflict) as exc:
        parent_resume(parent_id=parent.pk, actor=actor) and parent_resume(parent_id=parent.pk, actor=actor)
    assert exc.value.code == "parent_control.illegal_transition"


def test_cancel_closes_the_parent_cancelled_once_the_children_are_done_and_keeps_the_fills(parent, clock, actor):
    _work(parent, clock, 6)
    parent.refresh_from_db()
    filled = parent.filled_quantity
    parent_cancel(parent_id=parent.pk, actor=actor)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.PENDING_CANCEL
    tick_until_done(parent, clock)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.CANCELLED and parent.filled_quantity >= filled
    order = parent.constituents.get().order
    assert order.status == OrderStatus.CANCELLED and order.filled_quantity == parent.filled_quantity
    assert {"parent_order.cancel_requested", "parent_order.cancelled"} <= set(_events(parent))
    check_invariants(parent)
    with pytest.raises(Conflict) as exc:
        parent_cancel(parent_id=parent.pk, actor=actor)
    assert exc.value.code == "parent_order.not_open"


def test_strategy_change_starts_a_new_epoch_with_the_new_algorithm(parent, clock, actor):
    _work(parent, clock)
    parent_strategy_change(parent_id=parent.pk, strategy="pov", urgency="high", actor=actor, reason="market moving away")
    parent.refresh_from_db()
    assert parent.strategy == "pov" and parent.urgency == "high" and parent.params["urgency"] == "high"
    assert "trader override -> POV" in parent.selection_reason
    tick_until_done(parent, clock)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED and parent.epoch == 2
    assert parent.algo_state["algo"] == "pov"
    ev = AuditEvent.objects.get(object_type="parent_order", object_id=str(parent.pk), event_type="parent_order.strategy_changed")
    assert ev.before["strategy"] == "twap" and ev.after["strategy"] == "pov" and ev.reason == "market moving away"
    check_invariants(parent)


def test_controls_refuse_bad_input_with_stable_codes(parent, actor):
    with pytest.raises(NotFound) as exc:
        parent_pause(parent_id=parent.pk + 10_000, actor=actor)
    assert exc.value.code == "parent_order.not_found"
    with pytest.raises(DomainError) as exc:
        parent_strategy_change(parent_id=parent.pk, strategy="martingale", actor=actor)
    assert exc.value.code == "parent_order.bad_strategy" and exc.value.status == 400
    with pytest.raises(DomainError) as exc:
        parent_strategy_change(parent_id=parent.pk, strategy="vwap", urgency="panic", actor=actor)
    assert exc.value.code == "parent_order.bad_urgency"
