"""Execution reports from the outbox, to real QuickFIX initiators: fills as 150=F, a gateway restart with fills
booked while it was down, two clients at once, drop copy, expiry, and a report never sent twice as a new message."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.services.booking import Execution, fills_book
from fix.engine import field_or
from fix.models import FixReport, SessionKind
from oms.models import Order
from oms.roles import Actor
from oms.services.lifecycle import order_close, orders_expire_day
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_order_entry import cancel_request, new_order, running_gateway, tags
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "fix:SMART:CLIENT1"
SYSTEM = Actor.system("test")
_exec = itertools.count(1)


@pytest.fixture
def session(api_client_user, client_portfolio, instrument):
    return add_session(api_client_user, "SMART", "CLIENT1")


@pytest.fixture
def port():
    return free_port()


def working(order: Order, venue: str = "XSMA", at_venue: int | None = None):
    """The order worked in a parent with one child of ``at_venue`` shares (all of it) at ``venue``, as
    aggregation and routing leave it."""
    parent = f.parent(instrument=order.instrument, orders=[order], side=order.side)
    return f.child(parent=parent, venue_code=venue, quantity=at_venue or order.quantity, price=None)


def book(child, quantity: int, price: str) -> str:
    """Book a fill of ``child`` through the EMS's booking service (allocated to its parent's orders); its exec id."""
    exec_id = f"T-{next(_exec)}"
    fills_book(executions=[(child.pk, Execution(exec_id=exec_id, venue_code=child.venue.code, side=child.side, quantity=quantity,
                                               price=Decimal(price), liquidity="taker", fee=Decimal("0.10"), market_day=0,
                                               market_time_us=60_000_000))], actor=SYSTEM)
    return exec_id


def entered(client: FixClient, cl_ord_id: str, **kw) -> Order:
    client.send(new_order(cl_ord_id, **kw))
    assert field_or(client.expect("8"), 150) == "0"
    return Order.objects.get(client_order_id=cl_ord_id, source=f"fix:SMART:{client.sid.getSenderCompID().getValue()}")


def trades(client: FixClient, n: int) -> list:
    out = [client.expect("8") for _ in range(n)]
    assert [field_or(er, 150) for er in out] == ["F"] * n
    return out


def test_each_fill_is_an_execution_report_trade_with_last_and_cumulative_figures(session, port):
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        order = entered(client, "T-1", qty="300", price="101")
        child = working(order)
        first, second = book(child, 100, "100.50"), book(child, 200, "100.80")
        one, two = trades(client, 2)

    assert tags(one, 11, 17, 39, 32, 31, 30, 14, 151, 6) == {
        11: "T-1", 17: f"F{order.pk}-{first}", 39: "1", 32: "100", 31: "100.5", 30: "XSMA", 14: "100", 151: "200", 6: "100.5"}
    assert tags(two, 17, 39, 32, 31, 14, 151, 6) == {
        17: f"F{order.pk}-{second}", 39: "2", 32: "200", 31: "100.8", 14: "300", 151: "0", 6: "100.7"}
    assert FixReport.objects.filter(order=order, sent_seq__isnull=True).count() == 0


def test_fills_booked_while_the_gateway_was_stopped_reach_the_client_after_its_restart_in_sequence(session, port):
    with FixClient(port, "CLIENT1", "SMART", reset=False) as client:
        with running_gateway(port):
            assert client.wait_logon()
            order = entered(client, "R-1", qty="500", price="101")
            child = working(order)
        client.logged_on.clear()
        # The gateway is down: the fills are booked all the same, their reports wait in the outbox.
        booked = [book(child, 100, "100.10") for _ in range(3)]
        assert FixReport.objects.filter(order=order, exec_type="F", sent_seq__isnull=True).count() == 3
        with running_gateway(port):
            assert client.wait_logon(20), "the client did not log on again"
            got = trades(client, 3)
            assert client.received.empty() or field_or(client.expect("8", timeout=1), 150) != "F"

    assert [field_or(er, 17) for er in got] == [f"F{order.pk}-{e}" for e in booked]
    assert [field_or(er, 14) for er in got] == ["100", "200", "300"]
    seqs = [int(field_or(er.getHeader(), 34)) for er in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert list(FixReport.objects.filter(order=order, exec_type="F").order_by("id").values_list("sent_seq", flat=True)) == seqs


def test_a_report_sent_but_not_marked_before_a_stop_is_not_sent_again_as_a_new_message(session, port):
    with FixClient(port, "CLIENT1", "SMART", reset=False) as client:
        with running_gateway(port):
            assert client.wait_logon()
            order = entered(client, "X-1", qty="200", price="101")
            book(working(order), 100, "100.00")
            first = trades(client, 1)[0]
        # As if the gateway had died between sending the report and marking it.
        row = FixReport.objects.get(order=order, exec_type="F")
        FixReport.objects.filter(pk=row.pk).update(sent_seq=None, sent_at=None)
        client.logged_on.clear()
        with running_gateway(port):
            assert client.wait_logon(20)
            client.send(new_order("X-2"))
            nxt = client.expect("8")  # the next thing we hear is the new order's answer, not the fill again
    assert field_or(nxt, 11) == "X-2"
    row.refresh_from_db()
    assert row.sent_seq == int(field_or(first.getHeader(), 34))


def test_two_clients_at_once_each_get_only_their_own_orders_reports(session, api_client_user, port):
    add_session(api_client_user, "SMART", "CLIENT2")
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as one, FixClient(port, "CLIENT2", "SMART") as two:
        assert one.wait_logon() and two.wait_logon()
        mine = entered(one, "A-1", qty="100", price="101")
        theirs = entered(two, "A-1", qty="100", price="101")  # the same ClOrdID on another session: another order
        book(working(mine), 40, "100.00")
        book(working(theirs), 60, "100.00")
        got_one, got_two = trades(one, 1)[0], trades(two, 1)[0]
        assert one.received.empty() and two.received.empty()
    assert (field_or(got_one, 37), field_or(got_one, 32)) == (str(mine.pk), "40")
    assert (field_or(got_two, 37), field_or(got_two, 32)) == (str(theirs.pk), "60")


def test_a_drop_copy_session_gets_every_fill_of_its_portfolios_and_what_it_missed_after_logging_on(
        session, compliance, pm, portfolio, instrument, port):
    add_session(compliance, "SMART", "COPY1", kind=SessionKind.DROP_COPY)  # compliance: every portfolio
    browser_order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100)
    with FixClient(port, "COPY1", "SMART", reset=False) as copy:
        with running_gateway(port):
            with FixClient(port, "CLIENT1", "SMART") as client:
                assert client.wait_logon() and copy.wait_logon()
                fix_order = entered(client, "D-1", qty="100", price="101")
                book(working(fix_order), 100, "100.00")
                trades(client, 1)
                live = trades(copy, 1)[0]
        copy.logged_on.clear()
        missed = book(working(browser_order), 100, "100.20")  # booked while the drop copy was away
        with running_gateway(port):
            assert copy.wait_logon(20)
            later = trades(copy, 1)[0]
    assert tags(live, 37, 11, 1, 32) == {37: str(fix_order.pk), 11: "D-1", 1: "BRIDGE-BOOK", 32: "100"}
    assert tags(later, 37, 17, 1, 31) == {37: str(browser_order.pk), 17: f"F{browser_order.pk}-{missed}", 1: portfolio.code, 31: "100.2"}


def test_a_drop_copy_of_a_client_sees_only_the_portfolios_it_is_granted(session, api_client_user, pm, portfolio, instrument, port):
    add_session(api_client_user, "SMART", "COPY2", kind=SessionKind.DROP_COPY)
    other = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100)  # a PM's portfolio, not granted
    with running_gateway(port), FixClient(port, "COPY2", "SMART") as copy, FixClient(port, "CLIENT1", "SMART") as client:
        assert copy.wait_logon() and client.wait_logon()
        book(working(other), 100, "100.00")
        mine = entered(client, "G-1", qty="50", price="101")
        book(working(mine), 50, "100.00")
        got = trades(copy, 1)[0]
        assert copy.received.empty()
    assert field_or(got, 37) == str(mine.pk)


def test_a_day_order_expired_at_the_end_of_the_day_is_reported_expired(session, port):
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        order = entered(client, "E-1", qty="100", price="101")
        assert orders_expire_day(before=timezone.now() + timedelta(seconds=1), actor=SYSTEM) == 1
        er = client.expect("8")
    assert tags(er, 150, 39, 11, 37, 151) == {150: "C", 39: "C", 11: "E-1", 37: str(order.pk), 151: "0"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED


def test_a_cancel_pending_in_a_parent_is_reported_pending_then_cancelled_with_the_cancels_ids(session, port):
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        order = entered(client, "P-1", qty="100", price="101")
        working(order)
        client.send(cancel_request("P-1", "P-1-X"))
        pending = client.expect("8")
        order_close(order_id=order.pk, status=OrderStatus.CANCELLED, actor=SYSTEM)  # as the EMS closes it
        done = client.expect("8")
    assert tags(pending, 150, 39, 11, 41) == {150: "6", 39: "6", 11: "P-1-X", 41: "P-1"}
    assert tags(done, 150, 39, 11, 41) == {150: "4", 39: "4", 11: "P-1-X", 41: "P-1"}


def test_a_gtc_order_carried_to_the_next_day_is_reported_done_for_day(session, port):
    import quickfix as qf

    from ems.services.carry_over import parent_order_carry_over

    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        gtc = new_order("GTC-1", qty="100", price="101")
        gtc.setField(qf.TimeInForce("1"))  # FIX 59: 1 good till cancel
        client.send(gtc)
        assert field_or(client.expect("8"), 150) == "0"
        order = Order.objects.get(source=SOURCE, client_order_id="GTC-1")
        parent = f.parent(instrument=order.instrument, orders=[order])
        parent_order_carry_over(parent_id=parent.pk, actor=SYSTEM)  # its day closed with nothing at a venue
        er = client.expect("8")
    assert tags(er, 150, 39, 11, 59, 151) == {150: "3", 39: "3", 11: "GTC-1", 59: "1", 151: "100"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED  # still working, on the next day
