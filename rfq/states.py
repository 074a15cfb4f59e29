"""RFQ and quote lifecycles as tables; an illegal move raises :class:`IllegalRfqTransition` with a stable code.

    created -> sent -> quoting -> executed | expired | cancelled | rejected
"""

from __future__ import annotations

from rfq.models import QuoteStatus, RfqStatus

R = RfqStatus
Q = QuoteStatus

RFQ_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (R.CREATED, R.SENT),  # disseminated to the chosen providers
        (R.CREATED, R.REJECTED),  # no provider could be asked (none quotes the instrument, all inactive)
        (R.CREATED, R.CANCELLED),
        (R.SENT, R.QUOTING),  # the first quote arrived
        (R.SENT, R.EXPIRED),  # the window ended with no quote
        (R.SENT, R.REJECTED),  # every provider declined before the window ended
        (R.SENT, R.CANCELLED),
        (R.QUOTING, R.EXECUTED),
        (R.QUOTING, R.EXPIRED),  # the window ended with no execution (no click, nothing within the threshold,
        # or every acceptance rejected on last look)
        (R.QUOTING, R.CANCELLED),
    }
)

QUOTE_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (Q.LIVE, Q.ACCEPTED),
        (Q.LIVE, Q.EXPIRED),  # its own life ended, the window ended, another quote executed, the RFQ was cancelled
        (Q.LIVE, Q.REJECTED),  # the provider's last look said no
    }
)
# A quote that arrives after the window is stored REFUSED from the start (kept for the provider's scorecard).


class IllegalRfqTransition(Exception):
    """An RFQ or a quote was asked to move along an edge its table does not have."""

    def __init__(self, what: str, current: str, target: str):
        self.what, self.current, self.target = what, current, target
        self.code = f"{what}.illegal_transition"
        super().__init__(f"{what.upper() if what == 'rfq' else what.capitalize()} cannot go from {current} to {target}")


def check_rfq_transition(current: str, target: str) -> None:
    if (current, target) not in RFQ_TRANSITIONS:
        raise IllegalRfqTransition("rfq", current, target)


def check_quote_transition(current: str, target: str) -> None:
    if (current, target) not in QUOTE_TRANSITIONS:
        raise IllegalRfqTransition("quote", current, target)
