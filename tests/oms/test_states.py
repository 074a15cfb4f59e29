"""The order lifecycle table (oms.states): every legal move passes, every other move raises. No database."""

from __future__ import annotations

import itertools

import pytest

from oms.states import CANCELLABLE, ORDER_TRANSITIONS, IllegalTransition, OrderStatus, check_transition

ALL_PAIRS = list(itertools.product(OrderStatus.values, OrderStatus.values))
LEGAL = sorted(ORDER_TRANSITIONS)
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in ORDER_TRANSITIONS]
OUT_OF_TERMINAL = [(a, b) for a, b in ALL_PAIRS if a in OrderStatus.terminal_statuses()]


def _ids(pairs):
    return [f"{a}->{b}" for a, b in pairs]


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=_ids(LEGAL))
def test_legal_transition_is_allowed(current, target):
    check_transition(current, target)  # Act + Assert: no exception


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=_ids(ILLEGAL))
def test_illegal_transition_raises(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_transition(current, target)

    assert info.value.current == current
    assert info.value.target == target
    assert current in str(info.value) and target in str(info.value)


@pytest.mark.parametrize(("current", "target"), OUT_OF_TERMINAL, ids=_ids(OUT_OF_TERMINAL))
def test_no_move_leaves_a_terminal_status(current, target):
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_table_only_names_known_statuses():
    assert {s for pair in ORDER_TRANSITIONS for s in pair} <= set(OrderStatus.values)


def test_terminal_and_open_statuses_partition_all_statuses():
    terminal, open_ = OrderStatus.terminal_statuses(), OrderStatus.open_statuses()

    assert terminal.isdisjoint(open_)
    assert terminal | open_ == set(OrderStatus.values)


@pytest.mark.parametrize("status", sorted(CANCELLABLE))
def test_every_cancellable_status_can_move_to_cancelled(status):
    check_transition(status, OrderStatus.CANCELLED)


def test_every_open_status_has_a_way_out():
    open_statuses = OrderStatus.open_statuses()

    for status in open_statuses:
        assert any(a == status and b != status for a, b in ORDER_TRANSITIONS), status


def test_new_can_only_be_accepted_denied_or_parked():
    assert {b for a, b in ORDER_TRANSITIONS if a == OrderStatus.NEW} == {
        OrderStatus.ACCEPTED, OrderStatus.DENIED, OrderStatus.PENDING_NEW,
    }
