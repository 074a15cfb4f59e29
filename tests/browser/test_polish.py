"""Desk polish a person sees: styled error pages, a confirmed cancel, toasts clear of the controls, errors in
the labels' words, a ticket that does not jump, tables that fit the window and a chart whose time labels
never run together."""

from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from playwright.sync_api import expect

from oms.forms import ORDER_FIELD_LABELS
from oms.models import Order
from tests.factories import RiskLimitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 1280)
RAW_FIELD_NAMES = [name for name in ORDER_FIELD_LABELS if "_" in name]


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- error pages ---------------------------------------------------------------------------------


def test_an_unknown_page_is_the_sites_styled_404_with_a_way_back_to_the_desk(signed_in, pm, portfolio, screenshot):
    page = signed_in(pm)

    response = page.goto("/no-such-page/")

    assert response.status == 404
    expect(page.locator(".error-card h1")).to_have_text("Page not found")
    expect(page.locator(".error-path")).to_have_text("/no-such-page/")
    expect(page.locator(".topbar .nav")).to_be_visible()  # the site's layout, signed in
    # The site's stylesheet is applied (Django's bare page is black on white).
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(10, 14, 19)"
    screenshot(page, "404")

    page.click("text=Back to the desk")
    page.wait_for_url("**/")
    expect(page.locator("#ticket")).to_be_visible()


def test_an_unknown_page_is_a_styled_404_before_signing_in_too(page):
    response = page.goto("/orders/nope/")

    assert response.status == 404
    expect(page.locator(".error-card h1")).to_have_text("Page not found")
    expect(page.locator(".topbar .nav")).to_have_count(0)  # no menus for nobody, but the brand and a way in
    expect(page.locator(".topbar .brand")).to_be_visible()
    expect(page.locator(".topbar a[href='/login/']")).to_have_text("Sign in")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(10, 14, 19)"


def test_another_pms_order_is_the_styled_404(signed_in, pm, other_pm, other_portfolio, order_payload, api_post):
    order_id = api_post(other_pm, "/api/orders/", order_payload(portfolio=other_portfolio.code)).json()["id"]
    page = signed_in(pm)

    response = page.goto(f"/orders/{order_id}/")

    assert response.status == 404
    expect(page.locator(".error-card h1")).to_have_text("Page not found")


@pytest.mark.parametrize("template, title", [
    ("500.html", "Something went wrong"), ("503.html", "Service unavailable"), ("400.html", "could not be understood"),
    ("403_csrf.html", "This page expired"),
])
def test_pages_rendered_without_a_request_need_no_user_or_database(template, title, django_assert_num_queries):
    # As Django's server_error renders it: a bare context, no request, and perhaps no database behind it.
    with django_assert_num_queries(0):
        html = render_to_string(template)

    assert title in html
    assert "/static/css/app.css" in html
    assert 'href="/">Back to the desk</a>' in html


# --- cancel --------------------------------------------------------------------------------------


def test_cancel_in_the_blotter_asks_first_and_only_cancels_on_yes(signed_in, pm, portfolio, order_payload, api_post, screenshot):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    row = page.locator(f"#order-row-{order_id}")

    row.locator(".btn-cancel").click()

    ask = row.locator(".confirm-ask")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text(f"Cancel order {order_id}?")
    expect(row.locator(".btn-confirm-no")).to_be_focused()  # the safe answer is the default
    screenshot(page, "cancel-confirm")

    row.locator(".btn-confirm-no").click()

    expect(ask).to_be_hidden()
    expect(row.locator(".btn-cancel")).to_be_visible()
    expect(page.locator("#flash .flash")).to_have_count(0)
    assert Order.objects.get(pk=order_id).status == "ACCEPTED"

    row.locator(".btn-cancel").click()
    page.keyboard.press("Escape")
    expect(ask).to_be_hidden()
    assert Order.objects.get(pk=order_id).status == "ACCEPTED"

    row.locator(".btn-cancel").click()
    row.locator(".btn-confirm-yes").click()

    expect(page.locator("#flash")).to_contain_text(f"Order {order_id} cancelled")
    expect(row.locator(".badge")).to_have_text("CANCELLED")
    assert Order.objects.get(pk=order_id).status == "CANCELLED"


def test_an_open_cancel_question_survives_a_live_refresh_of_the_blotter(signed_in, pm, portfolio, order_payload, api_post):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    row = page.locator(f"#order-row-{order_id}")
    row.locator(".btn-cancel").click()

    other = api_post(pm, "/api/orders/", order_payload(quantity=300)).json()["id"]  # the table re-renders

    expect(page.locator(f"#order-row-{other}")).to_be_visible()
    expect(row.locator(".confirm-ask")).to_be_visible()
    assert Order.objects.get(pk=order_id).status == "ACCEPTED"


