"""An export link in a real browser (static/js/exports.js): while the server prepares the file the link says
"Preparing… N s" and takes no second click; the file then arrives under the server's own name (period and UTC
timestamp); an error answer is shown beside the link instead of opening the JSON. A slow export is simulated by
holding the request (Playwright's page.route) until the test releases it: no timing assertion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.export_files import csv_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audit_page(signed_in, compliance, pm, portfolio, order_payload, api_post):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    api_post(pm, f"/api/orders/{order_id}/cancel/")
    page = signed_in(compliance)
    page.goto("/audit/?q=cancelled")
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    return page


def test_a_held_export_shows_preparing_then_downloads_under_the_servers_name(audit_page, screenshot):
    page = audit_page
    held = []
    page.route(re.compile(r"/api/audit/\?.*format=csv"), lambda route: held.append(route))  # hold it: a slow export
    link = page.locator("#audit-export-csv")

    link.click()

    expect(link).to_have_text(re.compile(r"^Preparing… \d+ s$"))
    expect(link).to_have_attribute("aria-disabled", "true")
    expect(link).to_have_text(re.compile(r"^Preparing… [1-9]\d* s$"))  # the seconds count on while it is held
    link.click(force=True)  # a second click while preparing asks for nothing more
    assert len(held) == 1 and page.url.endswith("/audit/?q=cancelled")
    screenshot(page, "export-preparing")

    with page.expect_download() as info:
        held[0].continue_()
    download = info.value

    assert re.fullmatch(r"audit-trail-all-\d{8}T\d{6}\.\d{3}Z\.csv", download.suggested_filename)
    meta, rows = csv_file(Path(download.path()).read_bytes())
    assert meta["Exported by"] == "compliance_officer (compliance)" and meta["Filters"] == "q = cancelled"
    assert [r[rows[0].index("Event")] for r in rows[1:]] == ["Order cancelled"]
    expect(link).to_have_text("CSV")
    expect(link).not_to_have_attribute("aria-disabled", "true")
    expect(page.locator(".export-error")).to_be_hidden()


def test_an_error_answer_is_shown_beside_the_link_not_opened(audit_page, screenshot):
    page = audit_page
    link = page.locator("#audit-export-xlsx")
    link.evaluate("a => { a.href += '&header=bogus'; }")  # the server refuses it: a real error answer

    link.click()

    alert = page.locator(".export-error")
    expect(alert).to_be_visible()
    expect(alert).to_have_text("header must be one of full, none [validation_error]")
    expect(link).to_have_text("XLSX")
    assert page.url.endswith("/audit/?q=cancelled")  # still on the page, no JSON opened
    screenshot(page, "export-error")
