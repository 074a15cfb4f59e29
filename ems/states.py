"""Parent and child order lifecycles as tables (FIX 39 OrdStatus words), and the parent's control states.

Every status change goes through ``check_parent_transition`` / ``check_child_transition`` /
``check_control_transition``; an illegal move raises :class:`IllegalExecTransition` with a stable code.
"""

from __future__ import annotations

from ems.models import Control, ExecStatus

S = ExecStatus

# A parent is created ACCEPTED (working) once the selection matrix has chosen its algorithm.
PARENT_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
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
        (S.PENDING_CANCEL, S.CANCELLED),
        # Fills can cross the cancels on the wire: the children executed before the venues saw them.
        (S.PENDING_CANCEL, S.PARTIALLY_FILLED),
        (S.PENDING_CANCEL, S.PENDING_CANCEL),
        (S.PENDING_CANCEL, S.FILLED),
        # A cancel of a constituent that leaves nothing to cancel at the parent: it reduces the parent
        # and a remaining quantity already filled completes it.
        (S.ACCEPTED, S.ACCEPTED),
    }
)

CHILD_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
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
)

C = Control
CONTROL_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (C.RUNNING, C.PAUSED),  # trader: pause
        (C.PAUSED, C.RUNNING),  # trader: resume
        (C.RUNNING, C.HALTED),  # kill switch
        (C.PAUSED, C.HALTED),  # kill switch over a paused parent: it now needs an explicit resume too
        (C.HALTED, C.RUNNING),  # trader: resume after a halt
    }
)


class IllegalExecTransition(Exception):
    """A parent, child or control state was asked to move along an edge its table does not have."""

    def __init__(self, what: str, current: str, target: str):
        self.what, self.current, self.target = what, current, target
        self.code = f"{what}.illegal_transition"
        super().__init__(f"{what.replace('_', ' ').capitalize()} cannot go from {current} to {target}")


def check_parent_transition(current: str, target: str) -> None:
    if (current, target) not in PARENT_TRANSITIONS:
        raise IllegalExecTransition("parent_order", current, target)


def check_child_transition(current: str, target: str) -> None:
    if (current, target) not in CHILD_TRANSITIONS:
        raise IllegalExecTransition("child_order", current, target)


def check_control_transition(current: str, target: str) -> None:
    if (current, target) not in CONTROL_TRANSITIONS:
        raise IllegalExecTransition("parent_control", current, target)
