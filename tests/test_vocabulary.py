"""One vocabulary, two homes: the OMS's Django choices (``oms.models``, ``ems.models.Fill.Liquidity``) and the
pure simulator's and algorithms' enums (``ems.sim.orders``, ``ems.algos.types``), which import no Django.

Both keep the same lower-case values, so every seam crosses by value (``Enum(value)``) with no mapping table.
The documented exceptions, values only the OMS side has:

* ``TimeInForce.GTC``: a simulated venue's day ends at the close; a GTC parent's children are sent DAY.
* ``Fill.Liquidity.RFQ`` / ``INTERNAL``: fills booked from the RFQ platform and internal crosses, which no
  simulated venue reports.
"""

from __future__ import annotations

import pytest

from ems.algos import ALGORITHM_CHOICES, ALGORITHMS, algo_params
from ems.algos import types as algo_types
from ems.models import Fill
from ems.sim import orders as sim
from oms import models as oms

PAIRS = [
    (oms.Side, sim.Side, set()),
    (oms.OrderType, sim.OrderType, set()),
    (oms.TimeInForce, sim.TimeInForce, {"gtc"}),
    (oms.Urgency, algo_types.Urgency, set()),
    (oms.Strategy, algo_types.StrategyName, set()),
    (Fill.Liquidity, sim.Liquidity, {"rfq", "internal"}),
]


@pytest.mark.parametrize("django_enum, pure_enum, django_only", PAIRS, ids=lambda x: getattr(x, "__qualname__", ""))
def test_the_two_vocabularies_have_the_same_values_but_the_documented_exceptions(django_enum, pure_enum, django_only):
    assert set(django_enum.values) - django_only == {m.value for m in pure_enum}
    assert django_only <= set(django_enum.values)  # an exception that no longer exists is taken off the list


@pytest.mark.parametrize("django_enum, pure_enum, django_only", PAIRS, ids=lambda x: getattr(x, "__qualname__", ""))
def test_each_value_crosses_the_seam_both_ways(django_enum, pure_enum, django_only):
    for member in pure_enum:
        assert pure_enum(django_enum(member.value)) is member
        assert django_enum(member) == member.value
    for value in django_only:
        with pytest.raises(ValueError):
            pure_enum(value)


def test_side_sign_is_the_same_in_both():
    assert [oms.Side(m.value).sign for m in sim.Side] == [m.sign for m in sim.Side] == [1, -1]


def test_an_order_crosses_into_the_selection_matrix_and_the_algorithm_parameters_by_value():
    spec = algo_types.OrderSpec(oms.Side.SELL, 500, urgency=oms.Urgency.HIGH, requested=oms.Strategy.RFQ)
    params = algo_params(oms.Strategy.TWAP, {"side": oms.Side.SELL, "qty": 500, "urgency": oms.Urgency.LOW})

    assert (spec.side, spec.urgency, spec.requested) == (sim.Side.SELL, algo_types.Urgency.HIGH, algo_types.StrategyName.RFQ)
    assert (params.side, params.urgency) == (sim.Side.SELL, algo_types.Urgency.LOW)
    stored = params.to_dict()  # what a ParentOrder's params hold
    assert stored["side"] in oms.Side.values and stored["urgency"] in oms.Urgency.values


def test_a_child_order_crosses_back_into_the_oms_vocabulary_by_value():
    req = sim.OrderRequest("XNYS", oms.Side.BUY, 100, oms.OrderType.LIMIT, 10.0, oms.TimeInForce.IOC)

    assert (req.side, req.order_type, req.tif) == (sim.Side.BUY, sim.OrderType.LIMIT, sim.TimeInForce.IOC)
    # ChildOrder rows store the values (ems.services.working): each is an OMS choice.
    assert (req.side.value, req.order_type.value, req.tif.value) == ("buy", "limit", "ioc")
    assert req.tif.value in oms.TimeInForce.values


def test_the_strategies_a_trader_can_choose_are_the_algorithms_and_the_oms_strategies():
    assert [value for value, _ in ALGORITHM_CHOICES] == [name.value for name in ALGORITHMS]
    assert set(oms.Strategy.values) == {value for value, _ in ALGORITHM_CHOICES} | {"auto", "rfq"}
    assert algo_types.SCHEDULED_STRATEGIES < set(ALGORITHMS)
