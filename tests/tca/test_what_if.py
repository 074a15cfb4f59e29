"""What-if replay on the same market path: the same algorithm and parameters reproduce the original fills
exactly; another algorithm gives a different, complete execution; bad requests are refused with a code."""

from __future__ import annotations

import pytest

from ems.models import Fill
from oms.errors import DomainError
from oms.models import AuditEvent
from oms.roles import Actor
from tca.models import WhatIf
from tca.reports import what_if_report
from tca.selectors import what_if_get
from tca.services import what_if_run
from tests.ems import factories as f
from tests.ems.live_helpers import working_parent

pytestmark = pytest.mark.django_db


# Fills at the same microsecond (a sweep across venues) are booked in the order their reports arrive (venue
# latencies differ) and listed by the simulator in the order they were made: compare them sorted.
def _original(parent):
    return sorted((t, venue, qty, float(price)) for t, venue, qty, price in
                  Fill.objects.filter(parent=parent).values_list("market_time_us", "venue__code", "quantity", "price"))


def _replayed(what_if):
    return sorted((int(t), venue, qty, price) for t, venue, _liq, qty, price, _fee in what_if.fills)


def test_the_same_algorithm_and_parameters_reproduce_the_original_fills_exactly(worked_parent, trader):
    parent, _, _ = worked_parent
    original = _original(parent)
    assert len(original) > 3

    wi = what_if_run(parent_id=parent.pk, strategy=parent.strategy, params={}, user=trader, actor=Actor.for_user(trader, "api"))

    assert _replayed(wi) == original
    s = wi.summary
    assert s["what_if"]["filled"] == s["original"]["filled"] == parent.filled_quantity
    assert s["what_if"]["avg_price"] == pytest.approx(float(parent.avg_price), abs=1e-6)
    assert s["what_if"]["slippage"]["arrival"] == s["original"]["slippage"]["arrival"]
    event = AuditEvent.objects.get(event_type="tca.what_if", object_id=str(wi.pk))
    assert event.object_type == "what_if" and event.after["parent_id"] == parent.pk


def test_another_algorithm_gives_a_different_complete_execution_side_by_side(worked_parent, trader):
    parent, _, _ = worked_parent

    wi = what_if_run(parent_id=parent.pk, strategy="is", params={"urgency": "high"}, user=trader,
                     actor=Actor.for_user(trader, "api"))

    assert wi.strategy == "is" and wi.params["urgency"] == "high" and wi.params["qty"] == parent.quantity
    assert _replayed(wi) != _original(parent)
    assert sum(qty for _t, _v, qty, _p in _replayed(wi)) == parent.quantity  # complete
    report = what_if_report(what_if_get(user=trader, what_if_id=wi.pk))
    for side in ("original", "what_if"):
        run = report[side]
        assert run["filled"] == parent.quantity
        assert set(run["slippage"]) == {"arrival", "decision", "interval_vwap", "interval_twap", "open", "close", "prev_close"}
        assert run["venues"] and sum(v["quantity"] for v in run["venues"]) == parent.quantity
        parts = run["shortfall"]
        assert parts["total"] == pytest.approx(sum(parts[k] for k in ("delay", "timing", "impact", "opportunity", "fees")), abs=0.05)
        assert len(run["executions"]) == run["fills"]
    assert report["original"]["strategy"] == "twap" and report["what_if"]["strategy"] == "is"


def test_a_pm_may_replay_only_a_parent_holding_their_orders(worked_parent, pm, other_pm, compliance, trader, instrument,
                                                            portfolio, db):
    parent, _, _ = worked_parent
    from tests.factories import UserFactory
    outsider = UserFactory(username="pm_c", role="pm")

    with pytest.raises(DomainError) as refused:
        what_if_run(parent_id=parent.pk, strategy="vwap", params={}, user=outsider, actor=Actor.for_user(outsider, "api"))
    assert refused.value.code == "parent_order.not_found" and refused.value.status == 404
    # The parent holds both PMs' orders: a replay is the whole of it, which neither PM may see (their share only).
    with pytest.raises(DomainError) as refused:
        what_if_run(parent_id=parent.pk, strategy="vwap", params={}, user=pm, actor=Actor.for_user(pm, "api"))
    assert refused.value.code == "permission.desk_only" and refused.value.status == 403
    wi = what_if_run(parent_id=parent.pk, strategy="vwap", params={}, user=trader, actor=Actor.for_user(trader, "api"))
    assert what_if_get(user=pm, what_if_id=wi.pk) is None and what_if_get(user=other_pm, what_if_id=wi.pk) is None
    assert what_if_get(user=outsider, what_if_id=wi.pk) is None
    assert what_if_get(user=compliance, what_if_id=wi.pk) is not None


@pytest.mark.parametrize(("strategy", "params", "code"), [
    ("rfq", {}, "tca.bad_strategy"),
    ("nope", {}, "tca.bad_strategy"),
    ("twap", {"qty": 5}, "tca.bad_params"),
    ("twap", {"colour": "red"}, "tca.bad_params"),
    ("twap", {"interval_s": -1}, "tca.bad_params"),
    ("twap", ["interval_s"], "tca.bad_params"),
])
def test_bad_requests_are_refused_with_a_code_and_nothing_is_stored(worked_parent, trader, strategy, params, code):
    parent, _, _ = worked_parent
    with pytest.raises(DomainError) as refused:
        what_if_run(parent_id=parent.pk, strategy=strategy, params=params, user=trader, actor=Actor.for_user(trader, "api"))
    assert refused.value.code == code and refused.value.status == 400
    assert not WhatIf.objects.exists()


def test_a_parent_still_working_cannot_be_replayed(clock, instrument, portfolio, pm, trader):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=5_000)
    parent = working_parent(instrument=instrument, orders=[order])
    with pytest.raises(DomainError) as refused:
        what_if_run(parent_id=parent.pk, strategy="twap", params={}, user=trader, actor=Actor.for_user(trader, "api"))
    assert refused.value.code == "tca.parent_not_closed" and refused.value.status == 409
