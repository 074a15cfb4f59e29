"""Amend (cancel/replace) from the blotter, as a portfolio manager does it: the row's "Amend" opens a dialog with
the order's quantity and limit; a risk denial is shown in the dialog (the order unchanged); a good amend closes
it and the row shows the new terms."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from oms.models import AuditEvent, Order
from tests.factories import RiskLimitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pm_amends_an_order_from_the_blotter(signed_in, pm, portfolio, instrument, order_payload, api_post, screenshot):
    RiskLimitFactory(portfolio=None, max_order_quantity=5000)
    assert api_post(pm, "/api/orders/", order_payload(quantity=1000, limit_price="100.50")).status_code == 201
    order = Order.objects.get()
    page = signed_in(pm)
    row = page.locator(f"#order-row-{order.id}")

    row.get_by_role("button", name="Amend").click()
    dialog = page.get_by_role("dialog", name=f"Amend order {order.id}")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[name=quantity]")).to_have_value("1000")
    expect(dialog.locator("[name=limit_price]")).to_have_value("100.5")

    # Too large for the desk's limit: said in the dialog, which stays open; nothing changed.
    dialog.locator("[name=quantity]").fill("8000")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("#amend-result")).to_contain_text("risk.max_quantity")
    expect(dialog.locator("#amend-result")).to_contain_text("5,000")
    expect(dialog).to_be_visible()
    screenshot(page, "amend-denied")
    order.refresh_from_db()
    assert order.quantity == 1000

    # A quantity and a limit the desk accepts: the dialog closes and the row shows the new terms.
    dialog.locator("[name=quantity]").fill("2500")
    dialog.locator("[name=limit_price]").fill("100.40")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_contain_text(f"Order {order.id} amended: 2,500 ACME limit 100.4")
    expect(row).to_contain_text("2,500")
    expect(row).to_contain_text("100.4")
    screenshot(page, "amend-done")
    order.refresh_from_db()
    assert (order.quantity, order.limit_price, order.source) == (2500, Decimal("100.40"), f"api:{pm.username}")
    amended = AuditEvent.objects.get(object_id=str(order.id), event_type="order.replaced")
    assert amended.source == f"browser:{pm.username}"
    assert AuditEvent.objects.filter(object_id=str(order.id), event_type="order.replace_denied").count() == 1
