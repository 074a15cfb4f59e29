"""Listed options as instruments (issue 22, item 1): their terms, the demo chains, notional with the contract
multiplier in pre-trade risk, and the API's option filters."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from oms.api.constants import SYMBOL_REGEX
from oms.demo import monthly_expiries, option_chain_terms, option_symbol, seed_option_chains, strike_step
from oms.models import Instrument, InstrumentKind, OptionType

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 7)


def test_monthly_expiries_are_the_third_fridays_after_today():
    assert monthly_expiries(TODAY, 3) == [date(2026, 12, 18), date(2027, 1, 15), date(2027, 2, 19)]
    assert monthly_expiries(date(2026, 12, 18), 1) == [date(2027, 1, 15)]  # expiry day itself: the next one


def test_demo_chain_terms_fit_the_symbol_rule_and_bracket_the_money(instrument):
    instrument.refresh_from_db()
    terms = option_chain_terms(instrument, TODAY)  # ACME at 100.00: strikes 5 apart
    assert len(terms) == 3 * 9 * 2
    assert strike_step(Decimal("99.99")) == Decimal("2.5") and strike_step(Decimal("415.20")) == Decimal("10")
    assert {t["strike"] for t in terms} == {Decimal("100") + k * 5 for k in range(-4, 5)}
    assert all(re.fullmatch(SYMBOL_REGEX, t["symbol"]) for t in terms)
    assert option_symbol("GOOGL", date(2027, 1, 15), OptionType.CALL, Decimal("167.5")) == "GOOGL270115C167.5"


def test_seeding_lists_the_chain_once_and_retires_expired_options(instrument):
    assert seed_option_chains(TODAY, ("ACME",)) == 54
    seed_option_chains(TODAY, ("ACME",))
    options = Instrument.objects.filter(kind=InstrumentKind.OPTION, underlying=instrument)
    assert options.count() == 54
    put = options.get(symbol="ACME261218P95")
    assert (put.option_type, put.strike, put.multiplier, put.reference_price) == ("put", Decimal("95"), 100, Decimal("0.01"))

    seed_option_chains(date(2026, 12, 19), ("ACME",))  # the December expiry is past
    assert not Instrument.objects.get(symbol="ACME261218P95").is_active
    assert options.filter(is_active=True, expiry=date(2027, 3, 19)).count() == 18


def test_an_option_without_its_terms_is_refused_by_the_database(instrument):
    with pytest.raises(IntegrityError), transaction.atomic():
        Instrument.objects.create(symbol="ACMEX", name="x", kind="option", underlying=instrument, option_type="call",
                                  reference_price=1, adv=1, daily_volatility=Decimal("0.02"), spread_bps=1)  # no strike
    with pytest.raises(IntegrityError), transaction.atomic():
        Instrument.objects.create(symbol="ACMEY", name="y", strike=Decimal("100"), reference_price=1, adv=1,
                                  daily_volatility=Decimal("0.02"), spread_bps=1)  # an equity with a strike


def test_an_option_orders_notional_carries_the_multiplier_into_risk(pm, instrument, set_limits, post_order, order_payload,
                                                                    assert_accepted, assert_denied):
    seed_option_chains(TODAY, ("ACME",))
    set_limits(max_order_notional=Decimal("100000.00"), price_collar_pct=None)
    put = "ACME270115P95"

    at_limit = post_order(pm, order_payload(instrument=put, quantity=500, limit_price="2.00"))  # 500 x 2.00 x 100
    over = post_order(pm, order_payload(instrument=put, quantity=501, limit_price="2.00"))

    assert assert_accepted(at_limit).notional == Decimal("100000.00")
    assert assert_denied(over, "risk.max_notional").notional == Decimal("100200.00")


def test_the_api_lists_options_with_their_terms_and_filters(instrument, other_instrument, api, pm):
    seed_option_chains(TODAY, ("ACME", "BETA"))
    client = api(pm)

    body = client.get("/api/instruments/", {"kind": "option", "underlying": "acme", "type": "put", "expiry": "2027-01-15"}).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == 9 and {r["underlying"] for r in rows} == {"ACME"}
    assert rows[0]["multiplier"] == 100 and rows[0]["option_type"] == "put" and rows[0]["expiry"] == "2027-01-15"
    equity = client.get("/api/instruments/ACME/").json()
    assert (equity["kind"], equity["multiplier"], equity["underlying"], equity["strike"]) == ("equity", 1, None, None)


@pytest.mark.parametrize("query, field", [
    ({"expiry": "2027-13-01"}, "expiry"), ({"type": "straddle"}, "type"), ({"kind": "future"}, "kind"),
    ({"expiry": ""}, "expiry"), ({"underlying": "A\x00B"}, "underlying"),
])
def test_bad_option_filters_are_a_400_with_a_code(instrument, api, pm, query, field):
    response = api(pm).get("/api/instruments/", query)
    assert response.status_code == 400, response.content
    assert response.json()["code"] and response.json()["field"] == field
