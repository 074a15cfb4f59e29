"""Opening an RFQ (rfq.services.rfq_create): what can be asked for, the reservation on the parent, the
providers chosen from their scorecards (with the reasons kept), and what a provider receives (nothing that
identifies the portfolio, the PM, the parent or any order)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from ems.models import ParentOrder
from ems.states import Control, ExecStatus
from oms.errors import Conflict, DomainError, NotFound
from oms.models import AuditEvent
from rfq.models import RFQ, Dissemination
from rfq.services import rfq_cancel, rfq_create
from rfq.states import RfqStatus
from tests.ems import factories as f
from tests.oms.audit_helpers import event_types
from tests.rfq.services_helpers import decline, mid_price, providers, quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def four(db):
    return providers("MMA", "MMB", "MMC", "MMD")


def test_by_default_it_asks_for_what_is_available_and_reserves_it_on_the_parent(pooled_parent, four, actor, trader):
    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, user=trader)

    pooled_parent.refresh_from_db()
    assert rfq.status == RfqStatus.SENT and rfq.quantity == 10_000 and rfq.direction == "two_way" and rfq.side == "buy"
    assert pooled_parent.reserved_quantity == 10_000 and pooled_parent.workable_quantity == 0
    assert pooled_parent.replan.startswith(f"RFQ {rfq.pk} holds")  # its TWAP re-plans for what is left
    assert rfq.window_ends_at is not None and (rfq.window_ends_at - rfq.sent_at).total_seconds() == pytest.approx(5.0)
    assert rfq.mid_at_request > 0 and rfq.requested_by == trader and rfq.round == 0 and rfq.source == "desk"
    assert Dissemination.objects.filter(rfq=rfq).count() == 4
    assert event_types("rfq", rfq.pk) == ["rfq.created", "rfq.sent"]
    reserved = AuditEvent.objects.get(object_type="parent_order", object_id=str(pooled_parent.pk), event_type="parent_order.reserved")
    assert reserved.after["reserved_quantity"] == 10_000 and reserved.after["rfq_id"] == rfq.pk


def test_open_child_orders_and_other_rfqs_are_not_available(pooled_parent, four, actor):
    f.child(parent=pooled_parent, quantity=3_000, filled=500, status=ExecStatus.PARTIALLY_FILLED, avg="100.00")  # 2,500 still at a venue
    f.child(parent=pooled_parent, quantity=1_000, status=ExecStatus.FILLED, filled=1_000, avg="100.00")  # done: not at a venue
    ParentOrder.objects.filter(pk=pooled_parent.pk).update(filled_quantity=1_500)
    first = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=2_000)

    second = rfq_create(parent_id=pooled_parent.pk, actor=actor)  # the rest: 10,000 - 1,500 filled - 2,500 at venues - 2,000 held

    assert second.quantity == 4_000
    with pytest.raises(Conflict) as exc:
        rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=1)
    assert exc.value.code == "rfq.quantity_unavailable" and exc.value.field == "quantity"
    pooled_parent.refresh_from_db()
    assert pooled_parent.reserved_quantity == first.quantity + second.quantity == 6_000


def test_asking_for_more_than_is_available_is_refused_and_changes_nothing(pooled_parent, four, actor):
    with pytest.raises(Conflict) as exc:
        rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=10_001)
    assert exc.value.code == "rfq.quantity_unavailable"
    pooled_parent.refresh_from_db()
    assert pooled_parent.reserved_quantity == 0 and not RFQ.objects.exists()


@pytest.mark.parametrize(("kwargs", "code", "field"), [
    ({"quantity": 0}, "rfq.bad_quantity", "quantity"),
    ({"quantity": -5}, "rfq.bad_quantity", "quantity"),
    ({"quantity": 10.5}, "rfq.bad_quantity", "quantity"),
    ({"quantity": "100"}, "rfq.bad_quantity", "quantity"),
    ({"direction": "sell"}, "rfq.bad_direction", "direction"),  # the parent buys
    ({"direction": "up"}, "rfq.bad_direction", "direction"),
    ({"mode": "auto"}, "rfq.threshold_required", "threshold_bps"),
    ({"mode": "robot"}, "rfq.bad_mode", "mode"),
    ({"execute_at": "lunch"}, "rfq.bad_execute_at", "execute_at"),
    ({"window_s": Decimal("0")}, "rfq.bad_window", "window_s"),
    ({"window_s": Decimal("60.001")}, "rfq.bad_window", "window_s"),
    ({"window_s": "abc"}, "rfq.bad_window", "window_s"),
    ({"threshold_bps": "NaN", "mode": "auto"}, "rfq.bad_threshold", "threshold_bps"),
    ({"threshold_price": Decimal("-1"), "mode": "auto"}, "rfq.bad_threshold", "threshold_price"),
    ({"providers": 0}, "rfq.bad_providers", "providers"),
])
def test_bad_terms_are_refused_with_a_code_naming_the_field(pooled_parent, four, actor, kwargs, code, field):
    with pytest.raises(DomainError) as exc:
        rfq_create(parent_id=pooled_parent.pk, actor=actor, **kwargs)
    assert (exc.value.code, exc.value.field, exc.value.status) == (code, field, 400)
    assert not RFQ.objects.exists()


def test_a_quantity_in_part_lots_is_refused(clock, four, actor, pm, portfolio):
    from tests.factories import InstrumentFactory

    lots = InstrumentFactory(symbol="LOTS", reference_price="20.00", lot_size=100)
    parent = f.parent(instrument=lots, orders=[f.order(portfolio=portfolio, instrument=lots, user=pm, quantity=5_000)])
    with pytest.raises(DomainError) as exc:
        rfq_create(parent_id=parent.pk, actor=actor, quantity=250)
    assert exc.value.code == "rfq.bad_quantity"
    assert rfq_create(parent_id=parent.pk, actor=actor, quantity=300).quantity == 300


def test_a_missing_parent_is_not_found(four, actor):
    with pytest.raises(NotFound) as exc:
        rfq_create(parent_id=999_999, actor=actor)
    assert exc.value.code == "parent_order.not_found"


@pytest.mark.parametrize("state", [{"control": Control.HALTED}, {"status": ExecStatus.PENDING_CANCEL}, {"status": ExecStatus.FILLED}])
def test_a_parent_that_is_not_working_cannot_be_asked_for(pooled_parent, four, actor, state):
    ParentOrder.objects.filter(pk=pooled_parent.pk).update(**state)
    with pytest.raises(Conflict) as exc:
        rfq_create(parent_id=pooled_parent.pk, actor=actor)
    assert exc.value.code == "rfq.parent_not_working"


def test_a_paused_parent_can_be_asked_for_and_gets_no_replan(pooled_parent, four, actor):
    ParentOrder.objects.filter(pk=pooled_parent.pk).update(control=Control.PAUSED)
    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, direction="buy")
    pooled_parent.refresh_from_db()
    assert rfq.status == RfqStatus.SENT and rfq.direction == "buy" and pooled_parent.replan == ""


def test_it_asks_the_best_scorecards_and_records_each_choice_with_its_reason(pooled_parent, actor):
    providers("MMA", "MMB", "MMC", "MMD", "MMSLOW")
    # History: three requests to all five, MMSLOW declines every one; the others quote.
    for _ in range(3):
        rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=1_000, providers=5)
        for code in ("MMA", "MMB", "MMC", "MMD"):
            quote(rfq, code, mid_price(rfq, 5), 1_000)
        decline(rfq, "MMSLOW")
        rfq_cancel(rfq_id=rfq.pk, actor=actor)

    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, quantity=1_000, providers=4)

    asked = list(Dissemination.objects.filter(rfq=rfq).order_by("rank").values_list("provider__code", "rank", "reason"))
    assert {code for code, _, _ in asked} == {"MMA", "MMB", "MMC", "MMD"}  # the silent one is left out
    assert [rank for _, rank, _ in asked] == [1, 2, 3, 4]
    assert all("response 100% (3/3)" in reason for _, _, reason in asked)
    assert "4 of 5 eligible providers" in rfq.selection_reason and "(1 scored lower)" in rfq.selection_reason
    created = AuditEvent.objects.get(object_type="rfq", object_id=str(rfq.pk), event_type="rfq.created")
    assert [p[0] for p in created.after["providers"]] == [code for code, _, _ in asked]
    assert rfq.selection_reason.startswith(created.reason)  # the audit keeps the reason's first 255 characters


def test_inactive_providers_and_those_that_do_not_quote_the_instrument_are_not_asked(pooled_parent, actor, other_instrument):
    providers("MMA", "MMB")
    providers("MMOFF", is_active=False)
    (elsewhere,) = providers("MMBETA")
    elsewhere.instruments.set([other_instrument])

    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor)

    assert set(Dissemination.objects.filter(rfq=rfq).values_list("provider__code", flat=True)) == {"MMA", "MMB"}
    assert "2 of 2 eligible" in rfq.selection_reason


def test_nobody_to_ask_rejects_the_rfq_at_once_and_reserves_nothing(pooled_parent, actor):
    providers("MMOFF", is_active=False)

    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor)

    pooled_parent.refresh_from_db()
    assert rfq.status == RfqStatus.REJECTED and rfq.closed_at is not None
    assert "no active liquidity provider quotes ACME" in rfq.close_reason
    assert pooled_parent.reserved_quantity == 0 and not Dissemination.objects.filter(rfq=rfq).exists()
    assert event_types("rfq", rfq.pk) == ["rfq.created", "rfq.rejected"]


def test_every_provider_declining_rejects_the_rfq_and_releases_the_parent(pooled_parent, four, actor):
    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor)
    for code in ("MMA", "MMB", "MMC"):
        decline(rfq, code)
    rfq.refresh_from_db()
    assert rfq.status == RfqStatus.SENT  # one still to answer

    decline(rfq, "MMD")

    rfq.refresh_from_db()
    pooled_parent.refresh_from_db()
    assert rfq.status == RfqStatus.REJECTED and "all 4 providers asked declined" in rfq.close_reason
    assert pooled_parent.reserved_quantity == 0
    assert event_types("rfq", rfq.pk)[-2:] == ["rfq.declined", "rfq.rejected"]


def _identifiers(parent: ParentOrder) -> tuple[set[str], set[int]]:
    """Every identifier of the parent and its constituents: strings (codes, names, users, order ids) and ints."""
    strings, ints = set(), {parent.pk}
    strings.add(parent.group_key)
    for c in parent.constituents.select_related("order__portfolio", "order__created_by"):
        o = c.order
        ints |= {o.pk, o.portfolio_id, o.created_by_id, c.pk}
        strings |= {o.client_order_id, o.source, o.portfolio.code, o.portfolio.name}
        user = o.created_by
        strings |= {s for s in (user.username, user.email, user.first_name, user.last_name, user.get_full_name()) if s}
        for member in User.objects.filter(portfolios=o.portfolio):
            ints.add(member.pk)
            strings.add(member.username)
    return {s for s in strings if len(s) >= 3}, ints


def test_what_a_provider_receives_identifies_no_portfolio_user_parent_or_order(pooled_parent, four, actor, trader):
    rfq = rfq_create(parent_id=pooled_parent.pk, actor=actor, user=trader)
    strings, ints = _identifiers(pooled_parent)
    strings |= {trader.username}
    ints |= {trader.pk, rfq.pk}
    assert len(strings) >= 8 and len(ints) >= 6  # two orders of two portfolios of two PMs, their parent, the trader

    sent = list(Dissemination.objects.filter(rfq=rfq))
    assert len({d.reference for d in sent}) == len(sent)  # a new opaque reference per provider
    for d in sent:
        payload = d.payload
        # Exactly these keys, each holding exactly what it should.
        assert set(payload) == {"reference", "instrument", "side", "quantity", "window_ends_at", "sent_at"}
        assert payload["reference"] == d.reference and re.fullmatch(r"[0-9a-f]{24}", d.reference)
        assert (payload["instrument"], payload["side"], payload["quantity"]) == ("ACME", "two_way", 10_000)
        assert payload["window_ends_at"] == rfq.window_ends_at.isoformat() and payload["sent_at"] == rfq.sent_at.isoformat()
        # No identifier, in any key or value.
        text = json.dumps(payload)
        for s in strings:
            assert s.lower() not in text.lower(), (s, payload)
        tokens = {t for k, v in payload.items() if k not in ("window_ends_at", "sent_at")
                  for t in re.findall(r"[A-Za-z0-9]+", f"{k} {v}")}
        for i in ints:
            assert str(i) not in tokens, (i, payload)
        assert not {"portfolio", "user", "pm", "parent", "order", "client_order_id", "rfq", "id"} & {k.lower() for k in payload}
