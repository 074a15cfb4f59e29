"""The kill switch: every open parent in scope halted and every open child cancelled, audited; halted
parents stay halted until a trader resumes each one (PostgreSQL, the real driver)."""

from __future__ import annotations

import pytest

from ems.models import ChildOrder
from ems.services.control import kill_switch, parent_resume
from ems.services.working import parent_tick
from ems.states import Control, ExecStatus
from oms.errors import DomainError
from oms.models import AuditEvent
from tests.ems import factories as f
from tests.ems.live_helpers import check_invariants, tick_until_done, working_parent
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(instrument, other_instrument, portfolio, other_portfolio, pm, other_pm, clock):
    """Three working parents: ACME for portfolio A, ACME for portfolio B, BETA for portfolio A."""
    a = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=30_000)])
    b = working_parent(instrument=instrument, orders=[f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm,
                                                              side="sell", quantity=30_000)])
    c = working_parent(instrument=other_instrument, orders=[f.order(portfolio=portfolio, instrument=other_instrument, user=pm,
                                                                    quantity=20_000)])
    for _ in range(3):
        for p in (a, b, c):
            parent_tick(parent_id=p.pk)
        clock.advance(30)
    return a, b, c


def _open_children(parents):
    return ChildOrder.objects.filter(parent__in=parents, status__in=[ExecStatus.PENDING_NEW, ExecStatus.ACCEPTED, ExecStatus.PARTIALLY_FILLED])


def _settle(parents, clock):
    for _ in range(4):
        clock.advance(1)
        for p in parents:
            parent_tick(parent_id=p.pk)


def test_kill_switch_all_halts_every_parent_and_cancels_every_child(book, clock, actor):
    assert _open_children(book).exists()
    result = kill_switch(scope="all", actor=actor)
    assert result.parents_halted == 3 and set(result.parent_ids) == {p.pk for p in book}
    assert not _open_children(book).exists()  # every open child has its cancel sent, in the same transaction
    assert result.children_cancelled > 0
    _settle(book, clock)
    assert not ChildOrder.objects.filter(parent__in=book, status__in=ExecStatus.open()).exists()  # venues confirmed
    sent = ChildOrder.objects.filter(parent__in=book).count()
    for _ in range(5):  # halted parents stay halted: nothing new goes out
        clock.advance(30)
        for p in book:
            parent_tick(parent_id=p.pk)
    assert ChildOrder.objects.filter(parent__in=book).count() == sent
    for p in book:
        p.refresh_from_db()
        assert p.control == Control.HALTED and p.is_open
        check_invariants(p)
    ev = AuditEvent.objects.get(event_type="kill_switch.engaged")
    assert ev.after["parents_halted"] == 3 and ev.after["children_cancelled"] == result.children_cancelled
    assert AuditEvent.objects.filter(event_type="parent_order.halted").count() == 3

    a = book[0]
    parent_resume(parent_id=a.pk, actor=actor)  # resume is per parent, and audited
    tick_until_done(a, clock)
    a.refresh_from_db()
    assert a.status == ExecStatus.FILLED and a.control == Control.RUNNING
    assert AuditEvent.objects.filter(event_type="parent_order.resumed", object_id=str(a.pk)).exists()
    for p in book[1:]:
        p.refresh_from_db()
        assert p.control == Control.HALTED


def test_kill_switch_by_portfolio_halts_only_parents_holding_its_orders(book, clock, actor, portfolio):
    a, b, c = book
    result = kill_switch(scope="portfolio", portfolio=portfolio.code, actor=actor)
    assert set(result.parent_ids) == {a.pk, c.pk}
    b.refresh_from_db()
    assert b.control == Control.RUNNING
    assert not _open_children([a, c]).exists()


def test_kill_switch_by_instrument_halts_only_that_instrument(book, clock, actor, other_instrument):
    a, b, c = book
    result = kill_switch(scope="instrument", instrument=other_instrument.symbol, actor=actor)
    assert result.parent_ids == (c.pk,)
    for p, control in ((a, Control.RUNNING), (b, Control.RUNNING), (c, Control.HALTED)):
        p.refresh_from_db()
        assert p.control == control


def test_kill_switch_twice_is_harmless_and_bad_scopes_are_refused(book, actor):
    kill_switch(scope="all", actor=actor)
    again = kill_switch(scope="all", actor=actor)
    assert again.parents_halted == 0 and again.children_cancelled == 0
    for kwargs in ({"scope": "everything"}, {"scope": "portfolio"}, {"scope": "instrument"}):
        with pytest.raises(DomainError) as exc:
            kill_switch(actor=actor, **kwargs)
        assert exc.value.code == "kill_switch.bad_scope" and exc.value.status == 400


def test_kill_switch_on_an_unknown_portfolio_halts_nothing(book, actor):
    PortfolioFactory(code="EMPTY-BOOK")
    result = kill_switch(scope="portfolio", portfolio="EMPTY-BOOK", actor=actor)
    assert result.parent_ids == () and result.parents_halted == 0
