"""Cancel/replace racing a fill: real threads with their own PostgreSQL connections, released together. Whichever
commits first, the order is never over-filled, never reduced below what it filled, and every level agrees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ems.models import Constituent
from ems.services.booking import Execution, fill_book
from oms.errors import Conflict
from oms.models import Order
from oms.roles import Actor
from oms.services import order_replace
from oms.states import OrderStatus
from tests.concurrency import run_together
from tests.ems import factories as f
from tests.ems.live_helpers import check_invariants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("round_", range(3))
def test_a_reduction_racing_a_fill_never_overfills_nor_goes_below_the_fills(pm, portfolio, other_pm, other_portfolio, instrument, round_):
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=6000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=4000)
    parent = f.parent(instrument=instrument, orders=[mine, theirs])
    child = f.child(parent=parent, quantity=5000)  # 5,000 at the venue, 5,000 free
    execution = Execution(exec_id=f"RACE-{round_}", venue_code="XSMA", side="buy", quantity=5000, price=Decimal("100.00"),
                          liquidity="maker", fee=Decimal("0.10"), market_day=0, market_time_us=1_000_000)

    def amend():
        try:
            return order_replace(user=pm, actor=Actor.for_user(pm, "api"), order_id=mine.id, quantity=1000)
        except Conflict as exc:
            return exc

    results, errors = run_together([
        lambda: fill_book(child_id=child.id, execution=execution, actor=Actor.system("test")),
        amend,
    ])

    assert not errors, errors
    mine.refresh_from_db()
    check_invariants(parent)
    assert mine.filled_quantity <= mine.quantity
    if isinstance(results[1], Conflict):  # the fill came first: 3,000 of it is mine, 1,000 is below that
        assert results[1].code == "order.replace_below_working"
        assert (mine.quantity, mine.filled_quantity) == (6000, 3000)
    else:  # the reduction came first: the fill is shared 1,000 / 4,000 and completes both
        assert (mine.quantity, mine.filled_quantity, mine.status) == (1000, 1000, OrderStatus.FILLED)
        assert Order.objects.get(pk=theirs.pk).filled_quantity == 4000
    parent.refresh_from_db()
    assert parent.quantity == sum(Constituent.objects.filter(parent=parent).values_list("quantity", flat=True))