def test_cancel_on_the_order_page_asks_first_and_only_cancels_on_yes(signed_in, pm, portfolio, order_payload, api_post):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    page.goto(f"/orders/{order_id}/")

    page.click(".order-title .btn-cancel")
    expect(page.locator(".order-title .confirm-ask")).to_contain_text(f"Cancel order {order_id}?")
    page.click(".order-title .btn-confirm-no")
    expect(page.locator(".order-title .btn-cancel")).to_be_visible()
    assert Order.objects.get(pk=order_id).status == "ACCEPTED"

    page.click(".order-title .btn-cancel")
    page.click(".order-title .btn-confirm-yes")

    expect(page.locator(".order-title .badge")).to_have_text("CANCELLED")
    assert Order.objects.get(pk=order_id).status == "CANCELLED"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_cancelled_toast_covers_neither_the_blotter_filters_nor_the_menus(
    width, signed_in, pm, portfolio, order_payload, api_post
):
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    page.set_viewport_size({"width": width, "height": 900})
    row = page.locator(f"#order-row-{order_id}")

    row.locator(".btn-cancel").click()
    row.locator(".btn-confirm-yes").click()

    toast = page.locator("#flash .flash")
    expect(toast).to_contain_text(f"Order {order_id} cancelled")
    expect(row.locator(".badge")).to_have_text("CANCELLED")  # the table's refresh is done: nothing moves now
    boxes = page.evaluate("""sels => sels.map(s => { const r = document.querySelector(s).getBoundingClientRect();
        return {x: r.x, y: r.y, width: r.width, height: r.height}; })""",
        ["#flash .flash", "#blotter-filters", ".topbar .nav", ".topbar-right", ".blotter-panel .table-meta", "#ticket"])
    box, controls = boxes[0], boxes[1:]
    assert box["width"] > 0 and box["height"] > 0
    for name, control in zip(("filters", "nav", "user menu", "table header", "ticket"), controls, strict=True):
        assert not _overlap(box, control), f"the toast covers the {name}"
    expect(toast).to_be_hidden(timeout=15_000)  # it goes away on its own


# --- the ticket's errors -------------------------------------------------------------------------


def test_a_negative_quantity_is_told_it_must_be_positive_in_the_labels_words(signed_in, pm, portfolio, instrument):
    page = signed_in(pm)
    page.fill("#t-instrument", "ACME")
    page.fill("#t-quantity", "-5")
    page.fill("#t-limit_price", "")

    page.click("#ticket button[type=submit]")

    expect(page.locator("#field-quantity label")).to_have_text("Quantity")
    expect(page.locator("#field-quantity .err")).to_have_text("Quantity must be positive")
    expect(page.locator("#field-limit_price .err")).to_have_text("Limit price is required for a limit order")
    ticket_text = page.locator("#ticket").inner_text()
    assert "whole number" not in ticket_text
    assert not [name for name in RAW_FIELD_NAMES if name in ticket_text], ticket_text
    assert not Order.objects.exists()


def test_errors_on_crafted_choices_name_the_fields_in_words(signed_in, pm, portfolio, instrument):
    page = signed_in(pm)
    form = page.eval_on_selector("#ticket", "f => Object.fromEntries(new FormData(f))")
    # The ticket's toggles cannot send these; a crafted post still gets the labels' words, not field names.
    form.update(instrument="ACME", quantity="100", order_type="stop", time_in_force="week")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")

    response = page.request.post("/orders/ticket/", form=form, headers={"X-CSRFToken": token})

    assert response.status == 400
    page.set_content(response.text())  # the ticket fragment as the browser would draw it
    expect(page.locator("#field-order_type .err")).to_have_text("Order type must be one of: market, limit")
    expect(page.locator("#field-time_in_force .err")).to_have_text("Time in force must be one of: day, gtc, ioc")
    shown = page.locator("body").inner_text()
    assert not [name for name in RAW_FIELD_NAMES if name in shown], shown


