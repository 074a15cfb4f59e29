"""The one mapping between FIX 4.4 values and the OMS's (fix/vocabulary.py) covers every value of ours, both
ways, and uses only values the FIX 4.4 data dictionary the engine validates with allows."""

from __future__ import annotations

import pytest
import quickfix as qf

from fix import vocabulary as v
from fix.engine import DATA_DICTIONARY
from oms.models import OrderType, Side, TimeInForce
from oms.states import OrderStatus

DICTIONARY = qf.DataDictionary(str(DATA_DICTIONARY))


@pytest.mark.parametrize(("mapping", "ours", "tag"), [
    (v.SIDE, Side, 54), (v.ORD_TYPE, OrderType, 40), (v.TIME_IN_FORCE, TimeInForce, 59),
], ids=["Side", "OrdType", "TimeInForce"])
def test_every_value_of_ours_has_one_fix_value_and_back(mapping, ours, tag):
    assert set(mapping.values()) == set(ours.values)
    assert len(set(mapping.values())) == len(mapping)  # one FIX value per value of ours: the reverse is exact
    assert all(DICTIONARY.isFieldValue(tag, fix_value) for fix_value in mapping)


def test_every_order_status_has_an_ord_status():
    assert set(v.ORD_STATUS) == set(OrderStatus.values)
    assert all(DICTIONARY.isFieldValue(39, value) for value in v.ORD_STATUS.values())


def test_the_reject_reasons_are_fix_values():
    reasons = {*v.ORD_REJ_REASON.values(), *v.ORD_REJ_REASON_BY_FIELD.values(), v.OTHER}
    assert all(DICTIONARY.isFieldValue(103, r) for r in reasons)
    assert all(DICTIONARY.isFieldValue(102, r) for r in {*v.CXL_REJ_REASON.values(), v.CXL_OTHER})
