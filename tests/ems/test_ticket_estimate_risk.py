"""The ticket's pre-trade estimate asks pre-trade risk first: a denied order never promises a route; and the
demo's limits admit the selection matrix's block route (RFQ) in the names where a block is a sane size."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from ems.algos.selection import MATRIX
from ems.algos.types import StrategyName
from oms.models import Instrument, Portfolio
from oms.services.risk_preview import order_risk_preview
from tests.factories import RiskLimitFactory

pytestmark = pytest.mark.django_db

BLOCK_PCT_ADV = next(r for r in MATRIX if r.name == "block").pct_adv[0]


def _estimate(client, **fields):
    return client.get("/orders/ticket/estimate/", {
        "client_order_id": "WEB-PREVIEW-1", "side": "buy", "order_type": "market", "urgency": "medium",
        "strategy": "auto", **fields,
    }).content.decode()


def test_an_order_risk_would_deny_shows_the_denial_not_a_route(client, pm, portfolio, instrument):
    RiskLimitFactory(portfolio=None, max_order_quantity=1_000_000)
    client.force_login(pm)

    block = _estimate(client, portfolio=portfolio.code, instrument="ACME", quantity="2500000")  # 25% of ADV

    assert "Would be denied" in block and "risk.max_quantity" in block
    assert "RFQ" not in block and "dealers" not in block
    admitted = _estimate(client, portfolio=portfolio.code, instrument="ACME", quantity="50000")
    assert "Would be denied" not in admitted and "VWAP" in admitted


def test_the_estimate_previews_the_price_collar_at_the_risk_price(client, pm, portfolio, instrument):
    RiskLimitFactory(portfolio=None, price_collar_pct=Decimal("5"))
    client.force_login(pm)

    page = _estimate(client, portfolio=portfolio.code, instrument="ACME", quantity="100", order_type="limit", limit_price="120")

    assert "Would be denied" in page and "risk.price_collar" in page and "20.00% from the reference price" in page


def test_a_ticket_that_is_not_an_order_yet_has_no_risk_verdict(pm, portfolio, instrument):
    assert order_risk_preview(user=pm, data={"client_order_id": "X-1", "portfolio": portfolio.code, "instrument": "ACME"}) is None


def test_demo_limits_admit_a_block_in_the_mid_caps_and_the_estimate_routes_it_to_dealers(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=StringIO())
    pm1 = Portfolio.objects.get(code="GROWTH-US").members.get(username="pm1")

    def block_of(symbol):
        inst = Instrument.objects.get(symbol=symbol)
        qty = int(inst.adv * BLOCK_PCT_ADV / 100)
        data = {"client_order_id": "WEB-PREVIEW-1", "portfolio": "GROWTH-US", "instrument": symbol, "side": "buy",
                "quantity": str(qty), "order_type": "market"}
        return qty, order_risk_preview(user=pm1, data=data)

    admitted = [s for s in ("KO", "DIS", "CSCO", "WMT", "JNJ", "PG") if block_of(s)[1] is None]
    assert admitted == ["KO", "DIS", "CSCO", "WMT", "JNJ", "PG"]
    assert block_of("AAPL")[1][0] == "risk.max_quantity"  # 13M shares: the estimate says so, no route promised

    client.force_login(pm1)
    qty, _ = block_of("KO")
    page = _estimate(client, portfolio="GROWTH-US", instrument="KO", quantity=str(qty))
    assert StrategyName.RFQ.name in page and "Would be denied" not in page
    assert "dealers" in page and "% of volume" not in page
