"""Aggregation and netting into parent orders, and strategy selection at creation (ems.services.aggregation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.algos import ALGORITHMS
from ems.algos.types import StrategyName
from ems.models import Constituent, Fill, InternalCross, ParentOrder
from ems.selectors import live_clock
from ems.services import aggregation, ticks
from ems.services.aggregation import RFQ_FALLBACK, aggregation_cycle, group_key, working_window_end
from ems.sim import SESSION_US, US, LiveClock, MarketTime
from ems.states import Control, ExecStatus
from oms.models import AuditEvent, Order, Position
from oms.roles import Actor
from oms.services import audit_verify, orders_submit
from oms.services import intake as intake_service
from oms.states import OrderStatus
from tests.ems.live_helpers import AGGREGATION_DAY, AGGREGATION_T_US, MarketClock

SYSTEM = Actor.system("aggregation")
DAY, T_S = AGGREGATION_DAY, AGGREGATION_T_US // US  # market time of these tests (the ``market`` fixture): day 3, 10:30


def anchor_market(settings, speed: float) -> None:
    """Anchor the live clock so that market time is now day 3 10:30, moving at ``speed``."""
    MarketClock(settings, day=DAY, t_us=AGGREGATION_T_US, speed=speed)


def on_tick(price: Decimal) -> Decimal:
    return price.quantize(Decimal("0.01"))


def constituents_of(parent: ParentOrder) -> dict[int, int]:
    return dict(parent.constituents.values_list("order_id", "quantity"))


# --- grouping ------------------------------------------------------------------------------------------------


def test_compatible_orders_of_two_pms_share_one_parent(market, submit, instrument):
    a1, a2, b1 = submit("buy", 1000), submit("buy", 500), submit("buy", 700, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.candidates == 3 and result.aggregated == 3 and len(result.parents) == 1
    parent = ParentOrder.objects.get()
    assert parent.instrument == instrument and parent.side == "buy" and parent.quantity == 2200
    assert constituents_of(parent) == {a1.id: 1000, a2.id: 500, b1.id: 700}
    assert parent.status == ExecStatus.ACCEPTED and parent.control == Control.RUNNING
    assert parent.group_key == group_key(a1) == group_key(b1)
    for o in (a1, a2, b1):
        o.refresh_from_db()
        assert o.status == OrderStatus.ACCEPTED and o.filled_quantity == 0  # working, in a parent


@pytest.mark.parametrize("difference", [
    {"side": "sell"},
    {"urgency": "high"},
    {"strategy": "twap"},
    {"limit_price": "150.00"},
    {"time_in_force": "gtc"},
    {"max_participation": "0.05"},
    {"end_time": "END"},
])
def test_orders_that_differ_in_intent_get_separate_parents(market, submit, difference):
    if difference.get("end_time") == "END":
        difference = {"end_time": (timezone.now() + timedelta(minutes=2)).isoformat()}
    base = submit("buy", 1000)
    other = submit("buy", 1000, who="b", **difference) if "side" not in difference else submit("sell", 1000, who="b", limit_price="150.00")

    aggregation_cycle(actor=SYSTEM)

    assert ParentOrder.objects.count() == 2
    assert Constituent.objects.get(order=base).parent_id != Constituent.objects.get(order=other).parent_id


def test_limit_orders_share_a_parent_only_at_the_same_limit(market, submit):
    a = submit("buy", 100, limit_price="101.50")
    b = submit("buy", 200, limit_price="101.5", who="b")  # the same price, written differently
    c = submit("buy", 300, limit_price="101.49")

    aggregation_cycle(actor=SYSTEM)

    pa, pb, pc = (Constituent.objects.get(order=o).parent for o in (a, b, c))
    assert pa == pb != pc
    assert pa.limit_price == Decimal("101.50") and pa.order_type == "limit" and pc.limit_price == Decimal("101.49")


def test_orders_of_another_instrument_get_their_own_parent(market, submit, pm, portfolio, other_instrument):
    a = submit("buy", 1000)
    item = {"client_order_id": "OTHER-1", "portfolio": portfolio.code, "instrument": other_instrument.symbol, "side": "buy",
            "quantity": 1000, "order_type": "market"}
    b = orders_submit(user=pm, actor=Actor.for_user(pm, "api"), items=[item])[0].order

    aggregation_cycle(actor=SYSTEM)

    assert Constituent.objects.get(order=a).parent.instrument_id != Constituent.objects.get(order=b).parent.instrument_id


def test_only_accepted_started_orders_not_in_a_parent_are_candidates(market, submit, pm):
    waiting = submit("buy", 100, start_time=(timezone.now() + timedelta(hours=1)).isoformat())
    started = submit("buy", 100, start_time=(timezone.now() - timedelta(seconds=1)).isoformat())
    cancelled = submit("buy", 100)
    Order.objects.filter(pk=cancelled.pk).update(status=OrderStatus.CANCELLED)

    first = aggregation_cycle(actor=SYSTEM)
    second = aggregation_cycle(actor=SYSTEM)

    assert first.candidates == 1 and Constituent.objects.filter(order=started).exists()
    assert not Constituent.objects.filter(order__in=[waiting, cancelled]).exists()
    assert second.candidates == 0 and second.parents == ()  # nothing is aggregated twice


def test_an_order_arriving_while_a_parent_works_starts_a_new_parent(market, submit):
    first = submit("buy", 1000)
    aggregation_cycle(actor=SYSTEM)
    later = submit("buy", 1000, who="b")

    aggregation_cycle(actor=SYSTEM)

    p1, p2 = Constituent.objects.get(order=first).parent, Constituent.objects.get(order=later).parent
    assert p1 != p2 and p1.quantity == p2.quantity == 1000 and p1.group_key == p2.group_key


# --- creation: strategy, parameters, reason, arrival, window -------------------------------------------------


def test_a_parent_records_the_matrix_choice_its_algo_params_and_the_arrival_mid(market, submit, mid, instrument):
    order = submit("buy", 20_000, urgency="low")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    strategy = StrategyName(parent.strategy)
    params = ALGORITHMS[strategy].Params.from_dict(parent.params)  # valid AlgoParams of that algorithm
    assert strategy is StrategyName.VWAP and "rule patient" in parent.selection_reason
    assert params.qty == 20_000 and params.side == "buy" and params.urgency == "low" and params.seed == parent.id
    assert params.lot_size == instrument.lot_size and params.limit_price is None
    assert params.start == parent.start_us and params.end <= parent.end_us == SESSION_US
    assert parent.market_day == DAY and abs(parent.start_us - T_S * US) < US and parent.last_tick_us == parent.start_us
    assert parent.arrival_price == mid
    assert parent.algo_state == {} and parent.driver_state == {}
    assert parent.urgency == "low" and parent.requested_strategy == "auto" and parent.order_type == order.order_type


def test_the_pms_strategy_is_kept_and_its_limit_reaches_the_algorithm(market, submit, mid):
    submit("buy", 5000, strategy="twap", limit_price=on_tick(mid + Decimal("0.50")))

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    assert parent.strategy == "twap" and "requested by the PM" in parent.selection_reason
    assert parent.params["limit_price"] == float(on_tick(mid + Decimal("0.50")))


def test_a_pov_parent_gets_a_valid_rate_and_band_even_under_a_tight_participation_cap(market, submit):
    submit("buy", 200_000, strategy="pov", max_participation="0.05", time_in_force="gtc")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    params = ALGORITHMS[StrategyName.POV].Params.from_dict(parent.params)
    assert params.rate + params.band <= 0.05 + 1e-12 and 0 < params.band < params.rate


def test_rfq_falls_back_to_is_and_says_so_when_no_destination_works_it(market, submit, monkeypatch):
    from ems import destinations

    monkeypatch.setattr(destinations, "_REGISTRY", {})
    submit("sell", 5000, strategy="rfq")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    assert parent.strategy == "is" and parent.selection_reason.endswith(RFQ_FALLBACK)
    assert ALGORITHMS[StrategyName.IS].Params.from_dict(parent.params).end == parent.end_us


def test_an_rfq_parent_stays_rfq_when_the_rfq_platform_is_registered_and_keeps_the_shared_parameters(market, submit):
    from ems.destinations import destination_for

    assert destination_for("rfq") is not None  # the rfq app registers itself from its AppConfig
    submit("sell", 5000, strategy="rfq")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    assert parent.strategy == "rfq" and RFQ_FALLBACK not in parent.selection_reason
    # A trader can switch it to any algorithm: the parameters every algorithm shares are there.
    twap = ALGORITHMS[StrategyName.TWAP].Params.from_dict(parent.params)
    assert twap.qty == 5000 and twap.side.value == "sell" and twap.end == parent.end_us


def test_a_direct_parent_carries_its_routing_mode(market, submit):
    submit("buy", 1000, urgency="high")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    assert parent.strategy == "direct" and parent.params["mode"] == "parallel"


def test_the_window_ends_at_the_orders_end_time_in_market_time(market, submit, settings):
    anchor_market(settings, 60)
    end_time = timezone.now() + timedelta(minutes=1)  # 60 wall s = 60 market min at 60x
    submit("buy", 1000, end_time=end_time.isoformat())

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    expected = live_clock().market_time(end_time.timestamp())
    assert parent.market_day == expected.day and abs(parent.end_us - expected.t_us) < US
    assert parent.params["end"] <= parent.end_us


@pytest.mark.parametrize(("end", "now_t", "expected"), [
    (None, 3600 * US, SESSION_US),
    ("same_day_later", 3600 * US, 5400 * US),
    ("same_day_later", SESSION_US - 30 * US, SESSION_US),  # within a minute of the close: the close
    ("next_day", 3600 * US, SESSION_US),
    ("passed", 3600 * US, 3660 * US),  # already passed: one minute for the finish
])
def test_working_window_end(end, now_t, expected):
    clock = LiveClock(speed=60, anchor_wall=1_000_000.0)
    now = MarketTime(DAY, now_t)
    wall = {
        None: None,
        "same_day_later": clock.wall_time(DAY, 5400 * US),
        "next_day": clock.wall_time(DAY + 1, 600 * US),
        "passed": clock.wall_time(DAY, 1800 * US),
    }[end]
    end_time = None if wall is None else datetime.fromtimestamp(wall, UTC)
    assert working_window_end(end_time, clock, now) == expected


def test_creation_is_audited_for_the_parent_and_each_order(market, submit):
    a, b = submit("buy", 1000), submit("buy", 500, who="b")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    created = AuditEvent.objects.get(event_type="parent_order.created", object_id=str(parent.id))
    assert created.object_type == "parent_order" and created.actor_type == "system"
    assert created.after["strategy"] == parent.strategy and created.after["reason"] == parent.selection_reason
    assert created.after["params"]["qty"] == 1500 and Decimal(created.after["arrival_price"]) == parent.arrival_price
    assert created.after["constituents"] == [[a.id, 1000], [b.id, 500]]
    aggregated = AuditEvent.objects.filter(event_type="order.aggregated").order_by("object_id")
    assert [(e.object_id, e.after) for e in aggregated] == [
        (str(a.id), {"parent": parent.id, "quantity": 1000}), (str(b.id), {"parent": parent.id, "quantity": 500})]
    assert audit_verify().ok


def test_the_first_tick_is_enqueued_by_task_name_after_commit(market, submit, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(ticks, "current_app", type("App", (), {"send_task": lambda self, name, args, **kw: sent.append((name, args))})())
    submit("buy", 1000)
    submit("sell", 1000, limit_price="150.00")

    with django_capture_on_commit_callbacks(execute=True):
        result = aggregation_cycle(actor=SYSTEM)
        assert sent == []  # not before the commit

    # Both parents are on one instrument-day: one tick works them together.
    days = {(p.instrument_id, p.market_day) for p in ParentOrder.objects.filter(pk__in=result.parents)}
    assert len(result.parents) == 2 and len(days) == 1
    assert sent == [("ems.tasks.instrument_tick", [*days.pop(), None])]


# --- netting ---------------------------------------------------------------------------------------------------


def test_a_500_buy_and_a_200_sell_cross_200_at_the_mid_and_leave_one_300_buy_parent(market, submit, mid, instrument, portfolio, other_portfolio):
    buy, sell = submit("buy", 500), submit("sell", 200, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    cross = InternalCross.objects.get()
    assert result.crosses == (cross.id,) and result.crossed_quantity == 200 and result.filled_by_cross == 1
    assert cross.quantity == 200 and cross.price == mid and cross.instrument == instrument
    fills = {f.side: f for f in Fill.objects.filter(cross=cross)}
    assert set(fills) == {"buy", "sell"}
    for f in fills.values():
        assert (f.quantity, f.price, f.liquidity, f.fee, f.venue.code, f.venue.kind) == (200, mid, "internal", 0, "INTERNAL", "internal")
        assert f.child is None and f.parent is None
    buy.refresh_from_db()
    sell.refresh_from_db()
    assert (sell.status, sell.filled_quantity, sell.avg_price) == (OrderStatus.FILLED, 200, mid)
    assert (buy.status, buy.filled_quantity, buy.avg_price) == (OrderStatus.PARTIALLY_FILLED, 200, mid)
    assert not Constituent.objects.filter(order=sell).exists()
    parent = ParentOrder.objects.get()
    assert (parent.side, parent.quantity) == ("buy", 300) and constituents_of(parent) == {buy.id: 300}
    assert parent.params["qty"] == 300
    assert Position.objects.get(portfolio=portfolio, instrument=instrument).quantity == 200
    assert Position.objects.get(portfolio=other_portfolio, instrument=instrument).quantity == -200
    assert AuditEvent.objects.filter(event_type="internal_cross.booked", object_id=str(cross.id)).exists()
    assert audit_verify().ok


def test_a_larger_side_is_crossed_pro_rata_and_each_rest_joins_the_parent(market, submit, mid):
    b1, b2 = submit("buy", 600), submit("buy", 300, who="b")
    sell = submit("sell", 300)

    aggregation_cycle(actor=SYSTEM)

    # 300 crossed over 600 + 300 bought: 200 and 100; the rests 400 and 200 make one 600 buy parent.
    parent = ParentOrder.objects.get()
    assert constituents_of(parent) == {b1.id: 400, b2.id: 200} and parent.quantity == 600
    assert Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED
    assert dict(Order.objects.filter(pk__in=[b1.pk, b2.pk]).values_list("pk", "filled_quantity")) == {b1.pk: 200, b2.pk: 100}


def test_limits_that_do_not_allow_the_mid_do_not_cross(market, submit, mid):
    buy = submit("buy", 500, limit_price=on_tick(mid - Decimal("0.50")))
    sell = submit("sell", 500, limit_price=on_tick(mid + Decimal("0.50")), who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crosses == () and not Fill.objects.exists()
    assert len(result.parents) == 2
    assert Constituent.objects.get(order=buy).quantity == Constituent.objects.get(order=sell).quantity == 500


def test_limits_either_side_of_the_mid_cross(market, submit, mid):
    submit("buy", 500, limit_price=mid.quantize(Decimal("0.01")) + Decimal("0.01"))
    sell = submit("sell", 500, limit_price=mid.quantize(Decimal("0.01")) - Decimal("0.01"), who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crossed_quantity == 500 and result.parents == ()
    assert Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED


def test_no_mid_no_cross_and_the_arrival_price_falls_back(db, submit, instrument, settings):
    anchor_market(settings, 1e-6)  # and no venue rows: no book, no mid
    submit("buy", 500)
    submit("sell", 200, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crosses == () and len(result.parents) == 2
    assert set(ParentOrder.objects.values_list("arrival_price", flat=True)) == {Decimal(instrument.reference_price)}


# --- intake asks for a cycle -----------------------------------------------------------------------------------


def test_intake_asks_for_one_aggregation_cycle_per_delay_window_after_commit(submit, monkeypatch, settings, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(intake_service, "current_app", type("App", (), {"send_task": lambda self, name, **kw: sent.append((name, kw))})())
    settings.EMS_AGGREGATION_DELAY_S = 0.5

    with django_capture_on_commit_callbacks(execute=True):
        submit("buy", 100)
        assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        submit("buy", 100)  # within the same window: the cycle already asked for takes it

    assert sent == [("ems.tasks.aggregation_cycle", {"countdown": 0.5, "expires": 0.5 + intake_service.AGGREGATION_EXPIRES_S})]


def test_intake_of_denied_orders_asks_for_nothing(pm, portfolio, instrument, monkeypatch, django_capture_on_commit_callbacks):
    from tests.factories import RestrictedInstrumentFactory

    RestrictedInstrumentFactory(instrument=instrument)
    sent = []
    monkeypatch.setattr(intake_service, "current_app", type("App", (), {"send_task": lambda self, name, **kw: sent.append(name)})())

    with django_capture_on_commit_callbacks(execute=True):
        result = orders_submit(user=pm, actor=Actor.for_user(pm, "api"), items=[{
            "client_order_id": "R-1", "portfolio": portfolio.code, "instrument": instrument.symbol, "side": "buy",
            "quantity": 100, "order_type": "market"}])[0]

    assert result.outcome == "denied" and sent == []


# --- the race the unique constraint settles ---------------------------------------------------------------------


def test_a_cycle_that_judged_an_order_free_on_a_stale_snapshot_rolls_back_and_runs_again(market, submit, monkeypatch):
    # What a cycle sees when another one committed between its snapshot and its lock: an order that is in
    # a parent already. The database refuses the second constituent; the cycle rolls back and runs again.
    taken, fresh = submit("buy", 1000), submit("buy", 500, who="b")
    aggregation_cycle(actor=SYSTEM)
    first_parent = Constituent.objects.get(order=taken).parent_id
    Constituent.objects.filter(order=fresh).delete()
    ParentOrder.objects.filter(pk=first_parent).update(quantity=1000)
    real_lock = aggregation._lock_candidates
    calls = []

    def stale_then_real(now):
        calls.append(now)
        rows = real_lock(now)
        if len(calls) == 1:
            stale = Order.objects.filter(pk=taken.pk).values_list(*aggregation.CANDIDATE_FIELDS).get()
            rows = sorted([*rows, aggregation.Candidate(*stale)], key=lambda c: c.id)
        return rows

    monkeypatch.setattr(aggregation, "_lock_candidates", stale_then_real)

    result = aggregation_cycle(actor=SYSTEM)

    assert result.attempts == 2 and result.candidates == 1 and len(calls) == 2
    assert Constituent.objects.get(order=taken).parent_id == first_parent
    assert Constituent.objects.get(order=fresh).parent_id == result.parents[0] != first_parent
    assert ParentOrder.objects.count() == 2  # the rolled-back attempt left nothing behind


def test_an_ioc_parent_is_worked_direct(market, submit):
    submit("buy", 1000, time_in_force="ioc", strategy="vwap")

    aggregation_cycle(actor=SYSTEM)

    parent = ParentOrder.objects.get()
    assert parent.strategy == "direct" and parent.selection_reason.startswith("immediate or cancel")
