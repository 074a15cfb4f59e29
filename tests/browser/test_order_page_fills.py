"""The order page of a long-worked order: its fills are one line of the timeline that opens on a click and
stays open through live updates (issue 19, item 12)."""

import pytest
from playwright.sync_api import expect

from tests.ems import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pm_opens_the_collapsed_fills_and_they_stay_open_through_a_live_update(
    signed_in, pm, portfolio, instrument, api_post, screenshot
):
    order = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=40)
    page = signed_in(pm)
    page.goto(f"/orders/{order.id}/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")

    summary = page.locator("#timeline tr.run-summary")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("fill.booked × 40")
    expect(summary).to_contain_text("ACCEPTED → PARTIALLY_FILLED")
    expect(summary).to_contain_text("filled 0 → 400")
    expect(page.locator("#timeline tr.run-row:visible")).to_have_count(0)
    expect(page.locator("#timeline tbody tr:visible")).to_have_count(3)  # received, accepted, the fills' line
    expect(page.locator("#executions-summary")).to_contain_text("40 fills · 400 shares")
    screenshot(page, "order-fills-collapsed")

    summary.locator(".run-toggle").click()
    expect(page.locator("#timeline tr.run-row:visible")).to_have_count(41)  # the 40 fills and the status move
    expect(summary.locator(".run-toggle")).to_have_attribute("aria-expanded", "true")

    # A cancel made elsewhere re-renders the page live: the new event arrives and the fills stay open.
    assert api_post(pm, f"/api/orders/{order.id}/cancel/").status_code == 200
    expect(page.locator("#timeline tbody tr:not(.run-row)")).to_have_count(4)  # + the cancel's event
    expect(page.locator("#timeline tbody tr:not(.run-row)").last).to_contain_text("order.cancel")
    expect(page.locator("#timeline tr.run-row:visible")).to_have_count(41)  # the 40 fills and the status move
    screenshot(page, "order-fills-open")

    page.locator("#timeline .run-toggle").click()
    expect(page.locator("#timeline tr.run-row:visible")).to_have_count(0)