@pytest.mark.parametrize("width", WIDTHS)
def test_the_ticket_does_not_move_when_an_error_or_a_notice_appears(width, signed_in, pm, portfolio, instrument):
    RiskLimitFactory(portfolio=None, price_collar_pct=Decimal("5"))
    page = signed_in(pm)
    page.set_viewport_size({"width": width, "height": 900})
    submit = page.locator("#ticket button[type=submit]")
    page.fill("#t-instrument", "ACME")
    before = {sel: page.locator(sel).bounding_box() for sel in ("#ticket button[type=submit]", "#t-limit_price", "#t-strategy")}

    page.fill("#t-quantity", "-5")
    page.fill("#t-limit_price", "")
    submit.click()
    expect(page.locator("#field-quantity .err")).to_be_visible()
    after_error = {sel: page.locator(sel).bounding_box() for sel in before}

    page.fill("#t-quantity", "100")
    page.fill("#t-limit_price", "120.00")  # 20% from the reference price: denied by the collar
    submit.click()
    expect(page.locator("#ticket .notice-denied")).to_contain_text("20.00% from the reference price")
    after_denial = {sel: page.locator(sel).bounding_box() for sel in before}

    page.fill("#t-limit_price", "100.00")
    submit.click()
    expect(page.locator("#ticket .notice-ok")).to_contain_text("accepted")
    after_accept = {sel: page.locator(sel).bounding_box() for sel in before}

    assert before == after_error == after_denial == after_accept


# --- tables --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_blotter_shows_the_whole_denial_note_and_fits_the_window(
    width, signed_in, pm, portfolio, instrument, order_payload, api_post
):
    RiskLimitFactory(portfolio=None, price_collar_pct=Decimal("5"))
    with connection.cursor() as cur:  # a desk's day: six-digit order ids, the widest the ID column gets
        cur.execute("SELECT setval(pg_get_serial_sequence('oms_order', 'id'), 123456)")
    assert api_post(pm, "/api/orders/", order_payload(limit_price="120.00")).status_code == 422
    api_post(pm, "/api/orders/", order_payload(limit_price="100.00"))
    denied = Order.objects.get(status="DENIED")
    page = signed_in(pm)
    page.set_viewport_size({"width": width, "height": 900})

    note = page.locator(f"#order-row-{denied.id} .note .deny")

    expect(note).to_contain_text("20.00% from the reference price")
    assert note.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 1"), "the note is cut off"
    assert page.locator("#blotter-table").evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")
    expect(page.locator("#blotter-table .btn-cancel").first).to_be_in_viewport()
    assert _no_horizontal_scroll(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_audit_table_fits_the_window_without_sideways_scroll(
    width, signed_in, compliance, pm, portfolio, order_payload, api_post, screenshot
):
    RiskLimitFactory(portfolio=None, price_collar_pct=Decimal("5"))
    api_post(pm, "/api/orders/", order_payload(limit_price="120.00"))  # a long reason and a long "after"
    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    api_post(pm, f"/api/orders/{order_id}/cancel/")
    page = signed_in(compliance)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto("/audit/")

    table = page.locator("#audit-table")
    expect(table.locator("tbody tr")).to_have_count(6)
    assert _no_horizontal_scroll(page)
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth"), "the table scrolls sideways in its box"
    expect(table.locator("th", has_text="Hash")).to_be_in_viewport()
    # Nothing is cut: every cell shows its whole text (the JSON wraps inside its column).
    clipped = table.evaluate("t => [...t.querySelectorAll('td')].filter(td => td.scrollWidth > td.clientWidth + 1).length")
    assert clipped == 0
    if width == 1440:
        screenshot(page, "audit-1440")


# --- the price chart -----------------------------------------------------------------------------

# uPlot draws axis labels on a canvas: measure each x label with the axis font, centred on its tick.
X_LABEL_GAPS = """el => {
  const u = el.uplot, axis = u.axes[0];
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
  const boxes = axis._splits.map((v, i) => {
    const x = u.valToPos(v, "x"), w = ctx.measureText(axis._values[i]).width;
    return [x - w / 2, x + w / 2, axis._values[i]];
  }).filter(b => b[2] !== null && b[2] !== "");
  const gaps = boxes.slice(1).map((b, i) => b[0] - boxes[i][1]);
  return {labels: boxes.map(b => b[2]), gaps};
}"""


@pytest.mark.parametrize("width", (1440, 1280, 1000, 700))
def test_the_price_charts_time_labels_never_overlap(width, signed_in, pm, instrument, venues):
    page = signed_in(pm)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/market/{instrument.symbol}/")
    expect(page.locator("#md-chart canvas").first).to_be_visible()
    page.wait_for_function("document.querySelector('#md-chart').uplot && document.querySelector('#md-chart').uplot.axes[0]._splits")

    axis = page.locator("#md-chart").evaluate(X_LABEL_GAPS)

    assert len(axis["labels"]) >= 3, axis  # still a readable time axis
    assert min(axis["gaps"]) >= 8, axis  # px of clear space between neighbouring labels
    assert all(len(label) in (5, 8) and label[2] == ":" for label in axis["labels"]), axis  # HH:MM or HH:MM:SS
