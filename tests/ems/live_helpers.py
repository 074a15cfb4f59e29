"""Helpers for the live driver's tests: a working parent as aggregation leaves it, and a market clock the
test moves (settings SIM_ANCHOR / SIM_SPEED, read by ems.selectors.live_clock on every call)."""

from __future__ import annotations

import time
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from ems.algos import ALGORITHMS
from ems.algos.types import StrategyName
from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder
from ems.services import venues_sync_from_sim
from ems.sim.clock import SESSION_US, US
from ems.states import ExecStatus
from oms.models import Order

DAY = 2
AGGREGATION_DAY, AGGREGATION_T_US = 3, 60 * 60 * US  # the aggregation tests' market time: day 3, 10:30


class MarketClock:
    """Put the live clock at (day, t_us) now, and move it forward on demand."""

    def __init__(self, settings, *, day: int = DAY, t_us: int = 60 * 60 * US, speed: float = 1.0) -> None:
        self.settings = settings
        settings.SIM_SPEED = speed
        settings.SIM_ANCHOR = time.time() - (day * SESSION_US + t_us) / (speed * US)

    def advance(self, seconds: float) -> None:
        self.settings.SIM_ANCHOR -= seconds / self.settings.SIM_SPEED


def working_parent(*, instrument, orders, strategy: str = "twap", start_us: int = 60 * 60 * US, window_s: int = 20 * 60,
                   limit_price: str | None = None, day: int = DAY, **params) -> ParentOrder:
    """A parent over ``orders`` (same side), as the aggregation cycle creates it (first tick not yet run)."""
    venues_sync_from_sim()
    side = orders[0].side
    qty = sum(o.quantity for o in orders)
    cls = ALGORITHMS[StrategyName(strategy)]
    params.setdefault("interval_s", 20.0 if strategy != "direct" else 1.0)
    p = cls.Params(side=side, qty=qty, start=start_us, end=start_us + window_s * US,
                   limit_price=float(limit_price) if limit_price else None, lot_size=instrument.lot_size, **params)
    parent = ParentOrder.objects.create(
        instrument=instrument, side=side, quantity=qty, group_key=f"{instrument.symbol}|{side}|test|{time.time_ns()}",
        order_type="limit" if limit_price else "market", limit_price=Decimal(limit_price) if limit_price else None,
        strategy=strategy, params=p.to_dict(), selection_reason="test", arrival_price=Decimal("100.00"),
        market_day=day, start_us=start_us, end_us=start_us + window_s * US, last_tick_us=start_us,
    )
    for o in orders:
        Constituent.objects.create(parent=parent, order=o, quantity=o.quantity)
    return parent


def check_invariants(parent: ParentOrder) -> None:
    """What must hold of a parent at any time: fills, children, allocations and orders agree. Read in one snapshot
    (REPEATABLE READ) when the test is not in a transaction already: a worker may be committing meanwhile."""
    if connection.in_atomic_block:
        _check_invariants(parent)
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _check_invariants(parent)


def _check_invariants(parent: ParentOrder) -> None:
    parent.refresh_from_db()
    fills = Fill.objects.filter(parent=parent)
    filled = fills.aggregate(q=Sum("quantity"))["q"] or 0
    assert filled == parent.filled_quantity <= parent.quantity
    children = ChildOrder.objects.filter(parent=parent)
    # Every fill is a child's, but an internal cross's (a new order crossed against the parent).
    assert (children.aggregate(q=Sum("filled_quantity"))["q"] or 0) == (fills.filter(child__isnull=False).aggregate(q=Sum("quantity"))["q"] or 0)
    for c in children:
        assert c.filled_quantity <= c.quantity
        assert (c.fills.aggregate(q=Sum("quantity"))["q"] or 0) == c.filled_quantity
    assert (Allocation.objects.filter(parent=parent).aggregate(q=Sum("quantity"))["q"] or 0) == filled
    for con in Constituent.objects.filter(parent=parent).select_related("order"):
        o: Order = con.order
        alloc = Allocation.objects.filter(order=o, parent=parent).aggregate(q=Sum("quantity"))["q"] or 0
        assert alloc == con.allocated_quantity <= con.quantity
        # A GTC order worked over several market days: one constituent per parent (day), its fills their sum.
        everywhere = Constituent.objects.filter(order=o).aggregate(q=Sum("allocated_quantity"))["q"] or 0
        assert everywhere == (Allocation.objects.filter(order=o).aggregate(q=Sum("quantity"))["q"] or 0) == o.filled_quantity <= o.quantity
    exec_ids = list(fills.values_list("exec_id", flat=True))
    assert len(exec_ids) == len(set(exec_ids))
    if not parent.is_open:
        assert not children.filter(status__in=ExecStatus.open()).exists()


def tick_until_done(parent: ParentOrder, clock: MarketClock, *, step_s: float = 30, max_ticks: int = 400, each=None):
    """Tick the parent while moving market time until nothing is left to do; return the tick results."""
    from ems.services.working import parent_tick

    results = []
    for _ in range(max_ticks):
        r = parent_tick(parent_id=parent.pk)
        results.append(r)
        if each is not None:
            each(r)
        if r is not None and not r.active:
            return results
        clock.advance(step_s)
    raise AssertionError(f"parent {parent.pk} still active after {max_ticks} ticks: {results[-1]}")
