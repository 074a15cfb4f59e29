"""Crossing against a working parent while others hold it, on real PostgreSQL connections (threads): a cycle
waits for the parent's row lock and reads it afresh, so a parent is never crossed past what is free."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from ems.models import ChildOrder, Constituent, Fill, ParentOrder
from ems.services import aggregation, control, ticks
from ems.services.aggregation import aggregation_cycle
from ems.states import ExecStatus
from oms.models import Order
from oms.roles import Actor
from oms.services import audit_verify
from oms.services import intake as intake_service
from tca.services.reconciliation import reconciliation_breaks
from tests.concurrency import run_together
from tests.ems import factories as f
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

N_SELLS = 40  # of 100 each, against a 1,000 buy parent
TRADER = Actor.system("trader-desk")


class _Sends:
    """Stands in for the Celery app of intake and ticks: records what would be enqueued (no broker traffic)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []
        self._lock = threading.Lock()

    def send_task(self, name, args=None, **kw) -> None:
        with self._lock:
            self.sent.append((name, args))


@pytest.fixture
def sends(monkeypatch):
    app = _Sends()
    monkeypatch.setattr(ticks, "current_app", app)
    monkeypatch.setattr(intake_service, "current_app", app)
    return app


@pytest.fixture
def parent(market, submit, sends):
    """A working 1,000 buy parent, then N_SELLS sells of 100 waiting for a cycle."""
    submit("buy", 1000)
    aggregation_cycle(actor=Actor.system("aggregation"))
    working = ParentOrder.objects.get()
    for i in range(N_SELLS):
        submit("sell", 100, who="ab"[i % 2])
    return working


def _lock_waiters() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cur.fetchone()[0]


def _while_holding(parent_id: int, action, *, cycles: int):
    """Run ``cycles`` aggregation cycles that start while another transaction holds the parent's row lock
    (as a tick does) and does ``action`` under it once every cycle waits for that lock; return the cycles'
    results."""
    held, go = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            ParentOrder.objects.select_for_update().get(pk=parent_id)
            held.set()
            assert go.wait(30)
            action()

    def cycle():
        assert held.wait(30)
        return aggregation_cycle(actor=Actor.system("aggregation"))

    def release_when_all_wait():
        assert held.wait(30)
        if wait_for(lambda: _lock_waiters() >= cycles, 30, every_s=0.02):
            go.set()

    results, errors = run_together([holder, *[cycle] * cycles, release_when_all_wait])
    assert not errors, errors
    assert go.is_set(), "the cycles never waited for the parent's lock"
    return results[1:-1]


def _crossed_against(parent: ParentOrder) -> int:
    return Fill.objects.filter(parent=parent, cross__isnull=False).aggregate(q=Sum("quantity"))["q"] or 0


def _book_sound(*, audited: bool = True) -> None:
    assert reconciliation_breaks()[0] == []
    if audited:  # (children written by the factory have no creation event)
        assert audit_verify().ok
    # Every sell is either filled (by crosses) or has its rest, and only its rest, in a new parent.
    for o in Order.objects.filter(side="sell"):
        rest = Constituent.objects.filter(order=o).values_list("quantity", flat=True).first() or 0
        assert o.filled_quantity + rest == o.quantity, o


def test_two_cycles_waiting_for_a_ticking_parent_cross_only_what_the_tick_left_free(parent, monkeypatch):
    monkeypatch.setattr(aggregation, "CANDIDATE_LIMIT", N_SELLS // 2)  # each cycle takes its own 20 sells
    resting = f.child(parent=parent, quantity=300)

    def tick():
        # Under the lock the cycles wait for: the resting child is cancelled (its 300 are free again) and a new
        # child of 400 is sent. A cycle that read the parent before it had the lock would cross 700.
        ChildOrder.objects.filter(pk=resting.pk).update(status=ExecStatus.CANCELLED)
        f.child(parent=parent, quantity=400, status=ExecStatus.PENDING_NEW)

    results = _while_holding(parent.pk, tick, cycles=2)

    # 1,000 less the 400 now on the wire: 600, crossed by whichever cycle got the lock first; the other none.
    assert sorted(r.candidates for r in results) == [N_SELLS // 2] * 2
    assert sorted(sum(1 for pid in r.parents_crossed if pid == parent.pk) for r in results) == [0, 1]
    parent.refresh_from_db()
    assert _crossed_against(parent) == parent.filled_quantity == 600
    assert parent.replan == aggregation.REPLAN_REASON and parent.status == ExecStatus.PARTIALLY_FILLED
    _book_sound(audited=False)


def test_a_cycle_waiting_for_a_parent_the_trader_cancels_does_not_cross_it(parent, sends):
    def cancel():
        control.parent_cancel(parent_id=parent.pk, actor=TRADER)

    (result,) = _while_holding(parent.pk, cancel, cycles=1)

    parent.refresh_from_db()
    assert parent.status == ExecStatus.PENDING_CANCEL and parent.filled_quantity == 0 and _crossed_against(parent) == 0
    assert result.parents_crossed == () and result.crossed_quantity == 0 and len(result.parents) == 1
    assert ParentOrder.objects.get(pk=result.parents[0]).quantity == N_SELLS * 100  # every sell goes to the market
    _book_sound()


@pytest.mark.parametrize("round_no", range(3))
def test_a_cycle_racing_a_trader_cancel_crosses_all_or_nothing_of_the_parent(parent, round_no):
    results, errors = run_together([
        lambda: aggregation_cycle(actor=Actor.system("aggregation")),
        lambda: control.parent_cancel(parent_id=parent.pk, actor=TRADER),
    ])

    parent.refresh_from_db()
    if parent.status == ExecStatus.PENDING_CANCEL:  # the cancel had the lock first: nothing crossed
        assert not errors and _crossed_against(parent) == parent.filled_quantity == 0
        assert results[0].parents_crossed == ()
    else:  # the cycle had it first: the parent is filled by the cross, and the cancel finds nothing to cancel
        assert parent.status == ExecStatus.FILLED and _crossed_against(parent) == parent.filled_quantity == 1000
        assert [getattr(e, "code", e) for e in errors] == ["parent_order.not_open"]
    _book_sound()


@pytest.mark.parametrize("round_no", range(3))
def test_free_running_cycles_never_cross_a_parent_past_its_quantity(parent, monkeypatch, round_no):
    monkeypatch.setattr(aggregation, "CANDIDATE_LIMIT", 7)  # several cycles, each with a few sells
    results, errors = run_together([lambda: aggregation_cycle(actor=Actor.system("aggregation"))] * 4)
    assert not errors, errors
    while aggregation_cycle(actor=Actor.system("aggregation")).candidates:
        pass

    parent.refresh_from_db()
    assert _crossed_against(parent) == parent.filled_quantity == 1000 and parent.status == ExecStatus.FILLED
    assert Order.objects.filter(side="sell").aggregate(q=Sum("filled_quantity"))["q"] == 1000
    _book_sound()
