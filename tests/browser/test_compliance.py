"""Compliance reads everything and changes nothing: audit search, chain verification, no ticket; and login."""

import re

import pytest
from django.db import connection
from playwright.sync_api import expect

from oms.models import Order
from oms.services.audit_seal import audit_seal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compliance_searches_the_audit_trail_and_verifies_the_chain(
    signed_in, compliance, pm, portfolio, order_payload, api_post, screenshot
):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    api_post(pm, f"/api/orders/{order_id}/cancel/")
    page = signed_in(compliance)

    page.click("nav.nav >> text=Audit")

    rows = page.locator("#audit-table tbody tr")
    expect(rows).to_have_count(4)  # the order's received, accepted, cancelled, and compliance's own sign-in
    expect(rows.first).to_contain_text("Signed in")
    expect(rows.nth(1)).to_contain_text("Order cancelled")
    expect(rows.nth(1)).to_contain_text("order.cancelled")
    expect(rows.nth(1).locator(".changes")).to_contain_text("status ACCEPTED → CANCELLED")
    page.click("#verify-chain")
    expect(page.locator("#verify-result .verify-ok")).to_have_text("OK — 4 events intact")
    screenshot(page, "audit")

    page.select_option("#id_event_type", label="Order accepted")
    page.click(".audit-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"order:{order_id}")


def test_compliance_finds_events_in_words_reads_the_change_and_exports_the_search(
    signed_in, compliance, pm, portfolio, order_payload, api_post, screenshot, tmp_path
):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    api_post(pm, f"/api/orders/{order_id}/cancel/")
    page = signed_in(compliance)
    page.goto("/audit/")
    rows = page.locator("#audit-table tbody tr")

    page.fill("#id_q", "cancel")  # words, as a person would type them: no event code needed
    page.click(".audit-filters button[type=submit]")

    expect(rows).to_have_count(1)
    expect(rows.first.locator(".ev")).to_have_text("Order cancelled")
    change = rows.first.locator(".changes li")
    expect(change).to_have_count(1)  # only what changed, not the whole snapshot
    expect(change.first.locator(".ck")).to_have_text("status")
    expect(change.first.locator(".old")).to_have_text("ACCEPTED")
    expect(change.first.locator(".new")).to_have_text("CANCELLED")
    screenshot(page, "audit-words")

    with page.expect_download() as info:
        page.click("#audit-export-csv")
    download = info.value
    assert re.fullmatch(r"audit-trail-all-\d{8}T\d{6}\.\d{3}Z\.csv", download.suggested_filename)
    text = (tmp_path / "audit.csv")
    download.save_as(text)
    content = text.read_text(encoding="utf-8")
    assert "Order cancelled" in content and "status: ACCEPTED → CANCELLED" in content
    assert "Order received" not in content  # the search, not the whole trail


def test_verify_reports_the_first_broken_link_in_red(signed_in, compliance, pm, portfolio, order_payload, api_post):
    api_post(pm, "/api/orders/", order_payload())
    audit_seal()  # as the beat's sealer would: the two events become #1 and #2
    with connection.cursor() as cur:  # tamper as a database owner could, past the append-only trigger
        cur.execute("ALTER TABLE oms_auditevent DISABLE TRIGGER USER")
        cur.execute("UPDATE oms_auditevent SET reason = 'edited' WHERE seq = 2")
        cur.execute("ALTER TABLE oms_auditevent ENABLE TRIGGER USER")
    page = signed_in(compliance)
    page.goto("/audit/")

    page.click("#verify-chain")

    expect(page.locator("#verify-result .verify-broken")).to_contain_text("BROKEN at event #2: event #2 (id")
    expect(page.locator("#verify-result .verify-broken")).to_contain_text("was altered after it was sealed as leaf 1")


def test_compliance_sees_the_blotter_without_ticket_or_cancel(signed_in, compliance, pm, portfolio, order_payload, api_post):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(compliance)

    expect(page.locator(f"#order-row-{order_id} .badge")).to_have_text("ACCEPTED")
    expect(page.locator("#ticket")).to_have_count(0)
    expect(page.locator(".btn-cancel")).to_have_count(0)
    expect(page.locator(".topbar .ro")).to_have_text("read-only")

    # Nor can the endpoints behind those controls be used directly.
    csrf = {"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")}
    ticket = page.request.post("/orders/ticket/", headers=csrf, form={
        "client_order_id": "WEB-COMPLIANCE1", "portfolio": portfolio.code, "instrument": "ACME",
        "side": "buy", "quantity": "100", "order_type": "market",
    })
    cancel = page.request.post(f"/orders/{order_id}/cancel/", headers=csrf)
    assert (ticket.status, cancel.status) == (403, 403)
    assert "You may not trade portfolio" in ticket.text()
    assert Order.objects.get(pk=order_id).status == "ACCEPTED"
    assert Order.objects.count() == 1


def test_a_pm_gets_403_on_the_audit_page(signed_in, pm, portfolio):
    page = signed_in(pm)
    expect(page.locator("nav.nav")).not_to_contain_text("Audit")

    response = page.goto("/audit/")

    assert response.status == 403
    expect(page.locator("h1")).to_contain_text("Not permitted")


def test_login_page_shows_an_error_for_a_wrong_password(page, pm, screenshot):
    page.goto("/")
    page.wait_for_url("**/login/?next=/")

    page.fill("#id_username", pm.username)
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")

    expect(page.locator(".alert-error")).to_contain_text("Please enter a correct username and password")
    screenshot(page, "login")
