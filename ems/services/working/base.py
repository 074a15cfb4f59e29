"""What every driver of a parent's tick shares: market time "now", the parent's window, the stop rule, the
closes and releases once nothing is held, and the tick's result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ems.models import Constituent, ParentOrder
from ems.selectors import live_clock, venue_profiles
from ems.services.carry_over import parent_carries_over, parent_order_carry_over
from ems.services.closing import constituent_release, parent_order_close
from ems.sim.clock import SESSION_US
from ems.states import Control, ExecStatus
from oms.roles import Actor
from oms.states import OrderStatus

ACTOR = Actor.system("ems.parent_tick")
WORKING = ExecStatus.working()


@dataclass(frozen=True)
class TickResult:
    """What one tick did (for logs, tests and the benchmark)."""

    parent_id: int
    status: str
    control: str
    epoch: int
    market_us: int
    sent: int
    cancels: int
    reports: int
    fills: int
    active: bool  # anything still to do (working, or children / reports at the venues)
    next_tick_s: float | None


def tick_until_us(market_day: int, last_us: int) -> int:
    """Market µs a tick of ``market_day`` runs to: now on that day, capped at the close (+ the reports of the
    close when the day is over); ``last_us`` (where the last tick stopped) on a day not begun yet."""
    mt = live_clock().market_time()
    if mt.day > market_day:
        return SESSION_US + _drain_us()
    if mt.day < market_day:
        return last_us
    return min(mt.t_us, SESSION_US)


def _drain_us() -> int:
    profiles = venue_profiles()
    return 2 * max((v.latency_us for v in profiles), default=0) + 1


class ParentDriver(ABC):
    """One parent's part of an instrument-day's tick, inside the tick's transaction with the parent row locked;
    ``now`` is the market µs the tick runs to."""

    def __init__(self, parent: ParentOrder, now: int) -> None:
        self.parent = parent
        self.now = max(now, parent.last_tick_us)
        self._pc: list[int] | None = None  # constituent orders whose cancel is pending (None: not read yet)

    @abstractmethod
    def finish(self) -> TickResult:
        """Write what the parent's part of the tick did, settle and save it; return what the tick did."""

    @property
    def end_us(self) -> int:
        """The end of the parent's working window (at the latest, the close)."""
        return min(self.parent.end_us, SESSION_US)

    def pending_cancel_orders(self) -> list[int]:
        """Ids of the parent's constituent orders whose cancel is pending (read once per tick)."""
        if self._pc is None:
            self._pc = list(
                Constituent.objects.filter(parent=self.parent, order__status=OrderStatus.PENDING_CANCEL)
                .order_by("order_id").values_list("order_id", flat=True)
            )
        return self._pc

    def stop_reason(self) -> str:
        """Why what a destination holds for the parent must be stopped ("" = it may go on). A pause stops it
        once (the pause control asks), so that a trader may then start an RFQ on the paused parent."""
        p = self.parent
        if p.status == ExecStatus.PENDING_CANCEL:
            return "parent cancelled"
        if p.control == Control.HALTED:
            return "kill switch"
        if self.pending_cancel_orders():
            return "a constituent order is being cancelled"
        if self.now >= self.end_us:
            return "end of the working window"
        return ""

    def close_or_release(self) -> str | None:
        """Once nothing is held at the venues: close a cancelled parent CANCELLED, release the constituents
        whose cancel is pending (the parent goes on with the rest), or end a parent past its window's end
        (:meth:`expire`: EXPIRED, or DONE_FOR_DAY for GTC). Return what was done ("cancelled" / "released" / "expired"), None for nothing."""
        p = self.parent
        if p.status == ExecStatus.PENDING_CANCEL:
            parent_order_close(parent_id=p.pk, status=ExecStatus.CANCELLED, actor=ACTOR, reason="cancel requested")
            return "cancelled"
        if self.pending_cancel_orders():
            for order_id in self.pending_cancel_orders():
                constituent_release(order_id=order_id, actor=ACTOR)
            self._pc = []
            return "released"
        if self.now >= self.end_us:
            self.expire()
            return "expired"
        return None

    def expire(self) -> None:
        """End the parent's window: a GTC parent with quantity left is closed DONE_FOR_DAY and its orders go on
        in a new parent the next market day (``ems.services.carry_over``); any other is closed EXPIRED."""
        p = self.parent
        if p.status in WORKING and parent_carries_over(p):
            parent_order_carry_over(parent_id=p.pk, actor=ACTOR)
            p.refresh_from_db(fields=["status", "completed_at"])
            return
        parent_order_close(parent_id=p.pk, status=ExecStatus.EXPIRED, actor=ACTOR, reason="end of the working window")

    def result(self, *, active: bool, next_tick_s: float | None, sent: int = 0, cancels: int = 0, reports: int = 0,
               fills: int = 0) -> TickResult:
        p = self.parent
        return TickResult(p.pk, p.status, p.control, p.epoch, self.now, sent=sent, cancels=cancels, reports=reports, fills=fills,
                          active=active, next_tick_s=next_tick_s if active else None)
