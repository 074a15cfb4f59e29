"""A kill-switched portfolio in a real browser: the trader engages it on the desk, which then shows it
engaged; the PM's next order from the ticket is refused and shown as refused because of the kill switch (on
the ticket and in the blotter); the trader lifts it with the desk's button and the PM's next order is accepted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from oms.models import AuditEvent, Order
from tests.browser.test_desk import fill_ticket, submit_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_kill_switched_portfolios_new_order_is_refused_and_shown_as_such(signed_in, trader, pm, portfolio, instrument, screenshot):
    desk = signed_in(trader)
    desk.goto("/desk/execution/")
    desk.select_option("#kill-scope", "portfolio")
    desk.select_option("#kill-portfolio", portfolio.code)
    desk.click("#kill-arm")
    desk.click("#kill-yes")
    expect(desk.locator("#flash")).to_contain_text(f"Kill switch: halted portfolio {portfolio.code}; new orders refused until lifted")
    engaged = desk.locator("#kill-engaged")
    expect(engaged).to_contain_text(f"portfolio {portfolio.code}")
    expect(engaged).to_contain_text("new orders refused")
    screenshot(desk, "kill_switch_engaged_desk")

    ticket = signed_in(pm)
    client_order_id = ticket.input_value("#ticket [name=client_order_id]")
    fill_ticket(ticket)
    submit_ticket(ticket)
    top = ticket.locator("#ticket .top-errors .err-denied")
    expect(top).to_contain_text(f"Kill switch engaged on portfolio {portfolio.code}")
    expect(top).to_contain_text("risk.kill_switch")
    order = Order.objects.get(client_order_id=client_order_id)
    assert (order.status, order.deny_code) == ("DENIED", "risk.kill_switch")
    row = ticket.locator(f"#order-row-{order.id}")
    expect(row.locator(".badge")).to_have_text("DENIED")
    expect(row.locator(".note")).to_contain_text("Kill switch engaged")
    screenshot(ticket, "kill_switch_order_refused")

    engaged.get_by_role("button", name="Lift").click()
    engaged.get_by_role("button", name="Yes, lift").click()
    expect(desk.locator("#flash")).to_contain_text(f"Kill switch lifted on portfolio {portfolio.code}")
    expect(desk.locator("#kill-engaged")).to_have_count(0)
    assert AuditEvent.objects.filter(event_type="kill_switch.lifted", source=f"browser:{trader.username}").exists()

    ticket.reload()
    fill_ticket(ticket)
    submit_ticket(ticket)
    expect(ticket.locator("#ticket .notice-ok")).to_contain_text("accepted")
