"""Packages over the REST API: POST /api/rfqs/ with legs, GET shows the legs and the net ladder, accept executes
every leg; bad input is a JSON 4xx with a stable code naming the leg, never a 500, and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.models import Fill
from oms.models import Instrument, Order
from rfq.models import RFQ
from tests.rfq.package_helpers import chain, four_legs, net_quote
from tests.rfq.services_helpers import providers

pytestmark = pytest.mark.django_db
RFQS = "/api/rfqs/"


@pytest.fixture
def desk(clock, venues, instrument):
    providers("MMA", "MMB", "MMC")
    return chain(instrument)


def _body(portfolio, legs, **kw):
    return {"portfolio": portfolio.code, "legs": legs, "quantity": 10, "window_s": "30", **kw}


def test_a_four_leg_package_over_the_api_shows_its_legs_and_net_ladder_and_accepts_in_one_click(
        trader_api, desk, instrument, portfolio):
    legs = four_legs(instrument, desk)
    response = trader_api.post(RFQS, _body(portfolio, legs), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["package"] is True and body["quantity"] == 10 and body["status"] == "sent"
    assert [(leg["instrument"], leg["side"], leg["ratio"], leg["quantity"]) for leg in body["legs"]] == [
        (leg["instrument"], leg["side"], leg["ratio"], 10 * leg["ratio"]) for leg in legs]
    assert [leg["kind"] for leg in body["legs"]] == ["option", "option", "option", "equity"]
    rfq = RFQ.objects.get(pk=body["id"])
    net_quote(rfq, "MMA", "0.25")
    best = net_quote(rfq, "MMB", "0.15")

    ladder = trader_api.get(f"{RFQS}{rfq.pk}/").json()["ladder"]
    assert [q["provider"] for q in ladder] == ["MMB", "MMA"] and ladder[0]["is_best"]
    assert Decimal(ladder[0]["price"]) == best.price

    accepted = trader_api.post(f"{RFQS}{rfq.pk}/accept/", {"quote_id": best.pk}, format="json")
    assert accepted.status_code == 200, accepted.content
    detail = accepted.json()
    assert detail["status"] == "executed" and Decimal(detail["executed_price"]) == best.price
    total = sum((Decimal(1 if leg["side"] == "buy" else -1) * leg["ratio"] * leg["multiplier"] * Decimal(leg["executed_price"]) for leg in detail["legs"]),
                Decimal(0))
    assert total == best.price and Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").count() == 4


@pytest.mark.parametrize(("legs", "status", "code", "field"), [
    ([], 400, "rfq.no_legs", "legs"),
    (None, 400, "validation_error", "legs"),
    ({"instrument": "ACME"}, 400, "rfq.bad_legs", "legs"),
    ([[["deep"]]], 400, "rfq.bad_legs", "legs"),
    ([{"instrument": "NOPE", "side": "buy", "ratio": 1}], 400, "rfq.leg_unknown_instrument", "legs[0].instrument"),
    ([{"instrument": 7, "side": "buy", "ratio": 1}], 400, "rfq.leg_unknown_instrument", "legs[0].instrument"),
    ([{"instrument": "A\x00", "side": "buy", "ratio": 1}], 400, "rfq.leg_unknown_instrument", "legs[0].instrument"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 0}], 400, "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": -1}], 400, "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 0.5}], 400, "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": "2"}], 400, "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 10**30}], 400, "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": None, "ratio": 1}], 400, "rfq.leg_bad_side", "legs[0].side"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1}] * 2, 400, "rfq.leg_duplicate", "legs[1].instrument"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1}] * 5, 400, "rfq.too_many_legs", "legs"),
])
def test_bad_legs_are_json_4xx_with_a_code_naming_the_leg(trader_api, desk, portfolio, legs, status, code, field):
    response = trader_api.post(RFQS, _body(portfolio, legs), format="json")
    assert response.status_code == status, response.content
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert not RFQ.objects.exists() and not Order.objects.exists()


def test_an_expired_option_leg_is_refused(trader_api, desk, portfolio):
    Instrument.objects.filter(pk=desk["c100"].pk).update(expiry=timezone.now().date() - timedelta(days=1))
    response = trader_api.post(RFQS, _body(portfolio, [{"instrument": desk["c100"].symbol, "side": "buy", "ratio": 1}]), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "rfq.leg_expired")


@pytest.mark.parametrize(("change", "status", "code", "field"), [
    ({"quantity": 0}, 400, "validation_error", "quantity"),
    ({"quantity": 1.5}, 400, "validation_error", "quantity"),
    ({"quantity": "10"}, 400, "validation_error", "quantity"),
    ({"portfolio": 5}, 400, "validation_error", "portfolio"),
    ({"portfolio": "NOPE"}, 400, "validation_error", "portfolio"),
    ({"direction": "sell"}, 400, "rfq.bad_direction", "direction"),
    ({"colour": "red"}, 400, "validation_error", "colour"),
    ({"mode": "auto"}, 400, "rfq.threshold_required", "threshold_bps"),
])
def test_bad_package_terms_are_json_4xx(trader_api, desk, instrument, portfolio, change, status, code, field):
    response = trader_api.post(RFQS, {**_body(portfolio, four_legs(instrument, desk)), **change}, format="json")
    assert response.status_code == status, response.content
    assert (response.json()["code"], response.json().get("field")) == (code, field)
    assert not RFQ.objects.exists() and not Order.objects.exists()


def test_a_portfolio_the_user_may_not_trade_is_refused_for_every_leg(api, pm, other_portfolio, desk, instrument):
    # Only the desk requests quotes; a PM is refused before anything, whatever the portfolio.
    response = api(pm).post(RFQS, _body(other_portfolio, four_legs(instrument, desk)), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission.trader_only")


def test_a_restricted_leg_is_a_422_naming_the_leg(trader_api, desk, instrument, portfolio):
    from oms.models import RestrictedInstrument

    RestrictedInstrument.objects.create(instrument=desk["c105"], portfolio=portfolio, reason="watch list")
    response = trader_api.post(RFQS, _body(portfolio, four_legs(instrument, desk)), format="json")
    assert response.status_code == 422, response.content
    assert (response.json()["code"], response.json()["field"]) == ("risk.restricted_instrument", "legs[1].instrument")
    assert not Order.objects.exists()


def test_nul_bytes_deep_and_huge_package_bodies(trader_api, desk, portfolio):
    cases = [
        (b'{"portfolio": "X", "legs": ' + b"[" * 5000 + b"]" * 5000 + b', "quantity": 1}', 400, "parse_error"),
        (b'{"portfolio": "X", "legs": [], "quantity": 1, "x": "' + b"a" * (11 * 1024 * 1024) + b'"}', 413, "request_too_large"),
        (b'{"portfolio": "X\\u0000", "legs": [], "quantity": 1}', 400, "validation_error"),
        (b'{"portfolio": "X", "legs": [{"instrument": "A\\u0000", "side": "buy", "ratio": 1}], "quantity": 1}', 400,
         "rfq.leg_unknown_instrument"),
        (b'{"portfolio": "X", "legs": [{"instrument": "\\ud800", "side": "buy", "ratio": 1}], "quantity": 1}', 400,
         "rfq.leg_unknown_instrument"),
    ]
    for body, status, code in cases:
        response = trader_api.post(RFQS, data=body, content_type="application/json")
        assert (response.status_code, response.json()["code"]) == (status, code), (body[:60], response.content[:200])
    assert not RFQ.objects.exists()
