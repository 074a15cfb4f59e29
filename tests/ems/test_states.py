"""The parent, child and control tables (ems.states): every legal move passes, every other pair of states
raises the one IllegalTransition with its table's stable code. No database."""

from __future__ import annotations

import itertools

import pytest

from ems import states
from ems.states import CHILD_TRANSITIONS, CONTROL_TRANSITIONS, PARENT_TRANSITIONS, Control, ExecStatus
from oms.states import IllegalTransition

S = ExecStatus
STATUS_PAIRS = list(itertools.product(S.values, repeat=2))
CONTROL_PAIRS = list(itertools.product(Control.values, repeat=2))

# (what, table, the check the services call, all pairs, code, how the message names the thing)
TABLES = {
    "parent": (PARENT_TRANSITIONS, states.check_parent_transition, STATUS_PAIRS, "parent_order.illegal_transition", "Parent order"),
    "child": (CHILD_TRANSITIONS, states.check_child_transition, STATUS_PAIRS, "child_order.illegal_transition", "Child order"),
    "control": (CONTROL_TRANSITIONS, states.check_control_transition, CONTROL_PAIRS, "parent_control.illegal_transition",
                "Parent control"),
}
LEGAL = [(name, a, b) for name, (table, *_rest) in TABLES.items() for a, b in sorted(table)]
ILLEGAL = [(name, a, b) for name, (table, _, pairs, *_rest) in TABLES.items() for a, b in pairs if (a, b) not in table]


def _ids(cases):
    return [f"{name}:{a}->{b}" for name, a, b in cases]


@pytest.mark.parametrize(("name", "current", "target"), LEGAL, ids=_ids(LEGAL))
def test_every_legal_move_is_allowed(name, current, target):
    _, check, *_ = TABLES[name]

    check(current, target)  # Act + Assert: no exception


@pytest.mark.parametrize(("name", "current", "target"), ILLEGAL, ids=_ids(ILLEGAL))
def test_every_other_move_raises_with_its_code(name, current, target):
    _, check, _, code, subject = TABLES[name]

    with pytest.raises(IllegalTransition) as info:
        check(current, target)

    assert info.value.code == code
    assert (info.value.current, info.value.target) == (current, target)
    assert str(info.value) == f"{subject} cannot go from {current} to {target}"


@pytest.mark.parametrize("name", ["parent", "child"])
def test_no_move_leaves_a_terminal_status(name):
    table = TABLES[name][0]

    assert not [(a, b) for a, b in table if a in S.terminal()]


@pytest.mark.parametrize("name", ["parent", "child"])
def test_every_open_status_the_table_uses_has_a_way_out(name):
    table = TABLES[name][0]
    used = {s for pair in table for s in pair}

    for status in used & S.open():
        assert any(a == status and b != status for a, b in table), status


def test_the_tables_only_name_known_states():
    assert {s for name in ("parent", "child") for pair in TABLES[name][0] for s in pair} <= set(S.values)
    assert {s for pair in CONTROL_TRANSITIONS for s in pair} == set(Control.values)


def test_a_parent_is_never_pending_new_nor_rejected():
    # A parent is created ACCEPTED (working); only a venue rejects, and venues see children.
    assert not [p for p in PARENT_TRANSITIONS if {S.PENDING_NEW, S.REJECTED} & set(p)]


def test_a_child_starts_pending_new_and_the_venue_acks_or_rejects_it():
    assert {b for a, b in CHILD_TRANSITIONS if a == S.PENDING_NEW} >= {S.ACCEPTED, S.REJECTED}
    assert not [p for p in CHILD_TRANSITIONS if p[1] == S.PENDING_NEW]


def test_only_a_trader_resume_leaves_halted():
    assert {b for a, b in CONTROL_TRANSITIONS if a == Control.HALTED} == {Control.RUNNING}
    assert (Control.RUNNING, Control.RUNNING) not in CONTROL_TRANSITIONS
