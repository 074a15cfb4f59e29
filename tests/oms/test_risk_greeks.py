"""Pre-trade risk on options (issue 22, item 5): most contracts per order, the portfolio's net delta (shares) and net
vega (currency per volatility point) per underlying, the reducing rule, the global/portfolio fallback, the
package check over all its legs, and nothing read for a portfolio without a Greek limb."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ems.option_market import option_greeks_held
from fix.vocabulary import EXCEEDS_LIMIT, ORD_REJ_REASON
from oms.demo import seed_option_chains
from oms.error_codes import RiskErrorCode
from oms.errors import RiskDenied
from oms.models import Instrument, Order, Position
from oms.services.risk_greeks import GreekLeg, greeks_check
from oms.states import OrderStatus
from tests.oms.conftest import order_url

pytestmark = pytest.mark.django_db

PUT = "ACME270115P95"


@pytest.fixture
def put(instrument):
    seed_option_chains(date(2026, 12, 7), ("ACME",))
    return Instrument.objects.get(symbol=PUT)


def per_contract(option: Instrument) -> tuple[float, float]:
    """(delta in shares, vega in currency per point) of one contract, as risk values it now."""
    g = option_greeks_held([option], datetime.now(UTC))[option.pk]
    return g.delta * option.multiplier, g.vega * option.multiplier


def hold(portfolio, instrument, quantity: int) -> Position:
    return Position.objects.create(portfolio=portfolio, instrument=instrument, quantity=quantity, avg_cost=Decimal("1"))


def put_order(order_payload, side="buy", quantity=500, **kw):
    return order_payload(instrument=PUT, side=side, quantity=quantity, limit_price="2.00", **kw)


def test_an_option_order_over_the_most_contracts_is_denied(pm, put, set_limits, post_order, order_payload, assert_accepted, assert_denied):
    set_limits(max_option_contracts=500)

    assert_accepted(post_order(pm, put_order(order_payload, quantity=500)))
    over = post_order(pm, put_order(order_payload, quantity=501))

    order = assert_denied(over, RiskErrorCode.MAX_CONTRACTS)
    assert over.json()["field"] == "quantity" and "501 contracts" in over.json()["detail"]
    assert order.status == OrderStatus.DENIED
    # An equity order is not counted in contracts.
    assert_accepted(post_order(pm, order_payload(quantity=1000)))


def test_the_new_risk_codes_are_exceeds_limit_in_fix():
    assert {ORD_REJ_REASON[c] for c in (RiskErrorCode.MAX_CONTRACTS, RiskErrorCode.DELTA_LIMIT, RiskErrorCode.VEGA_LIMIT)} == {EXCEEDS_LIMIT}


def test_an_option_order_that_would_take_net_delta_past_the_limit_is_denied(pm, put, set_limits, post_order, order_payload,
                                                                           assert_accepted, assert_denied):
    delta, _ = per_contract(put)  # a put: negative
    limit = int(abs(delta) * 300)
    set_limits(max_net_delta_shares=limit)

    assert_accepted(post_order(pm, put_order(order_payload, quantity=250)))  # from flat: within the limit
    denied = post_order(pm, put_order(order_payload, quantity=500))

    assert_denied(denied, RiskErrorCode.DELTA_LIMIT)
    assert "net delta in ACME" in denied.json()["detail"] and f"±{limit:,}" in denied.json()["detail"]


def test_a_trade_that_reduces_an_over_limit_delta_passes_and_one_that_adds_is_denied(pm, portfolio, instrument, put, set_limits,
                                                                                    post_order, order_payload, assert_accepted,
                                                                                    assert_denied):
    delta, _ = per_contract(put)
    hold(portfolio, instrument, 30_000)  # long 30,000 shares: over a 10,000-share limit
    set_limits(max_net_delta_shares=10_000)

    # Buying puts brings the delta down (still over the limit): allowed. So is selling shares.
    assert 30_000 + delta * 100 > 10_000
    assert_accepted(post_order(pm, put_order(order_payload, quantity=100)))
    assert_accepted(post_order(pm, order_payload(side="sell", quantity=5_000, limit_price="99.50")))
    # Buying shares or selling puts adds to it: denied, a share order in a portfolio with a delta limit too.
    assert_denied(post_order(pm, order_payload(side="buy", quantity=100)), RiskErrorCode.DELTA_LIMIT)
    assert_denied(post_order(pm, put_order(order_payload, side="sell", quantity=10)), RiskErrorCode.DELTA_LIMIT)


def test_net_vega_past_the_limit_is_denied_and_selling_vega_back_passes(pm, portfolio, put, set_limits, post_order, order_payload,
                                                                       assert_accepted, assert_denied):
    _, vega = per_contract(put)
    set_limits(max_net_vega=Decimal(round(vega * 400)))

    denied = post_order(pm, put_order(order_payload, quantity=500))
    assert_denied(denied, RiskErrorCode.VEGA_LIMIT)
    assert "per vol point" in denied.json()["detail"]

    hold(portfolio, put, 600)  # over the limit already (it was lowered, say)
    assert_accepted(post_order(pm, put_order(order_payload, side="sell", quantity=100)))
    assert_denied(post_order(pm, put_order(order_payload, quantity=1)), RiskErrorCode.VEGA_LIMIT)
    # Vega limits options only: shares carry none.
    assert_accepted(post_order(pm, order_payload(quantity=1000)))


def test_the_portfolio_limb_overrides_the_global_one_and_a_blank_one_falls_back(pm, portfolio, put, set_limits, post_order,
                                                                                order_payload, assert_accepted, assert_denied):
    delta, _ = per_contract(put)
    set_limits(max_net_delta_shares=int(abs(delta) * 100))  # global: 100 contracts' worth
    own = set_limits(portfolio=portfolio, max_order_quantity=10**9)  # the portfolio sets other limbs only: global applies

    assert_denied(post_order(pm, put_order(order_payload, quantity=200)), RiskErrorCode.DELTA_LIMIT)

    own.max_net_delta_shares = int(abs(delta) * 1000)
    own.save()
    assert_accepted(post_order(pm, put_order(order_payload, quantity=200)))


def test_orders_of_one_bulk_count_for_each_other(pm, put, set_limits, post_bulk, order_payload):
    delta, _ = per_contract(put)
    set_limits(max_net_delta_shares=int(abs(delta) * 300))

    response = post_bulk(pm, [put_order(order_payload, quantity=200), put_order(order_payload, quantity=200)])

    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert results[1]["code"] == RiskErrorCode.DELTA_LIMIT


def test_amending_an_option_order_up_is_checked_on_its_growth(pm, portfolio, put, set_limits, post_order, order_payload, api,
                                                              assert_accepted):
    delta, _ = per_contract(put)
    set_limits(max_net_delta_shares=int(abs(delta) * 300))
    order = assert_accepted(post_order(pm, put_order(order_payload, quantity=200)))
    hold(portfolio, put, 150)  # fills of other orders since

    assert api(pm).post(order_url(order.pk, "replace"), {"quantity": 250}, format="json").status_code == 200  # 150 + 100

    up = api(pm).post(order_url(order.pk, "replace"), {"quantity": 450}, format="json")  # 150 + 200 more

    assert up.status_code == 422 and up.json()["code"] == RiskErrorCode.DELTA_LIMIT
    order.refresh_from_db()
    assert order.quantity == 250


def test_a_delta_hedged_package_passes_where_its_option_leg_alone_breaches(portfolio, instrument, put, set_limits):
    delta, vega = per_contract(put)
    set_limits(max_net_delta_shares=int(abs(delta) * 100), max_net_vega=Decimal(round(vega * 1000)), max_option_contracts=1000)
    hedge = round(-delta * 500)  # shares that offset 500 puts' delta

    with pytest.raises(RiskDenied) as alone:
        greeks_check(portfolio=portfolio, legs=[GreekLeg(put, "buy", 500)])
    assert alone.value.code == RiskErrorCode.DELTA_LIMIT and alone.value.field == "quantity"

    greeks_check(portfolio=portfolio, legs=[GreekLeg(put, "buy", 500), GreekLeg(instrument, "buy", hedge)])
    greeks_check(portfolio=portfolio, legs=[(put, "buy", 500), (instrument, "buy", hedge)])  # plain tuples too

    with pytest.raises(RiskDenied) as big:
        greeks_check(portfolio=portfolio, legs=[GreekLeg(put, "buy", 1001), GreekLeg(instrument, "buy", hedge)])
    assert big.value.code == RiskErrorCode.MAX_CONTRACTS


def test_a_package_over_the_vega_limit_is_denied_as_a_whole(portfolio, instrument, put, set_limits):
    _, vega = per_contract(put)
    call = Instrument.objects.get(symbol="ACME270115C105")
    _, call_vega = per_contract(call)
    set_limits(max_net_vega=Decimal(round(max(vega, call_vega) * 110)))
    assert (vega + call_vega) * 100 > max(vega, call_vega) * 110

    # A strangle: both legs long vega; each alone fits, together they do not.
    greeks_check(portfolio=portfolio, legs=[GreekLeg(put, "buy", 100)])
    greeks_check(portfolio=portfolio, legs=[GreekLeg(call, "buy", 100)])
    with pytest.raises(RiskDenied) as both:
        greeks_check(portfolio=portfolio, legs=[GreekLeg(put, "buy", 100), GreekLeg(call, "buy", 100)])
    assert both.value.code == RiskErrorCode.VEGA_LIMIT


def test_a_portfolio_without_a_greek_limb_reads_no_position(pm, portfolio, put, set_limits, submit):
    hold(portfolio, put, 10)
    set_limits(max_order_quantity=10**9)  # limits, but no Greek limb

    with CaptureQueriesContext(connection) as queries:
        result = submit(pm, instrument=PUT, quantity=10, limit_price="2.00")

    assert result.status == OrderStatus.ACCEPTED
    assert not [q for q in queries.captured_queries if "oms_position" in q["sql"]]
    assert Order.objects.filter(status=OrderStatus.DENIED).count() == 0
