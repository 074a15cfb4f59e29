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
from tests.ems.live_helpers import check_invariants, tick_until_done
from tests.oms.audit_helpers import event_types

pytestmark = pytest.mark.django_db


def _work(parent, clock, n=4):
    for _ in range(n):
        parent_tick(parent_id=parent.pk)
        clock.advance(30)


def test_pause_cancels_the_children_and_the_algorithm_sends_nothing_until_resumed(pm_parent, clock, actor):
    _work(pm_parent, clock)
    assert ChildOrder.objects.filter(parent=pm_parent, status__in=ExecStatus.open()).exists()
    parent_pause(parent_id=pm_parent.pk, actor=actor)
    pm_parent.refresh_from_db()
    assert pm_parent.control == Control.PAUSED
    assert not ChildOrder.objects.filter(parent=pm_parent, status__in=[ExecStatus.ACCEPTED, ExecStatus.PARTIALLY_FILLED, ExecStatus.PENDING_NEW]).exists()
    sent_before = ChildOrder.objects.filter(parent=pm_parent).count()
    for _ in range(5):
        clock.advance(30)
        parent_tick(parent_id=pm_parent.pk)
    assert ChildOrder.objects.filter(parent=pm_parent).count() == sent_before  # nothing new while paused
    assert not ChildOrder.objects.filter(parent=pm_parent, status__in=ExecStatus.open()).exists()  # the cancels went through
    filled_paused = pm_parent.filled_quantity
    check_invariants(pm_parent)

    parent_resume(parent_id=pm_parent.pk, actor=actor)
    tick_until_done(pm_parent, clock)
    pm_parent.refresh_from_db()
    assert pm_parent.control == Control.RUNNING and pm_parent.status == ExecStatus.FILLED
    assert pm_parent.epoch == 2 and pm_parent.filled_quantity >= filled_paused
    assert ChildOrder.objects.filter(parent=pm_parent, epoch=2).exists()
    events = event_types("parent_order", pm_parent.pk)
    assert events.index("parent_order.paused") < events.index("parent_order.resumed")
    check_invariants(pm_parent)


def test_pause_twice_is_an_illegal_control_transition(pm_parent, actor):
    parent_pause(parent_id=pm_parent.pk, actor=actor)
    with pytest.raises(Conflict) as exc:
        parent_pause(parent_id=pm_parent.pk, actor=actor)
    assert exc.value.code == "parent_control.illegal_transition"
    with pytest.raises(Conflict) as exc:
        parent_resume(parent_id=pm_parent.pk, actor=actor) and parent_resume(parent_id=pm_parent.pk, actor=actor)
    assert exc.value.code == "parent_control.illegal_transition"


def test_cancel_closes_the_parent_cancelled_once_the_children_are_done_and_keeps_the_fills(pm_parent, clock, actor):
    _work(pm_parent, clock, 6)
    pm_parent.refresh_from_db()
    filled = pm_parent.filled_quantity
    parent_cancel(parent_id=pm_parent.pk, actor=actor)
    pm_parent.refresh_from_db()
    assert pm_parent.status == ExecStatus.PENDING_CANCEL
    tick_until_done(pm_parent, clock)
    pm_parent.refresh_from_db()
    assert pm_parent.status == ExecStatus.CANCELLED and pm_parent.filled_quantity >= filled
    order = pm_parent.constituents.get().order
    assert order.status == OrderStatus.CANCELLED and order.filled_quantity == pm_parent.filled_quantity
    assert {"parent_order.cancel_requested", "parent_order.cancelled"} <= set(event_types("parent_order", pm_parent.pk))
    check_invariants(pm_parent)
    with pytest.raises(Conflict) as exc:
        parent_cancel(parent_id=pm_parent.pk, actor=actor)
    assert exc.value.code == "parent_order.not_open"


def test_strategy_change_starts_a_new_epoch_with_the_new_algorithm(pm_parent, clock, actor):
    _work(pm_parent, clock)
    parent_strategy_change(parent_id=pm_parent.pk, strategy="pov", urgency="high", actor=actor, reason="market moving away")
    pm_parent.refresh_from_db()
    assert pm_parent.strategy == "pov" and pm_parent.urgency == "high" and pm_parent.params["urgency"] == "high"
    assert "trader override -> POV" in pm_parent.selection_reason
    tick_until_done(pm_parent, clock)
    pm_parent.refresh_from_db()
    assert pm_parent.status == ExecStatus.FILLED and pm_parent.epoch == 2
    assert pm_parent.algo_state["algo"] == "pov"
    ev = AuditEvent.objects.get(object_type="parent_order", object_id=str(pm_parent.pk), event_type="parent_order.strategy_changed")
    assert ev.before["strategy"] == "twap" and ev.after["strategy"] == "pov" and ev.reason == "market moving away"
    check_invariants(pm_parent)


def test_controls_refuse_bad_input_with_stable_codes(pm_parent, actor):
    with pytest.raises(NotFound) as exc:
        parent_pause(parent_id=pm_parent.pk + 10_000, actor=actor)
    assert exc.value.code == "parent_order.not_found"
    with pytest.raises(DomainError) as exc:
        parent_strategy_change(parent_id=pm_parent.pk, strategy="martingale", actor=actor)
    assert exc.value.code == "parent_order.bad_strategy" and exc.value.status == 400
    with pytest.raises(DomainError) as exc:
        parent_strategy_change(parent_id=pm_parent.pk, strategy="vwap", urgency="panic", actor=actor)
    assert exc.value.code == "parent_order.bad_urgency"
