"""RFQ and quote lifecycles as tables; an illegal move raises the one ``oms.states.IllegalTransition`` with the
table's stable code (``rfq.illegal_transition``, ``quote.illegal_transition``).

    created -> sent -> quoting -> executed | expired | cancelled | rejected

The values are lower-case words of our own, not FIX OrdStatus words; why they stay so: ``oms.states``.
"""

from __future__ import annotations

from django.db import models

from oms.states import TransitionTable
from rfq.error_codes import QuoteErrorCode, RfqErrorCode


class RfqStatus(models.TextChoices):
    CREATED = "created", "Created"  # recorded, providers chosen, not yet sent
    SENT = "sent", "Sent"  # disseminated; the window is open, no quote yet
    QUOTING = "quoting", "Quoting"  # at least one quote in
    EXECUTED = "executed", "Executed"
    EXPIRED = "expired", "Expired"  # the window ended without an execution
    CANCELLED = "cancelled", "Cancelled"  # by a trader, or its parent stopped (pause, cancel, kill switch)
    REJECTED = "rejected", "Rejected"  # nobody could be asked, or every provider declined

    @classmethod
    def terminal(cls) -> frozenset[str]:
        return frozenset({cls.EXECUTED, cls.EXPIRED, cls.CANCELLED, cls.REJECTED})

    @classmethod
    def open(cls) -> frozenset[str]:
        return frozenset({cls.CREATED, cls.SENT, cls.QUOTING})


class QuoteStatus(models.TextChoices):
    LIVE = "live", "Live"
    ACCEPTED = "accepted", "Accepted"  # executed: the fill is booked
    EXPIRED = "expired", "Expired"  # its life or the window ended, or another quote was executed
    REJECTED = "rejected", "Rejected on last look"
    REFUSED = "refused", "Refused (arrived after the window)"


R = RfqStatus
Q = QuoteStatus

RFQ_TRANSITIONS = TransitionTable("RFQ", RfqErrorCode.ILLEGAL_TRANSITION, frozenset(
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
))

QUOTE_TRANSITIONS = TransitionTable("Quote", QuoteErrorCode.ILLEGAL_TRANSITION, frozenset(
    {
        (Q.LIVE, Q.ACCEPTED),
        (Q.LIVE, Q.EXPIRED),  # its own life ended, the window ended, another quote executed, the RFQ was cancelled
        (Q.LIVE, Q.REJECTED),  # the provider's last look said no
    }
))
# A quote that arrives after the window is stored REFUSED from the start (kept for the provider's scorecard).


check_rfq_transition = RFQ_TRANSITIONS.check
check_quote_transition = QUOTE_TRANSITIONS.check
