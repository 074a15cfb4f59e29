"""The EMS side of outside destinations (ems.destinations): a parent whose strategy a destination works is
handed to it by its tick, falls back to IS when the destination declines, is stopped by the controls and
settles only once nothing is held; an algorithm leaves what a destination holds alone.

A recording destination stands in for the RFQ platform here (an implementation of the EMS's own
interface, on the real database): what it does with a parent is the RFQ platform's business, tested in
tests/rfq; this file pins down what the EMS promises every destination.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from ems import destinations
from ems.algos.base import AlgoParams
from ems.models import ChildOrder, ParentOrder
from ems.services import control
from ems.services.working import parent_tick
from ems.states import Control, ExecStatus
from oms.models import AuditEvent
from oms.roles import Actor
from oms.services import order_cancel
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.ems.live_helpers import check_invariants, working_parent

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """Holds ``hold`` shares of each parent it is asked to work (or declines with ``decline``)."""

    strategy = "rfq"

    def __init__(self, *, hold: int | None = None, decline: str | None = None) -> None:
        self.hold, self.decline = hold, decline
        self.worked: list[int] = []
        self.stopped: list[tuple[list[int], str]] = []

    def parent_work(self, parent, *, actor):
        self.worked.append(parent.pk)
        if self.decline:
            return self.decline
        q = parent.workable_quantity if self.hold is None else self.hold
        ParentOrder.objects.filter(pk=parent.pk).update(reserved_quantity=q)
        return None

    def parents_stop(self, parent_ids, *, reason):
        self.stopped.append((list(parent_ids), reason))
        ParentOrder.objects.filter(pk__in=parent_ids).update(reserved_quantity=0)


@pytest.fixture
def recorder(monkeypatch):
    def install(**kw) -> Recorder:
        r = Recorder(**kw)
        monkeypatch.setattr(destinations, "_REGISTRY", {"rfq": r})
        return r

    return install


def _rfq_parent(instrument, orders, **kw) -> ParentOrder:
    parent = working_parent(instrument=instrument, orders=orders, strategy="twap", **kw)
    params = AlgoParams.from_dict(parent.params).to_dict()
    ParentOrder.objects.filter(pk=parent.pk).update(strategy="rfq", params=params)
    parent.refresh_from_db()
    return parent


def test_the_tick_hands_a_working_parent_to_its_destination_once_and_sends_nothing_to_the_venues(
        recorder, clock, instrument, portfolio, pm):
    r = recorder()
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=50_000)
    parent = _rfq_parent(instrument, [order])

    parent_tick(parent_id=parent.pk)
    parent_tick(parent_id=parent.pk)  # it holds everything now: not asked again

    parent.refresh_from_db()
    assert r.worked == [parent.pk]
    assert parent.reserved_quantity == 50_000 and parent.workable_quantity == 0
    assert not ChildOrder.objects.filter(parent=parent).exists()
    assert parent.status == ExecStatus.ACCEPTED and parent.strategy == "rfq"


def test_a_declining_destination_hands_the_rest_to_is_with_the_reason_recorded_and_is_works_it(
        recorder, clock, instrument, portfolio, pm):
    recorder(decline="no provider quotes this instrument")
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=20_000)
    parent = _rfq_parent(instrument, [order])

    parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    assert parent.strategy == "is"
    assert "no provider quotes this instrument: the rest (20,000) is worked by IS" in parent.selection_reason
    event = AuditEvent.objects.get(object_type="parent_order", object_id=str(parent.pk), event_type="parent_order.strategy_changed")
    assert event.before["strategy"] == "rfq" and event.after["strategy"] == "is" and event.reason == "no provider quotes this instrument"

    clock.advance(30)
    parent_tick(parent_id=parent.pk)  # now the IS algorithm plans and sends
    assert ChildOrder.objects.filter(parent=parent).exists()
    check_invariants(parent)


def test_cancel_kill_switch_and_pause_ask_the_destination_to_stop_after_commit(recorder, clock, instrument, portfolio, pm, trader):
    r = recorder()
    trader_actor = Actor.for_user(trader, "api")
    parents = []
    for qty in (10_000, 12_000, 14_000):
        p = _rfq_parent(instrument, [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=qty)])
        parent_tick(parent_id=p.pk)
        parents.append(p)
    a, b, c = parents

    with transaction.atomic():
        control.parent_cancel(parent_id=a.pk, actor=trader_actor)
        assert r.stopped == []  # nothing is called while the control's transaction holds the parent
    assert r.stopped[-1] == ([a.pk], f"parent cancelled by {trader_actor.name}")
    control.parent_pause(parent_id=b.pk, actor=trader_actor)
    assert r.stopped[-1][0] == [b.pk]
    ParentOrder.objects.filter(pk=c.pk).update(reserved_quantity=1000)  # held again (say a trader's request)
    control.kill_switch(scope="all", actor=trader_actor)
    assert r.stopped[-1] == ([c.pk], "kill switch")  # only parents holding something are asked


def test_a_cancelled_parent_closes_only_once_the_destination_released_what_it_held(recorder, clock, instrument, portfolio, pm, trader):
    r = recorder()
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)
    parent = _rfq_parent(instrument, [order])
    parent_tick(parent_id=parent.pk)
    r.parents_stop = lambda ids, reason: r.stopped.append((list(ids), reason))  # slow to release

    control.parent_cancel(parent_id=parent.pk, actor=Actor.for_user(trader, "api"))
    parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.PENDING_CANCEL and parent.reserved_quantity == 10_000

    ParentOrder.objects.filter(pk=parent.pk).update(reserved_quantity=0)  # the destination let go
    parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    order.refresh_from_db()
    assert parent.status == ExecStatus.CANCELLED and order.status == OrderStatus.CANCELLED


def test_a_constituent_cancel_stops_the_destination_and_releases_the_order(recorder, clock, instrument, portfolio, other_portfolio, pm, other_pm):
    r = recorder()
    keep = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)
    leave = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=6_000)
    parent = _rfq_parent(instrument, [keep, leave])
    parent_tick(parent_id=parent.pk)

    order_cancel(user=other_pm, order_id=leave.pk, actor=Actor.for_user(other_pm, "api"))
    parent_tick(parent_id=parent.pk)  # asks the destination to stop (it releases after this tick's commit)
    parent_tick(parent_id=parent.pk)  # releases the cancelled order and hands what is left back to the destination

    parent.refresh_from_db()
    leave.refresh_from_db()
    assert r.stopped and r.stopped[0][1] == "a constituent order is being cancelled"
    assert leave.status == OrderStatus.CANCELLED
    assert parent.quantity == 10_000 and parent.reserved_quantity == 10_000 and r.worked == [parent.pk, parent.pk]


def test_a_paused_parent_is_not_handed_to_the_destination_until_resumed(recorder, clock, instrument, portfolio, pm, trader):
    r = recorder(decline="should not be asked")
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)
    parent = _rfq_parent(instrument, [order])
    control.parent_pause(parent_id=parent.pk, actor=Actor.for_user(trader, "api"))

    result = parent_tick(parent_id=parent.pk)
    assert r.worked == [] and result.active is False
    parent.refresh_from_db()
    assert parent.control == Control.PAUSED and parent.strategy == "rfq"


def test_an_algorithm_plans_only_the_workable_quantity_and_never_overfills_what_an_rfq_holds(recorder, clock, instrument, portfolio, pm):
    recorder()
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=20_000)
    parent = working_parent(instrument=instrument, orders=[order], strategy="twap", window_s=10 * 60)
    ParentOrder.objects.filter(pk=parent.pk).update(reserved_quantity=15_000)

    for _ in range(18):  # 9 of its 10 minutes: the window's end would ask the destination to let go
        clock.advance(30)
        parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    started = AuditEvent.objects.filter(object_id=str(parent.pk), event_type="parent_order.plan_started").first()
    assert started.after["qty"] == 5_000
    assert parent.filled_quantity <= 5_000 and parent.reserved_quantity == 15_000
    check_invariants(parent)


def test_the_end_of_the_window_expires_a_parent_once_the_destination_let_go(recorder, clock, instrument, portfolio, pm):
    r = recorder()
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)
    parent = _rfq_parent(instrument, [order], window_s=120)
    parent_tick(parent_id=parent.pk)

    clock.advance(121)
    parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    assert r.stopped[-1][1] == "end of the working window"
    parent_tick(parent_id=parent.pk)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.EXPIRED
