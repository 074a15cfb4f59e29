"""The RFQ browser pages with Django's test client: who may open them, starting a request from the parent
page's form (and the refusals it shows), the ladder page, and a click on Execute with what the trader reads
back. Requests and quotes go through the real services; the providers' answers are submitted by the test
(no worker runs here: tests/browser/test_rfq_ladder.py has the live path)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.models import Fill
from oms.models import AuditEvent
from rfq.models import RFQ, Quote
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.rfq.services_helpers import quote, rfq_for

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rfq(pm_parent, trader, providers):
    """A request for 4,000 with two quotes in: LPB's offer at 100.03 is the best, LPA's at 100.08."""
    r = rfq_for(pm_parent, trader, quantity=4000, window_s="30")
    quote(r, "LPA", "100.08")
    quote(r, "LPB", "100.03")
    r.refresh_from_db()
    return r


def signed_in(client, user):
    client.force_login(user)
    return client


def form(**overrides) -> dict:
    data = {"quantity": "3000", "direction": "two_way", "window_s": "20", "mode": "click", "execute_at": "quote",
            "threshold_bps": "", "threshold_price": ""}
    return {**data, **overrides}


# --- who may open what ------------------------------------------------------------------------------------


def page_urls(r: RFQ) -> list[str]:
    return ["/rfq/", "/rfq/?view=all", "/rfq/table/?view=done", f"/rfq/{r.id}/", f"/rfq/{r.id}/ladder/",
            f"/desk/parents/{r.parent_id}/rfq/", f"/desk/parents/{r.parent_id}/rfqs/"]


@pytest.mark.parametrize("who", ["trader", "compliance", "admin_user"])
def test_desk_roles_open_every_rfq_page(client, request, who, rfq):
    user = request.getfixturevalue(who)
    signed_in(client, user)
    for url in page_urls(rfq):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    assert f"RFQ {rfq.id}" in client.get("/rfq/?view=all").content.decode()


def test_a_pm_gets_403_on_every_rfq_page_even_for_their_own_parent(client, pm, rfq):
    signed_in(client, pm)
    for url in page_urls(rfq):
        assert client.get(url).status_code == 403, url
    response = client.post(f"/rfq/{rfq.id}/accept/{rfq.quotes.first().id}/")
    assert response.status_code == 403
    assert not Fill.objects.exists()


def test_signed_out_goes_to_the_login_page(client, rfq):
    response = client.get(f"/rfq/{rfq.id}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_nav_links_rfq_for_desk_roles_only(client, trader, pm, rfq):
    assert 'href="/rfq/"' in signed_in(client, trader).get("/desk/execution/").content.decode()
    client.logout()
    assert 'href="/rfq/"' not in signed_in(client, pm).get("/").content.decode()


@pytest.mark.parametrize("url", ["/rfq/999999/", "/rfq/999999/ladder/", "/rfq/99999999999999999999/",
                                 "/desk/parents/999999/rfq/", "/desk/parents/999999/rfqs/"])
def test_unknown_ids_are_404(client, trader, url):
    signed_in(client, trader)
    assert client.get(url).status_code == 404


def test_accept_on_an_unknown_rfq_is_404_and_an_unknown_quote_a_message(client, trader, rfq):
    signed_in(client, trader)
    assert client.post("/rfq/999999/accept/1/").status_code == 404

    response = client.post(f"/rfq/{rfq.id}/accept/999999/", **HX)

    assert response.status_code == 404
    assert 'data-code="rfq.quote_not_found"' in response.content.decode()
    assert 'id="rfq-ladder"' in response.content.decode()  # the ladder again, not an error page
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING


# --- the parent page: "Request quotes" ----------------------------------------------------------------------


def test_the_parent_page_loads_the_form_for_a_trader_only(client, trader, compliance, pm_parent, providers):
    page = signed_in(client, trader).get(f"/desk/parents/{pm_parent.id}/").content.decode()
    assert 'id="rfq-request"' in page and f'hx-get="/desk/parents/{pm_parent.id}/rfq/"' in page
    assert f'hx-get="/desk/parents/{pm_parent.id}/rfqs/"' in page

    fragment = client.get(f"/desk/parents/{pm_parent.id}/rfq/").content.decode()
    assert 'id="rfq-form"' in fragment
    assert "available now: 10,000" in fragment  # nothing at the venues, no other RFQ: the whole parent
    assert 'value="two_way" checked' in fragment and 'value="click" checked' in fragment
    assert 'name="window_s" class="num" inputmode="decimal" value="5"' in fragment  # settings.RFQ_WINDOW_S

    client.logout()
    page = signed_in(client, compliance).get(f"/desk/parents/{pm_parent.id}/").content.decode()
    assert 'id="rfq-request"' not in page
    assert "Read-only: only a trader requests quotes" in client.get(f"/desk/parents/{pm_parent.id}/rfq/").content.decode()


def test_requesting_quotes_from_the_form_opens_the_ladder_page(client, trader, pm_parent, providers):
    signed_in(client, trader)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(quantity="3,000"))

    r = RFQ.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rfq/{r.id}/"
    assert (r.parent_id, r.quantity, r.direction, r.mode, r.window_s, r.source, r.requested_by) == (
        pm_parent.id, 3000, "two_way", "click", Decimal("20.000"), "desk", trader)
    assert r.status == RfqStatus.SENT and r.disseminations.count() == 3
    created = AuditEvent.objects.get(event_type="rfq.created")
    assert created.source == f"browser:{trader.username}"
    pm_parent.refresh_from_db()
    assert pm_parent.reserved_quantity == 3000

    page = client.get(response["Location"]).content.decode()
    assert f"RFQ {r.id}" in page and "two-way" in page and "(our side hidden)" in page
    assert 'id="rfq-clock" data-seconds-left=' in page  # the window is open: the countdown runs
    assert "Waiting for quotes: 3 providers asked" in page


def test_an_auto_request_from_the_form_keeps_its_threshold_and_says_so(client, trader, pm_parent, providers):
    signed_in(client, trader)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(mode="auto", execute_at="window_end", threshold_bps="25"))

    r = RFQ.objects.get()
    assert response.status_code == 302
    assert (r.mode, r.execute_at, r.threshold_bps, r.threshold_price) == ("auto", "window_end", Decimal("25.000"), None)
    page = client.get(response["Location"]).content.decode()
    assert "Auto ≤ 25 bp" in page and "at the window's end, best quote within" in page


def test_a_click_request_ignores_a_threshold_typed_in_the_dimmed_fields(client, trader, pm_parent, providers):
    signed_in(client, trader)

    client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(threshold_bps="oops"))

    r = RFQ.objects.get()
    assert (r.mode, r.threshold_bps) == ("click", None)


def test_a_blank_quantity_asks_for_everything_available(client, trader, pm_parent, providers):
    f.child(parent=pm_parent, quantity=1500)  # the algorithm has 1,500 at a venue: not available to an RFQ
    signed_in(client, trader)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(quantity="", direction="buy"), **HX)

    r = RFQ.objects.get()
    assert response.status_code == 200 and response["HX-Redirect"] == f"/rfq/{r.id}/"
    assert (r.quantity, r.direction) == (8500, "buy")


@pytest.mark.parametrize(("data", "status", "code", "text"), [
    (form(quantity="abc"), 400, "rfq.bad_quantity", "whole number"),
    (form(quantity="-5"), 400, "rfq.bad_quantity", "whole number"),
    (form(quantity="20000"), 409, "rfq.quantity_unavailable", ""),
    (form(direction="sell"), 400, "rfq.bad_direction", "two-way"),
    (form(window_s="120"), 400, "rfq.bad_window", "60"),
    (form(window_s="soon"), 400, "rfq.bad_window", "not a number"),
    (form(mode="auto"), 400, "rfq.threshold_required", ""),
    (form(mode="auto", threshold_bps="NaN"), 400, "rfq.bad_threshold", "not a number"),
])
def test_form_refusals_show_the_reason_on_the_parent_page_and_create_nothing(client, trader, pm_parent, providers, data, status, code, text):
    signed_in(client, trader)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", data)  # no script: the whole parent page again

    body = response.content.decode()
    assert response.status_code == status
    assert f"<code>{code}</code>" in body and text in body
    assert f"Parent P{pm_parent.id}" in body and 'id="rfq-form"' in body
    assert f'value="{data["quantity"]}"' in body  # what was typed stays in the form

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", data, **HX)  # htmx: the form alone
    assert response.status_code == status and f"<code>{code}</code>" in response.content.decode()
    assert "Parent P" not in response.content.decode()

    assert not RFQ.objects.exists()
    pm_parent.refresh_from_db()
    assert pm_parent.reserved_quantity == 0


def test_a_halted_parent_refuses_with_the_reason(client, trader, pm_parent, providers):
    type(pm_parent).objects.filter(pk=pm_parent.pk).update(control="halted")
    signed_in(client, trader)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(), **HX)

    assert response.status_code == 409 and "<code>rfq.parent_not_working</code>" in response.content.decode()
    assert not RFQ.objects.exists()


def test_compliance_cannot_request_quotes(client, compliance, pm_parent, providers):
    signed_in(client, compliance)

    response = client.post(f"/desk/parents/{pm_parent.id}/rfq/", form(), **HX)

    assert response.status_code == 403 and "permission.trader_only" in response.content.decode()
    assert not RFQ.objects.exists()


def test_the_parent_page_lists_its_rfqs_with_the_best_quote(client, trader, rfq):
    body = signed_in(client, trader).get(f"/desk/parents/{rfq.parent_id}/rfqs/").content.decode()

    row = re.search(rf'<tr id="parent-rfq-{rfq.id}".*?</tr>', body, re.S).group(0)
    assert "QUOTING" in row and "two-way" in row and "4,000" in row
    best = min(q.bps_from_mid for q in rfq.quotes.all())
    assert f"{best:+.1f} bp" in row
    assert f'href="/rfq/{rfq.id}/"' in row


def test_the_parent_page_says_what_an_open_rfq_holds(client, trader, rfq):
    body = signed_in(client, trader).get(f"/desk/parents/{rfq.parent_id}/").content.decode()

    held = re.search(r'Held by RFQ</span><span class="val">([^<]+)<', body)
    assert held is not None and held.group(1) == f"{rfq.quantity:,}"


# --- the ladder page and one click -------------------------------------------------------------------------


def ladder_rows(body: str) -> list[str]:
    return re.findall(r'<tr id="quote-(\d+)"', body)


def test_the_ladder_shows_the_best_live_quote_first_and_execute_buttons_for_a_trader(client, trader, compliance, rfq):
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    lpa = Quote.objects.get(rfq=rfq, provider__code="LPA")

    body = signed_in(client, trader).get(f"/rfq/{rfq.id}/ladder/").content.decode()

    assert ladder_rows(body) == [str(lpb.id), str(lpa.id)]  # a buy: the lowest offer first
    assert f'<tr id="quote-{lpb.id}" data-quote-id="{lpb.id}" data-status="live" class="is-best">' in body
    assert body.count('class="btn btn-sm btn-exec') == 2
    assert f'hx-post="/rfq/{rfq.id}/accept/{lpb.id}/"' in body
    assert "100.0300" in body and "Offer (we pay)" in body

    client.logout()
    body = signed_in(client, compliance).get(f"/rfq/{rfq.id}/").content.decode()
    assert "btn-exec" not in body and "only a trader executes a quote" in body


def test_execute_from_the_page_books_the_fill_and_shows_the_result(client, trader, rfq):
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    signed_in(client, trader)

    response = client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Executed: bought 4,000 ACME at 100.0300 from LPB" in body
    assert 'id="rfq-outcome" aria-live="polite" hx-swap-oob="true"' in body  # the message, out of band
    assert 'id="rfq-result"' in body and f"See the fill on parent P{rfq.parent_id}" in body
    assert "btn-exec" not in body  # executed: nothing left to click
    rfq.refresh_from_db()
    assert (rfq.status, rfq.executed_quantity, rfq.executed_price) == (RfqStatus.EXECUTED, 4000, Decimal("100.03"))
    fill = Fill.objects.get(parent_id=rfq.parent_id)
    assert (fill.liquidity, fill.quantity, fill.price) == ("rfq", 4000, Decimal("100.03"))
    accepted = AuditEvent.objects.get(event_type="quote.accepted")
    assert accepted.source == f"browser:{trader.username}"

    # The parent page shows the fill.
    page = client.get(f"/desk/parents/{rfq.parent_id}/").content.decode()
    assert f"RFQ{rfq.id}-Q{lpb.id}" in page


def test_a_second_click_after_the_execution_says_already_executed(client, trader, rfq):
    lpa, lpb = (Quote.objects.get(rfq=rfq, provider__code=c) for c in ("LPA", "LPB"))
    signed_in(client, trader)
    assert client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX).status_code == 200

    response = client.post(f"/rfq/{rfq.id}/accept/{lpa.id}/")  # no script: the whole page

    body = response.content.decode()
    assert response.status_code == 409
    assert 'data-code="rfq.already_executed"' in body and f"RFQ {rfq.id}" in body
    assert Fill.objects.count() == 1
    assert Quote.objects.get(pk=lpa.pk).status == QuoteStatus.EXPIRED


def test_a_click_after_the_window_says_window_closed(client, trader, rfq):
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(seconds=1))
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    signed_in(client, trader)

    response = client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX)

    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-code="rfq.window_closed"' in body and "closing…" in body
    assert not Fill.objects.exists()


def test_a_last_look_rejection_without_a_threshold_takes_nothing_else_and_names_the_next_best(client, trader, rfq):
    from rfq.models import LiquidityProvider

    # LPB now always says no on last look; the request has no threshold, so LPA's worse quote is not taken for the trader.
    LiquidityProvider.objects.filter(code="LPB").update(last_look_reject_probability=Decimal("1"))
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    lpa = Quote.objects.get(rfq=rfq, provider__code="LPA")
    signed_in(client, trader)

    response = client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX)

    body = html.unescape(response.content.decode())
    assert response.status_code == 409
    assert 'data-code="rfq.last_look_rejected"' in body and 'role="alert"' in body
    assert f"Rejected on last look by LPB (quote {lpb.id})" in body
    assert f"the next best, LPA's quote {lpa.id} at 100.0800" in body and "click it to take it" in body
    assert not Fill.objects.exists()
    assert Quote.objects.get(pk=lpa.pk).status == QuoteStatus.LIVE and "LAST LOOK: NO" in body
    assert f'/rfq/{rfq.id}/accept/{lpa.id}/' in body  # the ladder still offers the next best to click

    again = client.post(f"/rfq/{rfq.id}/accept/{lpa.id}/", **HX)
    assert again.status_code == 200 and "Executed: bought 4,000 ACME at 100.0800 from LPA" in again.content.decode()


def test_a_last_look_rejection_within_a_threshold_takes_the_next_quote(client, trader, pm_parent, providers):
    from rfq.models import LiquidityProvider

    rfq = rfq_for(pm_parent, trader, quantity=4000, window_s="30", threshold_price=Decimal("100.10"))
    quote(rfq, "LPA", "100.08")
    quote(rfq, "LPB", "100.03")
    # LPB now always says no on last look: the click on its quote falls through to LPA's, within the bound.
    LiquidityProvider.objects.filter(code="LPB").update(last_look_reject_probability=Decimal("1"))
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    signed_in(client, trader)

    response = client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Executed: bought 4,000 ACME at 100.0800 from LPA (1 quote rejected on last look, the next best was taken)" in body
    assert Quote.objects.get(pk=lpb.pk).status == QuoteStatus.REJECTED
    assert "LAST LOOK: NO" in body


def test_an_expired_request_shows_why_nothing_executed_and_no_button(client, trader, rfq):
    from oms.roles import Actor
    from rfq import services

    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(seconds=1))
    services.rfq_window_close(rfq_id=rfq.pk, actor=Actor.system("test"))

    body = signed_in(client, trader).get(f"/rfq/{rfq.id}/").content.decode()

    assert "EXPIRED" in body and 'id="rfq-result"' in body and "Nothing executed" in body
    assert "btn-exec" not in body and 'class="rfq-clock is-closed"' in body
    assert f"The parent P{rfq.parent_id} keeps the quantity" in body


def test_compliance_cannot_execute(client, compliance, rfq):
    lpb = Quote.objects.get(rfq=rfq, provider__code="LPB")
    signed_in(client, compliance)

    response = client.post(f"/rfq/{rfq.id}/accept/{lpb.id}/", **HX)

    assert response.status_code == 403 and 'data-code="permission.trader_only"' in response.content.decode()
    assert not Fill.objects.exists()


def test_the_list_reads_in_a_fixed_number_of_queries(client, trader, pm_parent, providers, django_assert_max_num_queries):
    for _ in range(6):
        rfq_for(pm_parent, trader, quantity=500, window_s="30")
    signed_in(client, trader)
    with django_assert_max_num_queries(12):
        body = client.get("/rfq/").content.decode()
    assert body.count('<tr id="rfq-row-') == 6
