"""Parent and child order lifecycles as tables (FIX 39 OrdStatus words), and the parent's control states.

Every status change goes through ``check_parent_transition`` / ``check_child_transition`` /
``check_control_transition`` (each its table's ``check``); an illegal move raises the one
``oms.states.IllegalTransition`` with the table's stable code. ``ExecStatus`` values are UPPER-case FIX words
like ``OrderStatus``; ``Control`` values are lower-case words of our own (why they stay so: ``oms.states``).
"""

from __future__ import annotations

from django.db import models

from ems.error_codes import ChildOrderErrorCode, ParentOrderErrorCode
from oms.states import TransitionTable


class ExecStatus(models.TextChoices):
    PENDING_NEW = "PENDING_NEW", "Pending new"  # child: sent, the venue has not acknowledged yet
    ACCEPTED = "ACCEPTED", "Accepted"  # parent: working, nothing filled yet; child: acked, resting
    PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
    FILLED = "FILLED", "Filled"
    PENDING_CANCEL = "PENDING_CANCEL", "Pending cancel"
    CANCELLED = "CANCELLED", "Cancelled"
    REJECTED = "REJECTED", "Rejected"  # the venue said no (children only)
    EXPIRED = "EXPIRED", "Expired"  # end of the working window / session close
    # FIX 39 OrdStatus 3: a GTC parent's day is over; its orders go on in a new parent the next market day.
    DONE_FOR_DAY = "DONE_FOR_DAY", "Done for day"

    @classmethod
    def terminal(cls) -> frozenset[str]:
        return frozenset({cls.FILLED, cls.CANCELLED, cls.REJECTED, cls.EXPIRED, cls.DONE_FOR_DAY})

    @classmethod
    def open(cls) -> frozenset[str]:
        return frozenset(s for s in cls.values if s not in cls.terminal())

    @classmethod
    def working(cls) -> frozenset[str]:
        """A parent being worked: accepted, nothing or part filled (not cancelling, not closed)."""
        return frozenset({cls.ACCEPTED, cls.PARTIALLY_FILLED})


class Control(models.TextChoices):
    """Whether a parent's algorithm may act: orthogonal to its fill status (a paused parent keeps its fills)."""

    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"  # a trader paused it: its open children were cancelled, it sends nothing
    HALTED = "halted", "Halted"  # the kill switch stopped it: stays halted until a trader resumes it


S = ExecStatus

# A parent is created ACCEPTED (working) once the selection matrix has chosen its algorithm.
PARENT_TRANSITIONS = TransitionTable("Parent order", ParentOrderErrorCode.ILLEGAL_TRANSITION, frozenset(
    {
        (S.ACCEPTED, S.PARTIALLY_FILLED),
        (S.ACCEPTED, S.FILLED),  # one fill did it all (a sweep, a block in the dark)
        (S.ACCEPTED, S.PENDING_CANCEL),
        (S.ACCEPTED, S.CANCELLED),  # nothing at a venue: cancelled at once
        (S.ACCEPTED, S.EXPIRED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),  # each further fill
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.PENDING_CANCEL),
        (S.PARTIALLY_FILLED, S.CANCELLED),
        (S.PARTIALLY_FILLED, S.EXPIRED),
        # A GTC parent at the close with quantity left: closed for the day (its fills, allocations and TCA stay
        # that day's), its orders stay open and go on in a new parent the next market day (ems.services.carry_over).
        (S.ACCEPTED, S.DONE_FOR_DAY),
        (S.PARTIALLY_FILLED, S.DONE_FOR_DAY),
        (S.PENDING_CANCEL, S.CANCELLED),
        # Fills can cross the cancels on the wire: the children executed before the venues saw them.
        (S.PENDING_CANCEL, S.PARTIALLY_FILLED),
        (S.PENDING_CANCEL, S.PENDING_CANCEL),
        (S.PENDING_CANCEL, S.FILLED),
        # A cancel of a constituent that leaves nothing to cancel at the parent: it reduces the parent
        # and a remaining quantity already filled completes it.
        (S.ACCEPTED, S.ACCEPTED),
    }
))

CHILD_TRANSITIONS = TransitionTable("Child order", ChildOrderErrorCode.ILLEGAL_TRANSITION, frozenset(
    {
        (S.PENDING_NEW, S.ACCEPTED),  # venue ack
        (S.PENDING_NEW, S.REJECTED),
        # The ack and the first fill can come in one delivery: a marketable child fills on arrival.
        (S.PENDING_NEW, S.PARTIALLY_FILLED),
        (S.PENDING_NEW, S.FILLED),
        (S.PENDING_NEW, S.CANCELLED),  # an IOC's unfilled rest, or a cancel that overtook the ack
        (S.PENDING_NEW, S.PENDING_CANCEL),
        (S.ACCEPTED, S.PARTIALLY_FILLED),
        (S.ACCEPTED, S.FILLED),
        (S.ACCEPTED, S.PENDING_CANCEL),
        (S.ACCEPTED, S.CANCELLED),
        (S.ACCEPTED, S.EXPIRED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.PENDING_CANCEL),
        (S.PARTIALLY_FILLED, S.CANCELLED),
        (S.PARTIALLY_FILLED, S.EXPIRED),
        (S.PENDING_CANCEL, S.CANCELLED),
        (S.PENDING_CANCEL, S.PARTIALLY_FILLED),  # a fill crossed our cancel on the wire
        (S.PENDING_CANCEL, S.FILLED),
        (S.PENDING_CANCEL, S.EXPIRED),
        (S.PENDING_CANCEL, S.ACCEPTED),  # cancel rejected (too late) and still working
        (S.PENDING_CANCEL, S.REJECTED),  # the order itself was refused before the cancel arrived
    }
))

C = Control
CONTROL_TRANSITIONS = TransitionTable("Parent control", ParentOrderErrorCode.CONTROL_ILLEGAL_TRANSITION, frozenset(
    {
        (C.RUNNING, C.PAUSED),  # trader: pause
        (C.PAUSED, C.RUNNING),  # trader: resume
        (C.RUNNING, C.HALTED),  # kill switch
        (C.PAUSED, C.HALTED),  # kill switch over a paused parent: it now needs an explicit resume too
        (C.HALTED, C.RUNNING),  # trader: resume after a halt
    }
))


check_parent_transition = PARENT_TRANSITIONS.check
check_child_transition = CHILD_TRANSITIONS.check
check_control_transition = CONTROL_TRANSITIONS.check
