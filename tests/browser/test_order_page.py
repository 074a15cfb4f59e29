"""The order page: fields, executions (none before the EMS) and the audit timeline, kept live."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_page_shows_the_timeline_after_a_cancel_from_the_blotter(
    signed_in, pm, portfolio, order_payload, api_post, screenshot
):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    row = page.locator(f"#order-row-{order_id}")

    row.locator(".btn-cancel").click()
    row.locator(".btn-confirm-yes").click()

    expect(page.locator("#flash")).to_contain_text(f"Order {order_id} cancelled")
    expect(row.locator(".badge")).to_have_text("CANCELLED")
    expect(row.locator(".btn-cancel")).to_have_count(0)

    row.locator(f"a[href='/orders/{order_id}/']").click()
    page.wait_for_url(f"**/orders/{order_id}/")
    expect(page.locator(".order-title .badge")).to_have_text("CANCELLED")
    events = page.locator("#timeline tbody tr")
    expect(events).to_have_count(3)
    expect(events.nth(0)).to_contain_text("order.received")
    expect(events.nth(1)).to_contain_text("order.accepted")
    expect(events.nth(1)).to_contain_text("NEW → ACCEPTED")
    expect(events.nth(2)).to_contain_text("order.cancelled")
    expect(events.nth(2)).to_contain_text("ACCEPTED → CANCELLED")
    expect(events.nth(2)).to_contain_text(f"browser:{pm.username}")
    expect(page.locator(".empty-state")).to_have_text("No executions yet")
    screenshot(page, "order")

    # A second cancel is refused with the service's reason, not a crash.
    again = page.request.post(f"/orders/{order_id}/cancel/", headers={"X-CSRFToken": _csrf(page)})
    assert again.status == 409
    assert "only open orders can be cancelled" in again.text()


def test_order_page_follows_a_cancel_made_elsewhere_without_reload(signed_in, pm, portfolio, order_payload, api_post):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    page.goto(f"/orders/{order_id}/")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    expect(page.locator("#timeline tbody tr")).to_have_count(2)

    assert api_post(pm, f"/api/orders/{order_id}/cancel/").status_code == 200

    expect(page.locator(".order-title .badge")).to_have_text("CANCELLED")
    expect(page.locator("#timeline tbody tr")).to_have_count(3)


def test_another_pms_order_page_is_not_found(signed_in, pm, other_pm, other_portfolio, order_payload, api_post):
    order_id = api_post(other_pm, "/api/orders/", order_payload(portfolio=other_portfolio.code)).json()["id"]
    page = signed_in(pm)

    response = page.goto(f"/orders/{order_id}/")

    assert response.status == 404


def _csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
