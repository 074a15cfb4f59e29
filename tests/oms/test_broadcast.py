"""Blotter pushes: one message per order normally; one hint per group for what queued up under load."""

from oms.broadcast import _coalesce

LAYER = object()


def _msg(order_id):
    return {"type": "order.changed", "id": order_id, "status": "ACCEPTED"}


def test_a_single_change_goes_out_as_it_is():
    batch = [(LAYER, [("blotter.p1", _msg(1)), ("blotter.all", _msg(1))])]

    assert _coalesce(batch) == batch


def test_changes_queued_together_become_one_hint_per_group_and_single_messages_stay():
    batch = [
        (LAYER, [("blotter.p1", _msg(1)), ("blotter.all", _msg(1))]),
        (LAYER, [("blotter.p1", _msg(2)), ("blotter.all", _msg(2))]),
        (LAYER, [("blotter.p2", _msg(3)), ("blotter.all", _msg(3))]),
    ]

    [(layer, messages)] = _coalesce(batch)

    assert layer is LAYER
    assert dict(messages) == {
        "blotter.p1": {"type": "orders.changed", "count": 2},
        "blotter.all": {"type": "orders.changed", "count": 3},
        "blotter.p2": _msg(3),
    }


def test_bulk_hints_add_up_their_counts():
    batch = [
        (LAYER, [("blotter.all", {"type": "orders.changed", "count": 500})]),
        (LAYER, [("blotter.all", _msg(9))]),
    ]

    assert _coalesce(batch) == [(LAYER, [("blotter.all", {"type": "orders.changed", "count": 501})])]
