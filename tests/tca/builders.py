"""A closed parent with its TCA computed, as the TCA page and browser tests read it: two PMs' orders pooled
in a TWAP buy of 12,000 ACME worked to FILLED by the live driver (ems.services.working.parent_tick with a
moving market clock), then tca.services.parent_tca_compute."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ems.models import ParentOrder
from ems.selectors import market_for
from ems.sim.clock import SESSION_US, US
from ems.states import ExecStatus
from oms.models import Order
from tca.services import parent_tca_compute
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, tick_until_done, working_parent


def orders_arrived_at_start(parent: ParentOrder, settings) -> None:
    """Put the parent's orders' intake at its start on the final market clock.

    The decision price is the mid when the orders arrived, read through the live clock; a test that moved
    that clock (its anchor) to work the parent would otherwise read it at the wrong moment. Half a
    millisecond in: a wall instant exactly on the start can round to the microsecond before it."""
    wall = settings.SIM_ANCHOR + (parent.market_day * SESSION_US + parent.start_us + 500) / (settings.SIM_SPEED * US)
    Order.objects.filter(constituents__parent=parent).update(created_at=datetime.fromtimestamp(wall, UTC))


def closed_parent(settings, *, instrument, portfolio, pm, other_portfolio, other_pm, window_s: int = 10 * 60,
                  settle_s: float = 0) -> ParentOrder:
    """The 12,000 ACME buy (8,000 of ``pm``'s, 4,000 of ``other_pm``'s) worked to FILLED, TCA computed.
    ``settle_s``: market seconds to let pass after it (past the 5-minute markouts, as tca_refresh waits)."""
    clock = MarketClock(settings)
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=8_000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=4_000)
    parent = working_parent(instrument=instrument, orders=[mine, theirs], window_s=window_s)
    # Arrival at the simulated market's mid at the start, as aggregation records it (the helper's is a fixed 100).
    parent.arrival_price = Decimal(f"{market_for(instrument, parent.market_day).mid(parent.start_us):.4f}")
    parent.save(update_fields=["arrival_price"])
    tick_until_done(parent, clock)
    if settle_s:
        clock.advance(settle_s)
    orders_arrived_at_start(parent, settings)
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED
    parent_tca_compute(parent_id=parent.pk)
    return parent
