"""Order lifecycle as a table (FIX 39 OrdStatus words). Every status change goes through ``order_transition``."""

from __future__ import annotations

from django.db import models


class OrderStatus(models.TextChoices):
    NEW = "NEW", "New"  # received, not yet risk-checked
    PENDING_NEW = "PENDING_NEW", "Pending new"  # accepted by risk, waiting for its start time / the EMS
    ACCEPTED = "ACCEPTED", "Accepted"  # passed pre-trade risk, working (or waiting to be worked)
    PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
    FILLED = "FILLED", "Filled"
    PENDING_CANCEL = "PENDING_CANCEL", "Pending cancel"  # cancel asked for while children are at venues
    CANCELLED = "CANCELLED", "Cancelled"
    REJECTED = "REJECTED", "Rejected"  # a venue (or the EMS downstream) said no
    DENIED = "DENIED", "Denied"  # our own pre-trade risk check said no
    EXPIRED = "EXPIRED", "Expired"  # time in force ran out

    @classmethod
    def terminal_statuses(cls) -> frozenset[str]:
        return frozenset({cls.FILLED, cls.CANCELLED, cls.REJECTED, cls.DENIED, cls.EXPIRED})

    @classmethod
    def open_statuses(cls) -> frozenset[str]:
        return frozenset(s for s in cls.values if s not in cls.terminal_statuses())


S = OrderStatus

# (from, to) pairs that are legal. Anything else raises IllegalOrderTransition.
ORDER_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (S.NEW, S.ACCEPTED),
        (S.NEW, S.DENIED),
        (S.NEW, S.PENDING_NEW),
        (S.PENDING_NEW, S.ACCEPTED),
        (S.PENDING_NEW, S.CANCELLED),
        (S.PENDING_NEW, S.REJECTED),
        (S.ACCEPTED, S.PARTIALLY_FILLED),
        (S.ACCEPTED, S.FILLED),
        (S.ACCEPTED, S.PENDING_CANCEL),
        (S.ACCEPTED, S.CANCELLED),  # nothing at a venue yet: cancel at once
        (S.ACCEPTED, S.REJECTED),
        (S.ACCEPTED, S.EXPIRED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),  # each further fill
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.PENDING_CANCEL),
        (S.PARTIALLY_FILLED, S.CANCELLED),  # the unfilled rest is cancelled, the fills stand
        (S.PARTIALLY_FILLED, S.EXPIRED),
        (S.PENDING_CANCEL, S.CANCELLED),
        # A fill can cross our cancel on the wire: the venue executed before it saw the cancel.
        (S.PENDING_CANCEL, S.PARTIALLY_FILLED),
        (S.PENDING_CANCEL, S.FILLED),
        # The venue refused the cancel (too late) and the order goes on working.
        (S.PENDING_CANCEL, S.ACCEPTED),
        # A partial fill while the cancel is pending keeps the order pending cancel (FIX 39 precedence:
        # Pending Cancel outranks Partially Filled); the cancel then completes with the fills kept.
        (S.PENDING_CANCEL, S.PENDING_CANCEL),
        # A DAY order still waiting for its start time when the session closes.
        (S.PENDING_NEW, S.EXPIRED),
    }
)

CANCELLABLE: frozenset[str] = frozenset({S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED})


class IllegalOrderTransition(Exception):
    """An order was asked to move between two statuses the lifecycle table does not link."""

    def __init__(self, current: str, target: str):
        self.current = current
        self.target = target
        super().__init__(f"Order cannot go from {current} to {target}")


def check_transition(current: str, target: str) -> None:
    """Raise IllegalOrderTransition unless ``current -> target`` is in the table."""
    if (current, target) not in ORDER_TRANSITIONS:
        raise IllegalOrderTransition(current, target)
