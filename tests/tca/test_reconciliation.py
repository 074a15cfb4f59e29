"""Reconciliation: a book kept by the real services has no break; a break injected with raw SQL is found with
its code; the run and its audit row are written together or not at all."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from ems.models import Allocation, Fill
from ems.services.booking import internal_cross_book
from oms.models import AuditEvent
from oms.roles import Actor
from tca.models import ReconciliationRun
from tca.services import reconciliation as recon_module
from tca.services import reconciliation_run
from tests.ems import factories as f

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests.tca.reconciliation")


@pytest.fixture
def book(worked_parent, instrument, portfolio, pm, other_portfolio, other_pm):
    """A worked parent (two orders) and an internal cross of two other orders, all booked by the services."""
    parent, mine, theirs = worked_parent
    buy = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=300)
    sell = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=300, side="sell")
    cross = internal_cross_book(instrument=instrument, price=Decimal("100.05"), market_day=2, market_time_us=1_000_000,
                                buys=[(buy, 300)], sells=[(sell, 300)], actor=ACTOR)
    return {"parent": parent, "mine": mine, "theirs": theirs, "cross": cross, "buy": buy}


def _codes(run):
    return {(b["code"], b["object_type"], b["object_id"]) for b in run.breaks}


def test_a_book_kept_by_the_services_reconciles_and_the_run_is_audited(book):
    run = reconciliation_run(actor=ACTOR)

    assert run.ok and run.breaks == []
    assert run.parents_checked >= 1 and run.orders_checked >= 4 and run.crosses_checked == 1
    event = AuditEvent.objects.get(event_type="tca.reconciliation", object_id=str(run.pk))
    assert event.object_type == "reconciliation" and event.after["ok"] is True and event.after["breaks_total"] == 0
    assert event.actor_type == "system" and event.source == "system:tests.tca.reconciliation"


def test_an_allocation_changed_behind_the_services_back_is_found(book):
    alloc = Allocation.objects.filter(parent=book["parent"], order=book["mine"]).order_by("id").first()
    with connection.cursor() as cur:
        cur.execute("UPDATE ems_allocation SET quantity = quantity + 7 WHERE id = %s", [alloc.pk])

    run = reconciliation_run(actor=ACTOR)

    assert not run.ok
    pid, oid = book["parent"].pk, book["mine"].pk
    assert {("recon.parent_alloc_qty", "parent_order", pid), ("recon.parent_alloc_value", "parent_order", pid),
            ("recon.fill_alloc_qty", "fill", alloc.fill_id), ("recon.order_filled_qty", "order", oid),
            ("recon.constituent_alloc_qty", "order", oid)} <= _codes(run)
    assert all(b["object_id"] in (pid, oid, alloc.fill_id) for b in run.breaks)  # nothing else is blamed
    qty_break = next(b for b in run.breaks if b["code"] == "recon.parent_alloc_qty")
    assert int(qty_break["found"]) - int(qty_break["expected"]) == 7
    event = AuditEvent.objects.get(event_type="tca.reconciliation", object_id=str(run.pk))
    assert event.after["ok"] is False and event.after["by_code"]["recon.parent_alloc_qty"] == 1


def test_an_order_average_price_altered_is_found(book):
    order = book["theirs"]
    with connection.cursor() as cur:
        cur.execute("UPDATE oms_order SET avg_price = avg_price + 0.01 WHERE id = %s", [order.pk])

    run = reconciliation_run(actor=ACTOR)

    assert _codes(run) == {("recon.order_avg_price", "order", order.pk)}
    (brk,) = run.breaks
    assert Decimal(brk["found"]) - Decimal(brk["expected"]) == Decimal("0.01")


def test_a_parent_whose_filled_quantity_disagrees_with_its_fills_is_found(book):
    with connection.cursor() as cur:
        cur.execute("UPDATE ems_parentorder SET filled_quantity = filled_quantity - 100 WHERE id = %s", [book["parent"].pk])
    run = reconciliation_run(actor=ACTOR)
    assert _codes(run) == {("recon.parent_fill_qty", "parent_order", book["parent"].pk)}


def test_an_internal_cross_that_does_not_net_to_zero_is_found(book):
    buy_fill = Fill.objects.get(cross=book["cross"], side="buy")
    with connection.cursor() as cur:
        cur.execute("UPDATE ems_fill SET quantity = 299, allocated_quantity = 299 WHERE id = %s", [buy_fill.pk])

    run = reconciliation_run(actor=ACTOR)

    codes = _codes(run)
    assert ("recon.cross_unbalanced", "internal_cross", book["cross"].pk) in codes
    assert ("recon.cross_unallocated", "fill", buy_fill.pk) in codes  # 300 allocated to a 299 fill


def test_a_fault_after_the_audit_row_rolls_back_the_run_and_its_audit_row(book, monkeypatch):
    real = recon_module.audit_append

    def audit_then_fail(events):
        real(events)
        raise RuntimeError("injected fault after the audit row")

    monkeypatch.setattr(recon_module, "audit_append", audit_then_fail)
    events_before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError):
        reconciliation_run(actor=ACTOR)
    assert not ReconciliationRun.objects.exists()
    assert AuditEvent.objects.count() == events_before
    assert not AuditEvent.objects.filter(event_type="tca.reconciliation").exists()
