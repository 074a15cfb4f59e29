"""A parent whose every order was cancelled before a fill, as the trader meets it (issue 19, item 2): the desk
lists it as released and its page says nothing is left, never "BUY 0"; its TCA page says nothing was executed
instead of an error, and offers no export or replay."""

import pytest
from playwright.sync_api import expect

from tests.tca.test_empty_parent import empty_parent  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_trader_reads_an_empty_parent_as_released_and_its_tca_as_nothing_executed(
    signed_in, trader, empty_parent, screenshot  # noqa: F811
):
    page = signed_in(trader)
    page.goto("/desk/execution/?view=done")
    row = page.locator(f"tr[data-parent-id='{empty_parent.pk}']")
    expect(row).to_contain_text("released")
    row.locator("a", has_text=f"P{empty_parent.pk}").click()
    expect(page.locator(".order-head")).to_contain_text("nothing left")
    expect(page.locator(".order-head")).not_to_contain_text("BUY 0")
    screenshot(page, "empty-parent-desk")

    page.goto(f"/tca/parents/{empty_parent.pk}/")
    notice = page.locator("#tca-parent-empty .notice")
    expect(notice).to_contain_text("Nothing was executed")
    expect(notice).to_have_attribute("data-code", "tca.nothing_executed")
    expect(page.locator(".tca-export")).to_have_count(0)
    expect(page.locator("#what-if-form")).to_have_count(0)
    screenshot(page, "empty-parent-tca")
