"""The RFQ and quote lifecycles (rfq/states.py): every edge of both tables is allowed, every other pair of
statuses is refused with its stable code."""

from __future__ import annotations

import itertools

import pytest

from oms.states import IllegalTransition
from rfq.states import (
    QUOTE_TRANSITIONS,
    RFQ_TRANSITIONS,
    QuoteStatus,
    RfqStatus,
    check_quote_transition,
    check_rfq_transition,
)

RFQ_PAIRS = list(itertools.product(RfqStatus.values, repeat=2))
QUOTE_PAIRS = list(itertools.product(QuoteStatus.values, repeat=2))


@pytest.mark.parametrize(("current", "target"), sorted(RFQ_TRANSITIONS))
def test_every_rfq_edge_of_the_table_is_allowed(current, target):
    check_rfq_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [p for p in RFQ_PAIRS if p not in RFQ_TRANSITIONS])
def test_every_other_rfq_move_is_refused_with_its_code(current, target):
    with pytest.raises(IllegalTransition) as exc:
        check_rfq_transition(current, target)
    assert exc.value.code == "rfq.illegal_transition"
    assert (exc.value.current, exc.value.target) == (current, target)


@pytest.mark.parametrize(("current", "target"), sorted(QUOTE_TRANSITIONS))
def test_every_quote_edge_of_the_table_is_allowed(current, target):
    check_quote_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [p for p in QUOTE_PAIRS if p not in QUOTE_TRANSITIONS])
def test_every_other_quote_move_is_refused_with_its_code(current, target):
    with pytest.raises(IllegalTransition) as exc:
        check_quote_transition(current, target)
    assert exc.value.code == "quote.illegal_transition"


def test_the_tables_follow_the_issue_path_and_closed_states_are_final():
    # created -> sent -> quoting -> executed | expired | cancelled | rejected
    assert {(RfqStatus.CREATED, RfqStatus.SENT), (RfqStatus.SENT, RfqStatus.QUOTING), (RfqStatus.QUOTING, RfqStatus.EXECUTED)} <= RFQ_TRANSITIONS.edges
    assert not [p for p in RFQ_TRANSITIONS if p[0] in RfqStatus.terminal()]
    assert all(p[0] == QuoteStatus.LIVE for p in QUOTE_TRANSITIONS)
    # Only a request with quotes can execute; a refused quote never enters the table (stored refused at once).
    assert {p for p in RFQ_TRANSITIONS if p[1] == RfqStatus.EXECUTED} == {(RfqStatus.QUOTING, RfqStatus.EXECUTED)}
    assert not [p for p in QUOTE_TRANSITIONS if QuoteStatus.REFUSED in p]
