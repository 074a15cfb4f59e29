"""Pre-trade risk against the live market price (issue 6, point 8).

The collar, the notional of market orders and the credit limit measure against the instrument's market
mid while it is fresh (``RISK_PRICE_MAX_AGE_S``), else against the static reference price; the denial
reason says which one it used. The market mid is written by the EMS task from the market model.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from ems.selectors import market_for
from ems.services import venues_sync_from_sim
from ems.sim import SESSION_US, US
from ems.tasks import market_prices_refresh
from oms import refdata
from oms.models import MarketPrice, PortfolioDailyUsage, PriceTick
from oms.refdata import current_stamp
from oms.risk_reference import price_text
from oms.roles import Actor
from oms.services import market_prices_update, orders_submit
from tests.factories import InstrumentFactory

MSFT_REFERENCE = Decimal("415.20")
ONE_HOUR_IN = 3600 * US


@pytest.fixture
def msft(db):
    return InstrumentFactory(symbol="MSFT", reference_price=MSFT_REFERENCE, adv=21_000_000,
                             daily_volatility=Decimal("0.0140"), spread_bps=Decimal("1.0"))


@pytest.fixture
def drifted_msft(settings, msft):
    """MSFT on a simulated day whose model path drifted more than 8% from the 415.20 reference, with the
    live clock set to one hour into that day and its market price written by the real refresh task."""
    settings.SIM_SEED, settings.SIM_SPEED = 20261121, 60.0
    venues_sync_from_sim()
    day = next(d for d in range(0, 400, 5) if abs(market_for(msft, d).mid(ONE_HOUR_IN) / float(MSFT_REFERENCE) - 1) > 0.08)
    settings.SIM_ANCHOR = time.time() - (day * SESSION_US + ONE_HOUR_IN) / US / settings.SIM_SPEED

    market_prices_refresh()

    price = MarketPrice.objects.get(instrument=msft)
    assert abs(price.mid / MSFT_REFERENCE - 1) > Decimal("0.07")  # the market moved on; the reference did not
    return price


def msft_order(order_payload, **overrides):
    return order_payload(instrument="MSFT", **overrides)


def write_price(instrument, mid: str, *, age_s: float = 0, spread: str = "0.02") -> PriceTick:
    mid_d, half = Decimal(mid), Decimal(spread) / 2
    tick = PriceTick(instrument.id, mid_d - half, mid_d + half, mid_d, mid_d, timezone.now() - timedelta(seconds=age_s))
    market_prices_update(prices=[tick])
    return tick


# --- price collar -----------------------------------------------------------------------------------


def test_collar_admits_a_limit_buy_at_the_live_offer_far_from_the_stale_reference(
    drifted_msft, pm, set_limits, post_order, order_payload, assert_accepted,
):
    set_limits(price_collar_pct=Decimal("5"))
    offer = drifted_msft.ask
    assert abs(offer / MSFT_REFERENCE - 1) > Decimal("0.05")  # against the reference price it would be denied

    order = assert_accepted(post_order(pm, msft_order(order_payload, limit_price=str(offer))))

    assert order.limit_price == offer


def test_collar_denies_a_limit_ten_percent_from_the_live_mid_and_names_the_market_mid(
    drifted_msft, pm, set_limits, post_order, order_payload, assert_denied,
):
    set_limits(price_collar_pct=Decimal("5"))
    away = (drifted_msft.mid * Decimal("1.10")).quantize(Decimal("0.01"))

    response = post_order(pm, msft_order(order_payload, limit_price=str(away)))

    order = assert_denied(response, "risk.price_collar")
    assert f"from the market mid {price_text(drifted_msft.mid)} at {drifted_msft.as_of:%H:%M:%S} UTC" in order.deny_reason
    assert response.json()["detail"] == order.deny_reason


def test_collar_falls_back_to_the_reference_price_when_the_market_price_is_stale_and_says_so(
    msft, settings, pm, set_limits, post_order, order_payload, assert_denied,
):
    set_limits(price_collar_pct=Decimal("5"))
    write_price(msft, "456.77", age_s=settings.RISK_PRICE_MAX_AGE_S + 1)

    response = post_order(pm, msft_order(order_payload, limit_price="456.77"))

    order = assert_denied(response, "risk.price_collar")
    assert order.deny_reason == (
        f"Limit 456.77 is 10.01% from the reference price 415.20 (no market price in the last {settings.RISK_PRICE_MAX_AGE_S} s); "
        "the collar is ±5%"
    )


def test_collar_uses_a_market_price_just_inside_the_maximum_age(
    msft, settings, pm, set_limits, post_order, order_payload, assert_accepted,
):
    set_limits(price_collar_pct=Decimal("5"))
    write_price(msft, "456.77", age_s=settings.RISK_PRICE_MAX_AGE_S - 5)

    assert_accepted(post_order(pm, msft_order(order_payload, limit_price="456.78")))


def test_collar_without_any_market_price_uses_the_reference_price(msft, pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(price_collar_pct=Decimal("5"))

    order = assert_denied(post_order(pm, msft_order(order_payload, limit_price="456.77")), "risk.price_collar")

    assert "from the reference price 415.20 (no market price in the last" in order.deny_reason


# --- notional and credit of market orders -----------------------------------------------------------


def test_credit_limit_values_a_market_order_at_the_live_mid(
    msft, portfolio, pm, set_limits, post_order, order_payload, assert_accepted, assert_denied,
):
    set_limits(daily_notional_limit=Decimal("456770.00"))  # 1,000 at the mid; 1,100 at the stale 415.20
    write_price(msft, "456.77")

    first = assert_accepted(post_order(pm, msft_order(order_payload, order_type="market", limit_price=None, quantity=1000)))
    over = post_order(pm, msft_order(order_payload, order_type="market", limit_price=None, quantity=1))

    assert first.notional == Decimal("456770.00")
    assert PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional == Decimal("456770.00")
    denied = assert_denied(over, "risk.credit_limit")
    assert denied.notional == Decimal("456.77")
    assert "(market order valued at the market mid 456.77 at " in denied.deny_reason


def test_first_order_on_a_cold_reference_data_cache_still_uses_the_live_mid(
    msft, pm, post_order, order_payload, assert_accepted, monkeypatch,
):
    write_price(msft, "456.77")
    monkeypatch.setattr(refdata, "_cache", None)  # a fresh process: the first read cannot map symbols to ids

    order = assert_accepted(post_order(pm, msft_order(order_payload, order_type="market", limit_price=None, quantity=100)))

    assert order.notional == Decimal("45677.00")


def test_max_notional_of_a_market_order_uses_the_live_mid(msft, pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(max_order_notional=Decimal("450000.00"))  # 1,000 x 415.20 would pass
    write_price(msft, "456.77")

    order = assert_denied(post_order(pm, msft_order(order_payload, order_type="market", limit_price=None, quantity=1000)),
                          "risk.max_notional")

    assert order.notional == Decimal("456770.00")
    assert "market order valued at the market mid 456.77" in order.deny_reason


def test_limit_order_notional_stays_at_its_limit_price(msft, pm, post_order, order_payload, assert_accepted):
    write_price(msft, "456.77")

    order = assert_accepted(post_order(pm, msft_order(order_payload, limit_price="450.00", quantity=10)))

    assert order.notional == Decimal("4500.00")


# --- the stored price -------------------------------------------------------------------------------


def test_price_update_does_not_bump_the_reference_data_stamp(msft):
    before = current_stamp()

    write_price(msft, "456.77")
    write_price(msft, "456.80")

    assert current_stamp() == before


def test_an_older_tick_never_overwrites_a_newer_price(msft):
    newer = write_price(msft, "456.77")
    older = PriceTick(msft.id, Decimal("400.00"), Decimal("400.02"), Decimal("400.01"), None, newer.as_of - timedelta(seconds=2))

    assert market_prices_update(prices=[older]) == 0

    stored = MarketPrice.objects.get(instrument=msft)
    assert (stored.mid, stored.as_of) == (Decimal("456.77"), newer.as_of)


# --- intake cost ------------------------------------------------------------------------------------


def _bulk(n, portfolio, instruments):
    return [
        {"client_order_id": f"Q-{n}-{k}-{time.time_ns()}", "portfolio": portfolio.code, "instrument": instruments[k % 2].symbol,
         "side": "buy", "quantity": 10 + k, "order_type": "market" if k % 2 else "limit",
         **({} if k % 2 else {"limit_price": "100.00"})}
        for k in range(n)
    ]


def test_bulk_intake_reads_the_market_prices_of_a_batch_in_a_constant_number_of_queries(
    instrument, other_instrument, portfolio, pm, set_limits,
):
    set_limits(price_collar_pct=Decimal("50"), daily_notional_limit=Decimal("1000000000"))
    write_price(instrument, "101.00")
    write_price(other_instrument, "51.00")
    actor = Actor.for_user(pm, "api")
    orders_submit(user=pm, actor=actor, items=_bulk(1, portfolio, [instrument, other_instrument]))  # warm the refdata cache

    counts = {}
    for n in (2, 40):
        with CaptureQueriesContext(connection) as ctx:
            results = orders_submit(user=pm, actor=actor, items=_bulk(n, portfolio, [instrument, other_instrument]))
        assert all(r.outcome == "created" for r in results), [r.error for r in results]
        counts[n] = len(ctx.captured_queries)

    assert counts[40] == counts[2]
    market = [r.order for r in results if r.order.order_type == "market"]
    assert {o.notional / o.quantity for o in market} == {Decimal("51.00")}


# --- what people and clients see --------------------------------------------------------------------


def test_ticket_prices_show_the_live_mid_or_the_stale_reference(client, msft, other_instrument, settings, pm):
    write_price(msft, "456.77")
    write_price(other_instrument, "51.00", age_s=settings.RISK_PRICE_MAX_AGE_S + 1)
    client.force_login(pm)

    body = client.get("/orders/ticket/prices/").json()

    msft_price, beta = body["prices"]["MSFT"], body["prices"]["BETA"]
    assert (msft_price["price"], msft_price["source"]) == ("456.77", "market")
    assert msft_price["detail"].startswith("market mid 456.77 at ")
    assert (beta["price"], beta["source"], beta["as_of"]) == ("50.00", "reference", None)
    assert beta["detail"] == f"reference price 50.00 (no market price in the last {settings.RISK_PRICE_MAX_AGE_S} s)"


def test_instruments_api_exposes_the_market_price_and_null_before_the_first(msft, instrument, pm, api, django_assert_num_queries):
    tick = write_price(msft, "456.77")
    client = api(pm)
    client.get("/api/instruments/")  # loads the reference-data cache the token is checked against

    with django_assert_num_queries(3):  # refdata stamp, count, page (market prices joined in: no N+1)
        rows = {r["symbol"]: r for r in client.get("/api/instruments/").json()["results"]}

    assert rows["ACME"]["market_price"] is None
    price = rows["MSFT"]["market_price"]
    assert (Decimal(price["bid"]), Decimal(price["ask"]), Decimal(price["mid"])) == (tick.bid, tick.ask, tick.mid)
    assert price["as_of"]


def test_openapi_schema_declares_the_instrument_market_price(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    instrument = schema["components"]["schemas"]["Instrument"]
    assert instrument["properties"]["market_price"]["readOnly"] is True
    assert set(schema["components"]["schemas"]["MarketPrice"]["properties"]) == {"bid", "ask", "mid", "as_of"}
