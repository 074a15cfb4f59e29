"""Order lifecycle as a table (FIX 39 OrdStatus words), and the one way every app declares and checks one.

A lifecycle is a :class:`TransitionTable`: the legal ``(from, to)`` edges, with the stable error code and
the words an illegal move is reported with. ``table.check(current, target)`` raises the one
:class:`IllegalTransition` (mapped to 409 by the API's exception handler) for any edge the table does not
have. ``ems.states`` (parent, child, control) and ``rfq.states`` (RFQ, quote) declare theirs the same way.

Status values: the OMS and the EMS store FIX 39 OrdStatus words in UPPER case (``PARTIALLY_FILLED``); the
RFQ app and the parent's control state store lower-case words (``quoting``, ``paused``). They stay as they
are: the values are what the database holds and what the REST API, the websockets, the pages (templates and
scripts compare them), the exports and the audit trail (``before``/``after``, inside the hash chain) carry,
so unifying them would change the API contract and need a data migration that rewrites hashed audit
history. The case tells the two families apart: UPPER is a FIX order status, lower is one of our own states.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import models

from oms.error_codes import OrderErrorCode


class IllegalTransition(Exception):
    """A status was asked to move along an edge its table does not have; ``code`` is the table's stable code
    (``order.illegal_transition``, ``parent_order.illegal_transition``, ``rfq.illegal_transition`` ...)."""

    def __init__(self, code: str, subject: str, current: str, target: str):
        self.code, self.current, self.target = code, current, target
        super().__init__(f"{subject} cannot go from {current} to {target}")


@dataclass(frozen=True)
class TransitionTable:
    """A lifecycle as data: the legal ``(from, to)`` edges; ``subject`` and ``code`` report an illegal move."""

    subject: str  # how the message names the thing: "Order", "Parent order", "RFQ"
    code: str  # the stable error code of an illegal move
    edges: frozenset[tuple[str, str]]

    def __contains__(self, edge: object) -> bool:
        return edge in self.edges

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.edges)

    def __len__(self) -> int:
        return len(self.edges)

    def check(self, current: str, target: str) -> None:
        """Raise :class:`IllegalTransition` unless ``current -> target`` is an edge of the table."""
        if (current, target) not in self.edges:
            raise IllegalTransition(self.code, self.subject, current, target)


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

# (from, to) pairs that are legal. Anything else raises IllegalTransition (order.illegal_transition).
ORDER_TRANSITIONS = TransitionTable("Order", OrderErrorCode.ILLEGAL_TRANSITION, frozenset(
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
))

CANCELLABLE: frozenset[str] = frozenset({S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED})


check_transition = ORDER_TRANSITIONS.check
