"""The "New package" page (/rfq/package/new/) with Django's test client: a trader's form, a POST that creates the
package through the same service as the API (the RFQ, its legs, one order per leg) and goes to its ladder, and
bad input shown next to the leg or field it names, as typed, with its code, writing nothing and never a 500. A PM
or compliance officer may not build one (403 with the code). The live path (a worker, quotes, a click) is in
tests/browser/test_package_form.py."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from oms.models import AuditEvent, Instrument, Order
from rfq.models import RFQ
from tests.rfq.package_helpers import chain, four_legs
from tests.rfq.services_helpers import providers

pytestmark = pytest.mark.django_db
URL = "/rfq/package/new/"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk(clock, venues, instrument):
    providers("MMA", "MMB", "MMC")
    return chain(instrument)


def form(portfolio, legs, **overrides) -> dict:
    data = {"portfolio": portfolio.code, "quantity": "10", "direction": "two_way", "mode": "click", "window_s": "30",
            "threshold_bps": "", "threshold_price": "", "underlying": "ACME"}
    for n, leg in enumerate(legs):
        data |= {f"leg-{n}-instrument": leg["instrument"], f"leg-{n}-side": leg["side"], f"leg-{n}-ratio": str(leg["ratio"])}
    return {**data, **overrides}


def written() -> tuple[int, int, int]:
    return Order.objects.count(), RFQ.objects.count(), AuditEvent.objects.count()


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_a_trader_gets_the_form_with_the_underlyings_chain_to_pick_from(client, trader, desk, portfolio, instrument):
    client.force_login(trader)
    response = client.get(URL, {"underlying": "acme", "leg": [desk["c100"].symbol]})
    assert response.status_code == 200
    page = text(response)
    assert 'id="package-form"' in page and "csrfmiddlewaretoken" in page
    assert f'<option value="{portfolio.code}"' in page
    assert f'<option value="{desk["c105"].symbol}">' in page and '<option value="ACME">' in page  # the datalist of the chain
    assert f'name="leg-0-instrument" aria-label="Leg 1 instrument" list="package-symbols" class="upper mono" spellcheck="false" value="{desk["c100"].symbol}"' in page
    assert page.count('<tr class="package-leg') == 4
    assert "currency per package" in page


def test_the_rfq_list_and_the_chain_page_lead_a_trader_to_the_form(client, trader, desk):
    client.force_login(trader)
    assert 'href="/rfq/package/new/"' in text(client.get("/rfq/"))
    chain_page = text(client.get("/options/ACME/"))
    assert 'href="/rfq/package/new/?underlying=ACME"' in chain_page
    assert f'class="btn-link add-leg" data-symbol="{desk["p95"].symbol}"' in chain_page  # the + that adds it as a leg


def test_posting_four_legs_creates_the_package_with_an_order_per_leg_and_goes_to_its_ladder(client, trader, desk, portfolio, instrument):
    client.force_login(trader)
    legs = four_legs(instrument, desk)
    response = client.post(URL, form(portfolio, legs))
    rfq = RFQ.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rfq/{rfq.id}/"
    assert rfq.package and rfq.quantity == 10 and rfq.source == "desk" and rfq.requested_by == trader
    assert [(leg.instrument.symbol, leg.side, leg.ratio, leg.quantity) for leg in rfq.legs.order_by("leg_no")] == [
        (leg["instrument"], leg["side"], leg["ratio"], 10 * leg["ratio"]) for leg in legs]
    orders = list(Order.objects.order_by("client_order_id"))
    assert [(o.client_order_id, o.instrument.symbol, o.side, o.quantity, o.source) for o in orders] == [
        (f"PKG{rfq.id}-L{n}", leg["instrument"], leg["side"], 10 * leg["ratio"], f"browser:{trader.username}")
        for n, leg in enumerate(legs, start=1)]
    assert all(o.portfolio_id == portfolio.id for o in orders)
    assert rfq.disseminations.count() == 3
    ladder = client.get(f"/rfq/{rfq.id}/")
    assert ladder.status_code == 200 and "Package of <b>4 legs</b>" in text(ladder)


def test_blank_rows_are_skipped_and_htmx_is_sent_to_the_ladder(client, trader, desk, portfolio, instrument):
    client.force_login(trader)
    legs = four_legs(instrument, desk)[:2]
    data = form(portfolio, [legs[0]]) | {"leg-2-instrument": legs[1]["instrument"], "leg-2-side": "sell", "leg-2-ratio": "1",
                                         "leg-1-instrument": "  ", "leg-1-ratio": "1"}
    response = client.post(URL, data, **HX)
    rfq = RFQ.objects.get()
    assert response.status_code == 200 and response["HX-Redirect"] == f"/rfq/{rfq.id}/"
    assert rfq.legs.count() == 2


def _leg_error(page: str, row: int) -> str:
    m = re.search(rf'<tr class="package-leg has-error" id="leg-{row}".*?</tr>', page)
    assert m, f"no error on row {row}"
    return m.group(0)


@pytest.mark.parametrize(("row", "change", "code"), [
    (1, {"leg-1-instrument": "NOPE270115C100"}, "rfq.leg_unknown_instrument"),
    (2, {"leg-2-ratio": "0"}, "rfq.leg_bad_ratio"),
    (3, {"leg-3-ratio": "-4"}, "rfq.leg_bad_ratio"),
    (3, {"leg-3-ratio": "9" * 30}, "rfq.leg_bad_ratio"),
    (0, {"leg-0-ratio": "1.5"}, "rfq.leg_bad_ratio"),
    (1, {"leg-1-instrument": "AC\x00ME"}, "rfq.leg_unknown_instrument"),
    (2, {"leg-2-side": "short"}, "rfq.leg_bad_side"),
    (3, {"leg-3-instrument": "ACME", "leg-0-instrument": "ACME"}, "rfq.leg_duplicate"),
])
def test_a_bad_leg_is_shown_next_to_that_leg_with_its_code_as_typed_and_nothing_is_written(
        client, trader, desk, portfolio, instrument, row, change, code):
    client.force_login(trader)
    data = form(portfolio, four_legs(instrument, desk)) | change
    before = written()
    response = client.post(URL, data)
    assert response.status_code == 400
    page = text(response)
    cells = _leg_error(page, row)
    assert code in cells and 'role="alert"' in cells
    assert page.count('class="package-leg has-error"') == 1
    assert f'value="{desk["c105"].symbol}"' in page  # what was typed stays
    assert written() == before


def test_an_expired_option_leg_is_shown_on_its_row(client, trader, desk, portfolio, instrument):
    Instrument.objects.filter(pk=desk["p95"].pk).update(expiry=timezone.now().date() - timedelta(days=1))
    client.force_login(trader)
    before = written()
    response = client.post(URL, form(portfolio, four_legs(instrument, desk)), **HX)
    assert response.status_code == 400 and "rfq.leg_expired" in _leg_error(text(response), 2)
    assert written() == before


def test_more_than_four_legs_is_refused_for_the_package(client, trader, desk, portfolio, instrument):
    client.force_login(trader)
    extra = {"instrument": desk["c100"].symbol.replace("C100", "C110"), "side": "buy", "ratio": 1}
    response = client.post(URL, form(portfolio, [*four_legs(instrument, desk), extra]))
    page = text(response)
    assert response.status_code == 400 and 'id="legs-error"' in page and "rfq.too_many_legs" in page
    assert page.count('<tr class="package-leg') == 5  # every row typed is shown again
    assert not RFQ.objects.exists() and not Order.objects.exists()


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"quantity": "0"}, "quantity", "rfq.bad_quantity"),
    ({"quantity": "ten"}, "quantity", "rfq.bad_quantity"),
    ({"quantity": "9" * 200}, "quantity", "rfq.bad_quantity"),
    ({"quantity": "9" * 30}, "quantity", None),
    ({"window_s": "1e999"}, "window_s", "rfq.bad_window"),
    ({"window_s": "600"}, "window_s", "rfq.bad_window"),
    ({"mode": "auto"}, "threshold_bps", "rfq.threshold_required"),
    ({"portfolio": "NOPE"}, "portfolio", None),
    ({"portfolio": "PM-A-GROWTH" + "X" * 40}, "portfolio", "rfq.bad_portfolio"),  # never cut down to a code that exists
])
def test_a_bad_field_is_shown_next_to_it_and_nothing_is_written(client, trader, desk, portfolio, instrument, change, field, code):
    client.force_login(trader)
    before = written()
    response = client.post(URL, form(portfolio, four_legs(instrument, desk)) | change)
    assert 400 <= response.status_code < 500
    page = text(response)
    m = re.search(rf'<div class="field[^"]*has-error" id="field-{field}">.*?</div>', page, re.S)
    assert m and 'role="alert"' in m.group(0), page[:3000]
    if code:
        assert code in m.group(0)
    assert written() == before


def test_no_legs_at_all_is_refused(client, trader, desk, portfolio):
    client.force_login(trader)
    response = client.post(URL, form(portfolio, []))
    assert response.status_code == 400 and "rfq.no_legs" in text(response)
    assert not RFQ.objects.exists()


def test_a_package_breaching_the_delta_limit_is_shown_with_the_risk_code(client, trader, desk, portfolio, instrument):
    from oms.models import RiskLimit

    RiskLimit.objects.update_or_create(portfolio=portfolio, defaults={"max_net_delta_shares": 300})
    client.force_login(trader)
    before = written()
    response = client.post(URL, form(portfolio, [{"instrument": desk["c100"].symbol, "side": "buy", "ratio": 1}]))
    assert response.status_code == 422 and "risk.delta_limit" in text(response)
    assert written() == before


@pytest.mark.parametrize("who", ["pm", "compliance"])
def test_a_pm_or_compliance_may_not_build_a_package(client, request, desk, portfolio, instrument, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    response = client.post(URL, form(portfolio, four_legs(instrument, desk)))
    assert response.status_code == 403 and "permission.trader_only" in text(response)
    assert not RFQ.objects.exists() and not Order.objects.exists()
    chain_page = text(client.get("/options/ACME/"))
    assert 'href="/rfq/package/new/' not in chain_page and "add-leg" not in chain_page


def test_the_form_needs_a_csrf_token(trader, desk, portfolio, instrument):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(trader)
    assert c.post(URL, form(portfolio, four_legs(instrument, desk))).status_code == 403
    assert not RFQ.objects.exists()
