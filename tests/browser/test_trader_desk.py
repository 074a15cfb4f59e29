"""The trader desk in a real browser: parents with progress vs schedule, the parent page with its charts,
pause / resume from the page and the desk, and the kill switch halting everything in scope (live, no reload)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ems import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book(pm, portfolio, other_pm, other_portfolio, instrument, other_instrument):
    """Two working parents in ACME (one shared by two PMs, part filled) and one in BETA."""
    from ems.selectors import live_clock

    now = live_clock().market_time()
    start = max(0, min(now.t_us, 23_400_000_000) - 20 * 60_000_000)
    shared = f.parent(
        instrument=instrument, market_day=now.day, start_us=start, end_us=start + 60 * 60_000_000,
        orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=4000),
                f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=6000)],
    )
    child = f.child(parent=shared, quantity=2000, venue_code="XSMA")
    dark = f.child(parent=shared, quantity=1000, venue_code="DRKB", kind="dark", price=None)
    for k in range(6):
        f.fill(parent=shared, child=child if k % 2 else dark, quantity=300, price=f"{100 + (k - 3) * 0.02:.2f}",
               t_us=start + (k + 1) * 150_000_000)
    f.child(parent=shared, quantity=500, venue_code="XSMB")
    small = f.parent(instrument=instrument, market_day=now.day, start_us=start, end_us=start + 30 * 60_000_000, strategy="twap",
                     orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=800)])
    f.child(parent=small, quantity=200)
    beta = f.parent(instrument=other_instrument, market_day=now.day, start_us=start, end_us=start + 60 * 60_000_000, side="sell",
                    strategy="pov", arrival_price="50.00", orders=[f.order(portfolio=other_portfolio, instrument=other_instrument,
                                                                           user=other_pm, side="sell", quantity=5000)])
    f.child(parent=beta, quantity=400, price="50.01")
    f.fill(parent=beta, quantity=400, price="50.03", t_us=start + 60_000_000)
    return shared, small, beta


def test_desk_and_parent_page_show_progress_and_let_the_trader_pause_and_resume(signed_in, trader, book, screenshot):
    shared, small, beta = book
    page = signed_in(trader)
    page.goto("/desk/execution/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")

    rows = page.locator("#parents-table tbody tr")
    expect(rows).to_have_count(3)
    row = page.locator(f"#parent-row-{shared.id}")
    expect(row).to_contain_text("VWAP")
    expect(row).to_contain_text("1,800")  # filled
    expect(row.locator(".pbar-sched")).to_have_count(1)
    expect(page.locator(f"#parent-row-{beta.id} .slip")).to_contain_text("+6.0 bp")  # sold 6 bp over arrival: better
    screenshot(page, "trader_desk")

    row.locator("a", has_text=f"P{shared.id}").click()
    page.wait_for_url(f"**/desk/parents/{shared.id}/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    expect(page.locator("#constituents tbody tr")).to_have_count(2)
    expect(page.locator("#venues tbody tr")).to_have_count(3)
    expect(page.locator("#fills tbody tr")).to_have_count(6)
    expect(page.locator("#chart-price")).to_have_attribute("data-fills", "6")
    expect(page.locator("#chart-progress canvas")).to_have_count(1)

    page.click("#btn-pause")
    expect(page.locator("#flash")).to_contain_text(f"Parent {shared.id} paused")
    expect(page.locator(".parent-head .ctl")).to_have_text("PAUSED")
    expect(page.locator("#children tbody tr[data-status=PENDING_CANCEL]")).to_have_count(3)  # its open children
    screenshot(page, "trader_parent_paused")

    page.click("#btn-resume")
    expect(page.locator("#flash")).to_contain_text(f"Parent {shared.id} resumed")
    expect(page.locator(".parent-head .ctl")).to_have_text("RUNNING")

    # From the desk: pause the small one; the row follows without a reload.
    page.goto("/desk/execution/")
    page.locator(f"#parent-row-{small.id}").get_by_role("button", name="Pause").click()
    expect(page.locator(f"#parent-row-{small.id} .ctl")).to_have_text("PAUSED")
    page.locator(f"#parent-row-{small.id}").get_by_role("button", name="Resume").click()
    expect(page.locator(f"#parent-row-{small.id} .ctl")).to_have_text("RUNNING")

    from oms.models import AuditEvent

    events = list(AuditEvent.objects.filter(object_type="parent_order").order_by("id").values_list("event_type", "object_id", "source"))
    assert events == [
        ("parent_order.paused", str(shared.id), f"browser:{trader.username}"),
        ("parent_order.resumed", str(shared.id), f"browser:{trader.username}"),
        ("parent_order.paused", str(small.id), f"browser:{trader.username}"),
        ("parent_order.resumed", str(small.id), f"browser:{trader.username}"),
    ]


def test_kill_switch_halts_everything_in_scope_and_asks_first(signed_in, trader, book, screenshot):
    shared, small, beta = book
    page = signed_in(trader)
    page.goto("/desk/execution/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")

    page.select_option("#kill-scope", "instrument")
    page.select_option("#kill-instrument", "ACME")
    page.click("#kill-arm")
    expect(page.locator("#kill-question")).to_have_text("Halt parents in ACME and cancel their open child orders?")
    screenshot(page, "trader_kill_switch_confirm")
    page.click("#kill-no")  # nothing happens on "No"
    expect(page.locator("#kill-arm")).to_be_visible()
    expect(page.locator(f"#parent-row-{shared.id} .ctl")).to_have_text("RUNNING")

    page.click("#kill-arm")
    page.click("#kill-yes")
    expect(page.locator("#flash")).to_contain_text("Kill switch: halted instrument ACME")
    for p in (shared, small):
        expect(page.locator(f"#parent-row-{p.id} .ctl")).to_have_text("HALTED")
    expect(page.locator(f"#parent-row-{beta.id} .ctl")).to_have_text("RUNNING")
    screenshot(page, "trader_desk_halted")

    for p, control in ((shared, "halted"), (small, "halted"), (beta, "running")):
        p.refresh_from_db()
        assert p.control == control
        assert not p.children.filter(status__in=["PENDING_NEW", "ACCEPTED", "PARTIALLY_FILLED"]).exists() or control == "running"

    # Halted parents stay halted until a trader resumes each one.
    page.locator(f"#parent-row-{shared.id}").get_by_role("button", name="Resume").click()
    expect(page.locator(f"#parent-row-{shared.id} .ctl")).to_have_text("RUNNING")
    expect(page.locator(f"#parent-row-{small.id} .ctl")).to_have_text("HALTED")


def test_compliance_reads_the_desk_without_controls_and_a_pm_is_refused(signed_in, compliance, pm, book):
    shared, _, _ = book
    page = signed_in(compliance)
    page.goto(f"/desk/parents/{shared.id}/")
    expect(page.locator(".parent-head h1")).to_have_text(f"Parent P{shared.id}")
    expect(page.locator("#parent-controls")).to_have_count(0)
    page.goto("/desk/execution/")
    expect(page.locator("#kill-switch")).to_have_count(0)

    pm_page = signed_in(pm)
    expect(pm_page.locator("nav.nav")).not_to_contain_text("Execution")
    assert pm_page.goto("/desk/execution/").status == 403

    # Nor does the desk's websocket take a PM: closed with 4403.
    code = pm_page.evaluate("""() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws/desk/`);
        ws.onclose = (e) => resolve(e.code);
    })""")
    assert code == 4403
