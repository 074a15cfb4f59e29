"""A GTC order keeps working across market days (ems.services.carry_over): at the close its parent is DONE_FOR_DAY
with that day's fills, the order stays open, and a new parent works its rest on the next market day."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum

from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder
from ems.selectors import instrument_params
from ems.services.working import parent_tick
from ems.sim.clock import SESSION_US, US
from ems.sim.market import Market
from ems.states import ExecStatus
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.ems.live_helpers import DAY, MarketClock, check_invariants, tick_until_done, working_parent
from tests.oms.audit_helpers import event_types

pytestmark = pytest.mark.django_db

START = SESSION_US - 10 * 60 * US  # ten minutes before the close


def _passive_buy(instrument, portfolio, pm, tif: str):
    bbo = Market(instrument_params(instrument), seed=django_settings.SIM_SEED, day=DAY).bbo(START)
    limit = f"{bbo.bid - 0.02:.2f}"  # below the bid: only passive fills, far from all of 200,000
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=200_000, limit_price=limit, time_in_force=tif)
    parent = working_parent(instrument=instrument, orders=[order], start_us=START, window_s=10 * 60, limit_price=limit)
    return order, parent


def _allocations_match_fills(parent: ParentOrder) -> None:
    fills = Fill.objects.filter(parent=parent).aggregate(q=Sum("quantity"))["q"] or 0
    assert (Allocation.objects.filter(parent=parent).aggregate(q=Sum("quantity"))["q"] or 0) == fills == parent.filled_quantity


def test_a_gtc_order_still_working_the_next_market_day(settings, instrument, portfolio, pm):
    clock = MarketClock(settings, t_us=START)
    order, first = _passive_buy(instrument, portfolio, pm, "gtc")
    tick_until_done(first, clock)  # through the close of day 2

    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == ExecStatus.DONE_FOR_DAY and 0 < first.filled_quantity < first.quantity
    assert order.status == OrderStatus.PARTIALLY_FILLED and order.filled_quantity == first.filled_quantity
    assert set(Fill.objects.filter(parent=first).values_list("market_day", flat=True)) == {DAY}
    _allocations_match_fills(first)
    check_invariants(first)

    second = ParentOrder.objects.get(constituents__order=order, constituents__current=True)
    assert second.pk != first.pk and second.market_day == DAY + 1 and second.status == ExecStatus.ACCEPTED
    assert second.quantity == order.quantity - order.filled_quantity and second.start_us == 0 and second.end_us == SESSION_US
    assert Constituent.objects.get(parent=first, order=order).current is False
    assert "parent_order.done_for_day" in event_types("parent_order", [first.pk])
    assert event_types("parent_order", [second.pk])[0] == "parent_order.carried_over"
    assert event_types("order", [order.pk]).count("order.aggregated") == 1  # the carry-over (the helper adds none)

    # Still day 2's close on the clock until it moves: the next day's tick waits for its day.
    clock.advance(5 * 60)  # five minutes into day 3
    for _ in range(4):
        parent_tick(parent_id=second.pk)
        clock.advance(30)
    second.refresh_from_db()
    assert second.status in ExecStatus.working() and second.last_tick_us > 0
    assert ChildOrder.objects.filter(parent=second).exists()  # worked on the venues of day 3

    # Past day 3's close: filled, or carried again to day 4 with day 3's fills kept on the second parent.
    clock.advance(SESSION_US / US)
    tick_until_done(second, clock)
    second.refresh_from_db()
    order.refresh_from_db()
    assert second.status in (ExecStatus.FILLED, ExecStatus.DONE_FOR_DAY)
    assert set(Fill.objects.filter(parent=second).values_list("market_day", flat=True)) <= {DAY + 1}
    assert order.filled_quantity == first.filled_quantity + second.filled_quantity
    _allocations_match_fills(second)
    check_invariants(second)
    if second.status == ExecStatus.DONE_FOR_DAY:
        third = ParentOrder.objects.get(constituents__order=order, constituents__current=True)
        assert third.market_day == DAY + 2 and third.quantity == order.quantity - order.filled_quantity
        assert order.status == OrderStatus.PARTIALLY_FILLED


def test_a_day_order_still_expires_at_the_close(settings, instrument, portfolio, pm):
    clock = MarketClock(settings, t_us=START)
    order, parent = _passive_buy(instrument, portfolio, pm, "day")
    tick_until_done(parent, clock)
    parent.refresh_from_db()
    order.refresh_from_db()
    assert parent.status == ExecStatus.EXPIRED and order.status == OrderStatus.EXPIRED
    assert Constituent.objects.filter(order=order).count() == 1
    assert not ParentOrder.objects.filter(market_day=DAY + 1).exists()
    check_invariants(parent)


def test_the_order_api_and_page_show_the_current_parent_and_the_earlier_one(settings, client, instrument, portfolio, pm):
    clock = MarketClock(settings, t_us=START)
    order, first = _passive_buy(instrument, portfolio, pm, "gtc")
    tick_until_done(first, clock)
    second = ParentOrder.objects.get(constituents__order=order, constituents__current=True)
    client.force_login(pm)
    detail = client.get(f"/api/orders/{order.pk}/").json()
    assert detail["parent"] == second.pk and detail["parents"] == [first.pk, second.pk]
    listed = client.get("/api/orders/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert next(r for r in rows if r["id"] == order.pk)["parent"] == second.pk
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert f"parent P{second.pk}" in page and f"P{first.pk}" in page
