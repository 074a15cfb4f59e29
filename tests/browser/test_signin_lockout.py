"""A person who mistypes their password too often sees the lockout page, under the real ASGI server."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_too_many_wrong_passwords_show_the_lockout_page_and_the_right_one_is_refused(page, pm, screenshot):
    page.goto("/login/")
    for i in range(4):
        page.fill("#id_username", pm.username)
        page.fill("#id_password", f"wrong-{i}")
        page.click("button[type=submit]")
        expect(page.locator(".alert-error")).to_be_visible()

    page.fill("#id_username", pm.username)
    page.fill("#id_password", "wrong-4")
    with page.expect_response(lambda r: r.url.endswith("/login/") and r.request.method == "POST") as locked:
        page.click("button[type=submit]")
    assert locked.value.status == 429
    assert 0 < int(locked.value.headers["retry-after"]) <= 15 * 60
    expect(page.get_by_test_id("locked-out")).to_contain_text("Sign-in locked")
    expect(page.get_by_test_id("locked-out")).to_contain_text("Try again in 15 minutes")
    screenshot(page, "signin-locked")

    page.click("text=Back to sign-in")
    page.fill("#id_username", pm.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("locked-out")).to_be_visible()
    assert "/login/" in page.url
