"""Multi-leg RFQ packages (issue 22, item 3; rfq.services.packages and the package branch of the execution): one
order per leg through the intake, a parent per leg sent to RFQ with the package as its reason, one RFQ for the
package, net quotes, and an execution that books every leg at prices adding up to the net price, all or nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ems.models import Allocation, ChildOrder, Fill, ParentOrder
from ems.states import ExecStatus
from oms.errors import Conflict, DomainError
from oms.models import AuditEvent, Order, Position, RestrictedInstrument
from oms.roles import Actor
from oms.services import audit_verify
from oms.states import OrderStatus
from rfq import tasks
from rfq.models import RFQ, Dissemination, LiquidityProvider, Quote, RfqLeg
from rfq.services import quote_accept, rfq_cancel, rfq_window_close
from rfq.states import QuoteStatus, RfqStatus
from tests.rfq.package_helpers import chain, four_legs, net_quote, package_for
from tests.rfq.services_helpers import providers

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(clock, venues, instrument):
    """ACME with its listed chain and three providers that quote everything and honour every acceptance."""
    providers("MMA", "MMB", "MMC")
    return chain(instrument)


def _signed_sum(rfq: RFQ) -> Decimal:
    return sum((leg.sign * leg.weight * leg.executed_price for leg in rfq.legs.all()), Decimal(0))


def test_a_package_submits_one_order_per_leg_each_in_a_parent_of_its_own_sent_to_rfq_with_the_package_as_reason(
        desk, instrument, trader, portfolio):
    legs = four_legs(instrument, desk)
    rfq = package_for(trader, portfolio, legs, quantity=10)

    assert rfq.package and rfq.status == RfqStatus.SENT and rfq.quantity == 10 and rfq.side == "buy"
    rows = list(rfq.legs.order_by("leg_no").select_related("parent", "instrument"))
    assert [(r.instrument.symbol, r.side, r.ratio, r.quantity) for r in rows] == [
        (leg["instrument"], leg["side"], leg["ratio"], leg["ratio"] * 10) for leg in legs]
    orders = {o.client_order_id: o for o in Order.objects.filter(client_order_id__startswith=f"PKG{rfq.pk}-")}
    assert sorted(orders) == [f"PKG{rfq.pk}-L{n}" for n in range(1, 5)]
    for n, row in enumerate(rows, start=1):
        order = orders[f"PKG{rfq.pk}-L{n}"]
        assert order.status == OrderStatus.ACCEPTED and order.source == f"api:{trader.username}" and order.quantity == row.quantity
        assert list(row.parent.constituents.values_list("order_id", flat=True)) == [order.pk]  # nobody else's order
        assert row.parent.strategy == "rfq" and row.parent.reserved_quantity == row.quantity
        assert row.parent.selection_reason.startswith(f"package RFQ {rfq.pk}, leg {n} of 4 (")
        assert row.model_value > 0
    assert rows[3].vega == 0 and rows[0].vega > 0
    # The package's value: the legs' values, signed and weighted.
    assert rfq.mid_at_request == sum(r.sign * r.weight * r.model_value for r in rows)
    # What a provider is sent: the legs and the size, never the portfolio, an order or a parent.
    payload = Dissemination.objects.filter(rfq=rfq).first().payload
    assert payload["legs"] == [{"instrument": leg["instrument"], "side": leg["side"], "ratio": leg["ratio"]} for leg in legs]
    assert payload["quantity"] == 10 and payload["side"] == "two_way"
    text = str(payload)
    assert portfolio.code not in text and "PKG" not in text
    assert set(payload) == {"reference", "legs", "side", "quantity", "window_ends_at", "sent_at"}
    created = AuditEvent.objects.get(event_type="rfq.created", object_id=str(rfq.pk))
    assert len(created.after["legs"]) == 4


def test_the_providers_price_the_package_as_a_net_price_around_its_value(desk, instrument, trader, portfolio):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    for d in Dissemination.objects.filter(rfq=rfq):
        tasks.provider_respond(d.pk)  # the simulated dealer, run here rather than on a worker
    quotes = list(Quote.objects.filter(rfq=rfq))
    assert len(quotes) == 3
    for q in quotes:
        assert q.status == QuoteStatus.LIVE and q.size == 10 and len(q.leg_values) == 4
        assert q.bid_price < q.mid_at_quote < q.ask_price and q.price == q.ask_price
        assert q.bps_from_mid > 0  # we pay over the value
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING


def test_accepting_a_net_quote_books_every_leg_at_prices_adding_up_to_the_net_price(desk, instrument, trader, portfolio, actor):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    net_quote(rfq, "MMA", "0.30")
    best = net_quote(rfq, "MMB", "0.12")

    result = quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor)

    assert result.executed and result.quote.pk == best.pk
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.EXECUTED and rfq.executed_price == best.price and rfq.executed_quantity == 10
    assert _signed_sum(rfq) == best.price
    fills = []
    for leg in rfq.legs.select_related("parent", "instrument"):
        fill = Fill.objects.get(exec_id=f"RFQ{rfq.pk}-Q{best.pk}-L{leg.leg_no}")
        fills.append(fill)
        assert fill.quantity == leg.quantity and fill.price == leg.executed_price and fill.liquidity == "rfq" and fill.side == leg.side
        assert ChildOrder.objects.get(pk=leg.child_id).parent_id == leg.parent_id
        leg.parent.refresh_from_db()
        assert leg.parent.status == ExecStatus.FILLED and leg.parent.reserved_quantity == 0
        order = Order.objects.get(client_order_id=f"PKG{rfq.pk}-L{leg.leg_no}")
        assert Allocation.objects.get(order=order).quantity == leg.quantity
        position = Position.objects.get(portfolio=portfolio, instrument=leg.instrument)
        assert position.quantity == (leg.quantity if leg.side == "buy" else -leg.quantity)
    event = AuditEvent.objects.get(event_type="rfq.package_executed", object_id=str(rfq.pk))
    assert sorted(leg["fill_id"] for leg in event.after["legs"]) == sorted(f.pk for f in fills)
    assert Decimal(str(event.after["legs_net"])) == best.price
    assert audit_verify().ok


def test_a_failure_on_any_leg_books_no_leg(desk, instrument, trader, portfolio, actor, monkeypatch):
    from ems.services import booking

    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    q = net_quote(rfq, "MMA", "0.10")
    real = booking._Ledger.parent_fill
    calls = []

    def third_leg_fails(self, fill, parent, constituents):
        calls.append(fill.exec_id)
        if len(calls) == 3:  # legs 1 and 2 are booked in this transaction by now
            raise RuntimeError("the database went away on leg 3")
        return real(self, fill, parent, constituents)

    monkeypatch.setattr(booking._Ledger, "parent_fill", third_leg_fails)
    with pytest.raises(RuntimeError):
        quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor)

    assert calls == [f"RFQ{rfq.pk}-Q{q.pk}-L{n}" for n in (1, 2, 3)]
    assert not Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").exists()
    assert not ChildOrder.objects.filter(client_order_id__startswith=f"RFQ{rfq.pk}-").exists()
    assert not Allocation.objects.exists() and not Position.objects.filter(portfolio=portfolio).exists()
    rfq.refresh_from_db()
    q.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING and q.status == QuoteStatus.LIVE
    assert all(leg.parent.reserved_quantity == leg.quantity and leg.executed_price is None for leg in rfq.legs.select_related("parent"))
    # The real service then executes it whole.
    monkeypatch.setattr(booking._Ledger, "parent_fill", real)
    assert quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor).executed
    assert Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").count() == 4
    assert audit_verify().ok


def test_a_credit_package_executes_at_a_negative_net_price(desk, instrument, trader, portfolio, actor):
    legs = [{"instrument": desk["c100"].symbol, "side": "sell", "ratio": 1}, {"instrument": desk["c105"].symbol, "side": "buy", "ratio": 1}]
    rfq = package_for(trader, portfolio, legs, quantity=5)
    assert rfq.mid_at_request < 0
    q = net_quote(rfq, "MMA", "0.05")
    assert q.price < 0
    assert quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor).executed
    rfq.refresh_from_db()
    assert _signed_sum(rfq) == q.price and all(leg.executed_price > 0 for leg in rfq.legs.all())


def test_last_look_holds_for_a_package(desk, instrument, trader, portfolio, actor):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    q = net_quote(rfq, "MMA", "0.10")
    LiquidityProvider.objects.filter(code="MMA").update(last_look_reject_probability=Decimal("1"))

    result = quote_accept(rfq_id=rfq.pk, quote_id=q.pk, actor=actor)

    assert not result.executed and result.code == "rfq.last_look_rejected"
    q.refresh_from_db()
    rfq.refresh_from_db()
    assert q.status == QuoteStatus.REJECTED and rfq.status == RfqStatus.QUOTING
    assert not Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-").exists()


def test_a_package_that_does_not_trade_cancels_its_legs(desk, instrument, trader, portfolio):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=timezone.now() - timedelta(milliseconds=100))

    rfq_window_close(rfq_id=rfq.pk, actor=Actor.system("test"))

    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.EXPIRED
    for leg in rfq.legs.select_related("parent"):
        assert leg.parent.reserved_quantity == 0 and leg.parent.status == ExecStatus.PENDING_CANCEL
        assert f"package RFQ {rfq.pk} expired" in AuditEvent.objects.get(
            event_type="parent_order.cancel_requested", object_id=str(leg.parent_id)).reason
    assert audit_verify().ok


def test_cancelling_one_legs_parent_cancels_the_package_and_its_other_legs(desk, instrument, trader, portfolio, actor):
    from ems.services.control import parent_cancel
    from rfq.services import rfqs_cancel_for_parents

    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    third = rfq.legs.get(leg_no=3).parent_id
    parent_cancel(parent_id=third, actor=actor)
    rfqs_cancel_for_parents(parent_ids=[third], reason="parent cancelled", actor=actor)  # what the EMS calls after commit

    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.CANCELLED
    assert set(ParentOrder.objects.filter(rfq_legs__rfq=rfq).values_list("status", flat=True)) == {ExecStatus.PENDING_CANCEL}


def test_a_trader_cancelling_the_package_cancels_the_legs(desk, instrument, trader, portfolio, actor):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=2)
    rfq_cancel(rfq_id=rfq.pk, actor=actor)
    assert set(ParentOrder.objects.filter(rfq_legs__rfq=rfq).values_list("status", flat=True)) == {ExecStatus.PENDING_CANCEL}


def test_a_leg_the_intake_denies_refuses_the_whole_package_and_writes_nothing(desk, instrument, trader, portfolio):
    RestrictedInstrument.objects.create(instrument=desk["p95"], reason="compliance hold")
    before = (Order.objects.count(), ParentOrder.objects.count(), RFQ.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DomainError) as exc:
        package_for(trader, portfolio, four_legs(instrument, desk))
    assert exc.value.code == "risk.restricted_instrument" and exc.value.status == 422 and exc.value.field == "legs[2].instrument"
    assert (Order.objects.count(), ParentOrder.objects.count(), RFQ.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(("legs", "code", "field"), [
    ([], "rfq.no_legs", "legs"),
    ("AAPL", "rfq.bad_legs", "legs"),
    ([1, 2], "rfq.bad_legs", "legs"),
    ([{"instrument": "NOPE", "side": "buy", "ratio": 1}], "rfq.leg_unknown_instrument", "legs[0].instrument"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 0}], "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": -2}], "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1.5}], "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": "1"}], "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "buy", "ratio": True}], "rfq.leg_bad_ratio", "legs[0].ratio"),
    ([{"instrument": "ACME", "side": "short", "ratio": 1}], "rfq.leg_bad_side", "legs[0].side"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1, "price": 3}], "rfq.bad_legs", "legs[0]"),
    ([{"instrument": "AC\x00ME", "side": "buy", "ratio": 1}], "rfq.leg_unknown_instrument", "legs[0].instrument"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1}] * 2, "rfq.leg_duplicate", "legs[1].instrument"),
    ([{"instrument": "ACME", "side": "buy", "ratio": 1}] * 5, "rfq.too_many_legs", "legs"),
])
def test_bad_legs_are_refused_with_a_code_naming_the_leg(desk, trader, portfolio, legs, code, field):
    with pytest.raises(DomainError) as exc:
        package_for(trader, portfolio, legs)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert not Order.objects.exists()


def test_an_expired_option_leg_is_refused(desk, trader, portfolio):
    old = desk["c100"]
    Instrument = type(old)
    Instrument.objects.filter(pk=old.pk).update(expiry=timezone.now().date() - timedelta(days=3))
    with pytest.raises(DomainError) as exc:
        package_for(trader, portfolio, [{"instrument": old.symbol, "side": "buy", "ratio": 1}])
    assert (exc.value.code, exc.value.field) == ("rfq.leg_expired", "legs[0].instrument")


def test_a_package_nobody_quotes_is_refused_before_anything_is_written(desk, trader, portfolio, instrument):
    LiquidityProvider.objects.update(is_active=False)
    with pytest.raises(Conflict) as exc:
        package_for(trader, portfolio, four_legs(instrument, desk))
    assert exc.value.code == "rfq.no_providers" and not Order.objects.exists()


def test_a_leg_parent_is_never_worked_in_an_rfq_round_of_its_own(desk, instrument, trader, portfolio, actor):
    from rfq.services.destination import RfqDestination

    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=2)
    parent = RfqLeg.objects.get(rfq=rfq, leg_no=1).parent
    assert RfqDestination().parent_work(parent, actor=actor) is None
    assert RFQ.objects.filter(parent=parent).count() == 1  # only the package


def test_the_portfolios_delta_limit_refuses_an_unhedged_package_and_admits_it_with_its_hedge(desk, instrument, trader, portfolio):
    from oms.models import RiskLimit

    # 10 calls at strike 100 on a 100 underlying: about 10 x 100 x 0.5 = 500 shares of delta.
    RiskLimit.objects.update_or_create(portfolio=portfolio, defaults={"max_net_delta_shares": 300})
    calls = [{"instrument": desk["c100"].symbol, "side": "buy", "ratio": 1}]
    before = (Order.objects.count(), RFQ.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DomainError) as exc:
        package_for(trader, portfolio, calls, quantity=10)
    assert exc.value.code == "risk.delta_limit" and exc.value.status == 422
    assert (Order.objects.count(), RFQ.objects.count(), AuditEvent.objects.count()) == before  # nothing half-applied
    hedged = [*calls, {"instrument": instrument.symbol, "side": "sell", "ratio": 50}]
    rfq = package_for(trader, portfolio, hedged, quantity=10)
    assert rfq.package and rfq.legs.count() == 2


def test_a_package_nets_in_currency_with_each_option_leg_weighed_by_its_multiplier(desk, instrument, trader, portfolio):
    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=1)
    legs = list(rfq.legs.select_related("instrument").order_by("leg_no"))
    assert [leg.weight for leg in legs] == [100, 100, 100, 40]  # contracts x 100 shares; the hedge in shares
    cash = sum((leg.sign * leg.quantity * leg.instrument.multiplier * leg.model_value for leg in legs), Decimal(0))
    assert rfq.mid_at_request == cash  # the package's value is the cash its legs would move, per package


def test_an_executed_package_is_measured_in_each_legs_parent_tca_against_its_value_the_best_and_the_cover(
        desk, instrument, trader, portfolio, actor):
    from tca.reports import parent_report

    rfq = package_for(trader, portfolio, four_legs(instrument, desk), quantity=10)
    net_quote(rfq, "MMA", "25")
    best = net_quote(rfq, "MMB", "15")
    assert quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor).executed
    rfq.refresh_from_db()
    for leg in rfq.legs.all():
        [x] = parent_report(user=trader, parent_id=leg.parent_id)["rfq_executions"]
        assert (x["rfq_id"], x["instrument"], x["package"], x["quantity"], x["multiplier"]) == (rfq.pk, "package", True, 10, 1)
        b = {row["name"]: row for row in x["benchmarks"]}
        # The model: the package's value recorded at request, netted in currency per package as the quotes are.
        assert b["model_mid"]["price"] == rfq.mid_at_request
        assert b["model_mid"]["slippage_ccy"] == (rfq.mid_at_request - best.price) * 10  # paid 15 over it, x10 packages
        assert b["best_quote"]["slippage_ccy"] == 0 and b["cover_quote"]["slippage_ccy"] == Decimal("100.00")  # 10 better than MMA's, x10
        assert [leg_row["instrument"] for leg_row in x["legs"]] == [r.instrument.symbol for r in rfq.legs.order_by("leg_no")]
