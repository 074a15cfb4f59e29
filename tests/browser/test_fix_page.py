"""The FIX page with a real gateway and a real QuickFIX initiator (issue 21, item 7): an admin watches the
session log on and its order arrive, finds the order's messages by ClOrdID, and disables the session."""

import pytest
from playwright.sync_api import expect

from fix.models import FixSession
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_order_entry import new_order, running_gateway
from tests.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_watches_a_session_log_on_finds_its_order_and_disables_it(
    signed_in, admin_user, api_client_user, client_portfolio, instrument, settings, tmp_path, screenshot
):
    settings.FIX_STORE_DIR = tmp_path / "fix-store"
    session = add_session(api_client_user, "SMART", "CLIENT1")
    port = free_port()
    page = signed_in(admin_user)
    page.goto("/fix/")
    row = page.locator("#fix-sessions tr[data-session='SMART-CLIENT1']")
    expect(row.locator("td.state")).to_have_text("logged out")

    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order("WATCH-1"))
        client.expect("8")
        # The list refreshes every 5 s: the session shows logged on with its traffic.
        expect(row.locator("td.state")).to_have_text("logged on", timeout=15_000)
        screenshot(page, "fix-sessions")

        row.locator("a").click()
        page.fill("input[name=cl_ord_id]", "WATCH-1")
        page.click("text=Search")
        log = page.locator("#fix-log tbody tr")
        expect(log).to_have_count(2)  # the NewOrderSingle in, its ExecutionReport out
        expect(page.locator("#fix-log tr[data-msg-type='D']")).to_contain_text("11=WATCH-1")
        expect(page.locator("#fix-log tr[data-msg-type='8']")).to_contain_text("150=0")
        page.wait_for_timeout(5_000)  # an admin reads the log
        screenshot(page, "fix-session-log")

        page.click("#fix-disable")
        expect(page.locator("#fix-done")).to_contain_text("disabled (audited)")
        expect(page.locator("#fix-state .state")).to_have_text("disabled")
    session.refresh_from_db()
    assert not FixSession.objects.get(pk=session.pk).enabled
