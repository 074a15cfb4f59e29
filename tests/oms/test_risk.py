"""Pre-trade risk (oms.services.risk): each limb allows at the limit, denies just over it with its code.

A denial is stored as a DENIED order with its code and reason, audited (received + denied) and answered
422 with the code and the stored order (see the ``assert_denied`` fixture).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from oms.models import Order, PortfolioDailyUsage
from oms.states import OrderStatus
from tests.factories import RestrictedInstrumentFactory, UserFactory
from tests.oms.conftest import ORDERS_URL

# --- max order quantity ---------------------------------------------------------------------------


def test_max_quantity_allows_an_order_at_the_limit(pm, set_limits, post_order, order_payload, assert_accepted):
    set_limits(max_order_quantity=1000)

    response = post_order(pm, order_payload(quantity=1000))

    assert_accepted(response)


def test_max_quantity_denies_one_share_over_the_limit(pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(max_order_quantity=1000)

    response = post_order(pm, order_payload(quantity=1001))

    order = assert_denied(response, "risk.max_quantity")
    assert response.json()["field"] == "quantity"
    assert order.quantity == 1001


# --- max order notional ---------------------------------------------------------------------------


def test_max_notional_allows_a_limit_order_at_the_limit(pm, set_limits, post_order, order_payload, assert_accepted):
    set_limits(max_order_notional=Decimal("100000.00"))

    response = post_order(pm, order_payload(quantity=1000, limit_price="100.00"))

    assert assert_accepted(response).notional == Decimal("100000.00")


def test_max_notional_denies_a_limit_order_just_over_the_limit(pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(max_order_notional=Decimal("100000.00"))

    response = post_order(pm, order_payload(quantity=1000, limit_price="100.01"))

    order = assert_denied(response, "risk.max_notional")
    assert order.notional == Decimal("100010.00")


def test_max_notional_of_a_market_order_uses_the_reference_price(pm, set_limits, post_order, order_payload, assert_accepted, assert_denied):
    set_limits(max_order_notional=Decimal("100000.00"))  # ACME reference price 100.00

    at_limit = post_order(pm, order_payload(order_type="market", limit_price=None, quantity=1000))
    over = post_order(pm, order_payload(order_type="market", limit_price=None, quantity=1001))

    assert assert_accepted(at_limit).notional == Decimal("100000.00")
    assert assert_denied(over, "risk.max_notional").notional == Decimal("100100.00")


# --- price collar ---------------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["105.00", "95.00"], ids=["above-at-collar", "below-at-collar"])
def test_price_collar_allows_a_limit_at_the_edge(price, pm, set_limits, post_order, order_payload, assert_accepted):
    set_limits(price_collar_pct=Decimal("5"))  # ACME reference 100.00

    assert_accepted(post_order(pm, order_payload(limit_price=price)))


@pytest.mark.parametrize("price", ["105.01", "94.99"], ids=["above-collar", "below-collar"])
def test_price_collar_denies_a_limit_just_outside(price, pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(price_collar_pct=Decimal("5"))

    response = post_order(pm, order_payload(limit_price=price))

    assert_denied(response, "risk.price_collar")
    assert response.json()["field"] == "limit_price"


def test_price_collar_does_not_apply_to_market_orders(pm, set_limits, post_order, order_payload, assert_accepted):
    set_limits(price_collar_pct=Decimal("0.001"))

    assert_accepted(post_order(pm, order_payload(order_type="market", limit_price=None)))


# --- restricted instruments -----------------------------------------------------------------------


def test_globally_restricted_instrument_is_denied_for_every_portfolio(
    pm, trader, instrument, other_portfolio, post_order, order_payload, assert_denied,
):
    RestrictedInstrumentFactory(instrument=instrument, portfolio=None, reason="pending corporate action")

    mine = post_order(pm, order_payload())
    theirs = post_order(trader, order_payload(portfolio=other_portfolio.code))

    order = assert_denied(mine, "risk.restricted_instrument")
    assert "pending corporate action" in order.deny_reason
    assert mine.json()["field"] == "instrument"
    assert_denied(theirs, "risk.restricted_instrument")


def test_globally_restricted_instrument_leaves_other_instruments_tradable(
    pm, instrument, other_instrument, post_order, order_payload, assert_accepted,
):
    RestrictedInstrumentFactory(instrument=instrument, portfolio=None)

    assert_accepted(post_order(pm, order_payload(instrument=other_instrument.symbol, limit_price="50.00")))


def test_instrument_restricted_for_one_portfolio_is_denied_there(pm, instrument, portfolio, post_order, order_payload, assert_denied):
    RestrictedInstrumentFactory(instrument=instrument, portfolio=portfolio)

    assert_denied(post_order(pm, order_payload()), "risk.restricted_instrument")


def test_instrument_restricted_for_another_portfolio_is_allowed_here(
    pm, instrument, other_portfolio, post_order, order_payload, assert_accepted,
):
    RestrictedInstrumentFactory(instrument=instrument, portfolio=other_portfolio)

    assert_accepted(post_order(pm, order_payload()))


# --- daily credit limit ---------------------------------------------------------------------------


def _usage(portfolio) -> Decimal:
    return PortfolioDailyUsage.objects.get(portfolio=portfolio, trade_date=timezone.now().date()).gross_notional


def test_credit_limit_is_cumulative_and_allows_up_to_the_limit(
    pm, portfolio, set_limits, post_order, order_payload, assert_accepted, assert_denied,
):
    set_limits(daily_notional_limit=Decimal("250000.00"))

    first = post_order(pm, order_payload(quantity=1000, limit_price="100.00"))
    second = post_order(pm, order_payload(quantity=1000, limit_price="100.00"))
    over = post_order(pm, order_payload(quantity=501, limit_price="100.00"))  # 250,100 > 250,000
    at_limit = post_order(pm, order_payload(quantity=500, limit_price="100.00"))  # exactly 250,000

    assert_accepted(first)
    assert_accepted(second)
    assert_denied(over, "risk.credit_limit")
    assert over.json()["field"] == "portfolio"
    assert_accepted(at_limit)
    assert _usage(portfolio) == Decimal("250000.00")


def test_credit_limit_counts_market_orders_at_the_reference_price(
    pm, portfolio, set_limits, post_order, order_payload, assert_denied,
):
    set_limits(daily_notional_limit=Decimal("100000.00"))

    response = post_order(pm, order_payload(order_type="market", limit_price=None, quantity=1001))

    assert_denied(response, "risk.credit_limit")


def test_denied_order_does_not_use_credit(pm, portfolio, set_limits, post_order, order_payload, assert_denied, assert_accepted):
    set_limits(daily_notional_limit=Decimal("100000.00"), max_order_quantity=1000)
    assert_denied(post_order(pm, order_payload(quantity=2000, limit_price="10.00")), "risk.max_quantity")

    assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))

    assert _usage(portfolio) == Decimal("100000.00")


def test_cancel_releases_the_notional_for_new_orders(
    pm, portfolio, set_limits, post_order, cancel_order, order_payload, assert_accepted, assert_denied,
):
    set_limits(daily_notional_limit=Decimal("100000.00"))
    first = assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))
    assert_denied(post_order(pm, order_payload(quantity=1000, limit_price="99.00")), "risk.credit_limit")

    assert cancel_order(pm, first.id).status_code == 200

    assert _usage(portfolio) == Decimal("0.00")
    assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="99.00")))


def test_cancel_of_a_partly_filled_order_releases_only_the_unfilled_notional(
    pm, portfolio, set_limits, post_order, cancel_order, order_payload, assert_accepted,
):
    set_limits(daily_notional_limit=Decimal("1000000.00"))
    order = assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PARTIALLY_FILLED, filled_quantity=400)

    assert cancel_order(pm, order.id).status_code == 200

    assert _usage(portfolio) == Decimal("40000.00")  # the 400 filled shares stay used


def test_cancel_releases_no_headroom_that_was_never_reserved(
    pm, portfolio, set_limits, post_order, cancel_order, order_payload, assert_accepted, assert_denied,
):
    # An order sent while the portfolio had no credit limit reserved nothing, so its cancel must give
    # nothing back once a limit is in force.
    unlimited = assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))
    set_limits(daily_notional_limit=Decimal("100000.00"))
    assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))

    cancel_order(pm, unlimited.id)

    assert _usage(portfolio) == Decimal("100000.00")
    assert_denied(post_order(pm, order_payload(quantity=1000, limit_price="99.00")), "risk.credit_limit")


# --- duplicate detection --------------------------------------------------------------------------


def test_same_content_from_the_same_source_within_the_window_is_a_duplicate(
    pm, set_limits, post_order, order_payload, assert_accepted, assert_denied,
):
    set_limits(duplicate_window_seconds=60)
    assert_accepted(post_order(pm, order_payload()))

    response = post_order(pm, order_payload())  # new client_order_id, same content

    assert_denied(response, "risk.duplicate_order")


def test_different_quantity_is_not_a_duplicate(pm, set_limits, post_order, order_payload, assert_accepted):
    set_limits(duplicate_window_seconds=60)
    assert_accepted(post_order(pm, order_payload(quantity=1000)))

    assert_accepted(post_order(pm, order_payload(quantity=1001)))


def test_same_content_after_the_window_is_not_a_duplicate(pm, set_limits, post_order, order_payload, assert_accepted, assert_denied):
    set_limits(duplicate_window_seconds=3)  # time enough for the resend to fall inside it on a loaded machine
    assert_accepted(post_order(pm, order_payload()))
    claimed_by = time.monotonic()  # the first order's content was claimed in Redis (for 3 s) before this
    assert_denied(post_order(pm, order_payload()), "risk.duplicate_order")

    time.sleep(max(0.0, claimed_by + 3 + 0.2 - time.monotonic()))  # the window runs out

    assert_accepted(post_order(pm, order_payload()))


def test_same_content_from_another_source_is_not_a_duplicate(pm, trader, set_limits, post_order, order_payload, assert_accepted):
    set_limits(duplicate_window_seconds=60)
    assert_accepted(post_order(pm, order_payload()))

    assert_accepted(post_order(trader, order_payload()))


def test_earlier_denied_order_does_not_make_a_resend_a_duplicate(
    pm, portfolio, set_limits, post_order, order_payload, assert_denied, assert_accepted,
):
    limits = set_limits(duplicate_window_seconds=60, daily_notional_limit=Decimal("50000.00"))
    assert_denied(post_order(pm, order_payload(quantity=1000, limit_price="100.00")), "risk.credit_limit")
    limits.daily_notional_limit = Decimal("500000.00")
    limits.save()

    assert_accepted(post_order(pm, order_payload(quantity=1000, limit_price="100.00")))


def test_duplicate_inside_one_bulk_is_denied(pm, set_limits, post_bulk, order_payload):
    set_limits(duplicate_window_seconds=60)

    response = post_bulk(pm, [order_payload(), order_payload()])

    first, second = response.json()["results"]
    assert (first["status"], first["order_status"]) == (201, OrderStatus.ACCEPTED)
    assert (second["status"], second["code"], second["order_status"]) == (422, "risk.duplicate_order", OrderStatus.DENIED)


# --- message-rate throttle ------------------------------------------------------------------------


def test_rate_limit_admits_up_to_the_limit_in_one_second(fresh_pm, set_limits, post_bulk, order_payload):
    set_limits(max_orders_per_second=5)

    response = post_bulk(fresh_pm, [order_payload(quantity=100 + i) for i in range(5)])

    assert [r["status"] for r in response.json()["results"]] == [201] * 5


def test_rate_limit_denies_the_messages_over_the_limit(fresh_pm, set_limits, post_bulk, order_payload, assert_denied):
    set_limits(max_orders_per_second=5)

    response = post_bulk(fresh_pm, [order_payload(quantity=100 + i) for i in range(7)])

    results = response.json()["results"]
    assert [r["status"] for r in results] == [201] * 5 + [422] * 2
    assert [r.get("code") for r in results[5:]] == ["risk.rate_limit"] * 2
    denied = Order.objects.filter(pk__in=[r["id"] for r in results[5:]])
    assert {(o.status, o.deny_code) for o in denied} == {(OrderStatus.DENIED, "risk.rate_limit")}


def test_rate_limit_single_order_over_the_limit_answers_422(fresh_pm, set_limits, post_bulk, post_order, order_payload, assert_denied):
    set_limits(max_orders_per_second=3)
    # Fill this second's budget, then send one more. If the second turned over in between, the
    # budget is refilled and sent again so the check still runs within one second.
    for _ in range(3):
        second = int(timezone.now().timestamp())
        post_bulk(fresh_pm, [order_payload(quantity=100 + i) for i in range(3)])
        response = post_order(fresh_pm, order_payload(quantity=999))
        if int(timezone.now().timestamp()) == second:
            break

    assert_denied(response, "risk.rate_limit")


def test_rate_limit_is_per_source(fresh_pm, trader, set_limits, post_bulk, order_payload):
    set_limits(max_orders_per_second=2)
    other = UserFactory(username=f"{fresh_pm.username}_2", role="trader")

    mine = post_bulk(fresh_pm, [order_payload(quantity=100 + i) for i in range(2)])
    theirs = post_bulk(other, [order_payload(quantity=200 + i) for i in range(2)])

    assert [r["status"] for r in mine.json()["results"]] == [201, 201]
    assert [r["status"] for r in theirs.json()["results"]] == [201, 201]


# --- global limits, portfolio overrides, blank limbs ----------------------------------------------


def test_portfolio_override_loosens_the_global_limb(
    pm, trader, portfolio, other_portfolio, set_limits, post_order, order_payload, assert_accepted, assert_denied,
):
    set_limits(max_order_quantity=1000)
    set_limits(portfolio=portfolio, max_order_quantity=5000)

    assert_accepted(post_order(pm, order_payload(quantity=3000)))
    assert_denied(post_order(trader, order_payload(portfolio=other_portfolio.code, quantity=3000)), "risk.max_quantity")


def test_portfolio_override_tightens_the_global_limb(pm, portfolio, set_limits, post_order, order_payload, assert_denied):
    set_limits(max_order_quantity=1000)
    set_limits(portfolio=portfolio, max_order_quantity=500)

    assert_denied(post_order(pm, order_payload(quantity=800)), "risk.max_quantity")


def test_blank_limb_in_an_override_falls_back_to_the_global_limb(
    pm, portfolio, set_limits, post_order, order_payload, assert_denied,
):
    set_limits(max_order_quantity=1000)
    set_limits(portfolio=portfolio, max_order_notional=Decimal("10000000"))  # quantity limb left blank

    assert_denied(post_order(pm, order_payload(quantity=1001)), "risk.max_quantity")


@pytest.mark.parametrize("with_blank_global_row", [False, True], ids=["no-rows", "blank-global-row"])
def test_blank_limbs_everywhere_mean_no_limits(with_blank_global_row, pm, set_limits, post_order, order_payload, assert_accepted):
    if with_blank_global_row:
        set_limits()

    # Far over every limit a desk would set, and far from the reference price.
    assert_accepted(post_order(pm, order_payload(quantity=5_000_000, limit_price="900.00")))
    assert_accepted(post_order(pm, order_payload(quantity=5_000_000, limit_price="900.00")))


# --- concurrency: two requests must not both spend the same headroom --------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_never_exceed_the_credit_limit(pm, portfolio, set_limits, order_payload, post_concurrently):
    set_limits(daily_notional_limit=Decimal("300000.00"))
    payloads = [order_payload(quantity=1000 + i, limit_price="100.00") for i in range(8)]  # ~100,000 each

    responses = post_concurrently(ORDERS_URL, [(pm, p) for p in payloads])

    assert sorted(r.status_code for r in responses) == [201] * 2 + [422] * 6
    accepted = Order.objects.filter(portfolio=portfolio, status=OrderStatus.ACCEPTED)
    assert _usage(portfolio) == sum(o.notional for o in accepted)
    assert _usage(portfolio) <= Decimal("300000.00")


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_orders_leave_one_accepted_and_the_rest_duplicates(
    pm, portfolio, set_limits, order_payload, post_concurrently,
):
    set_limits(duplicate_window_seconds=60)
    payloads = [order_payload() for _ in range(10)]  # distinct client_order_ids, the same order

    responses = post_concurrently(ORDERS_URL, [(pm, p) for p in payloads])

    assert sorted(r.status_code for r in responses) == [201] + [422] * 9
    assert Order.objects.filter(portfolio=portfolio, status=OrderStatus.ACCEPTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_credit_headroom_taken_meanwhile_is_rechecked_and_the_order_denied(pm, portfolio, instrument, set_limits, monkeypatch):
    """The optimistic plan saw headroom; another order used it before the booking: the retry denies."""
    from oms.roles import Actor
    from oms.services import order_submit
    from oms.services import risk as risk_module

    set_limits(daily_notional_limit="150000")
    real_plan = risk_module.credit_plan
    raced = []

    def plan_then_someone_else_books(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        if not raced:  # between our plan and our booking, another order takes 100,000 of the headroom
            raced.append(None)
            raced[0] = order_submit(user=pm, actor=Actor.for_user(pm, "browser"), data=_payload(portfolio, instrument, "OTHER-1"))
        return planned

    monkeypatch.setattr(risk_module, "credit_plan", plan_then_someone_else_books)

    result = order_submit(user=pm, actor=Actor.for_user(pm, "api"), data=_payload(portfolio, instrument, "MINE-1"))

    assert raced[0].order.status == "ACCEPTED"
    assert result.order.status == "DENIED" and result.order.deny_code == "risk.credit_limit"
    from oms.models import PortfolioDailyUsage

    assert PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional == 100000


def _payload(portfolio, instrument, coid):
    return {"client_order_id": coid, "portfolio": portfolio.code, "instrument": instrument.symbol, "side": "buy",
            "quantity": 1000, "order_type": "limit", "limit_price": "100.00"}
