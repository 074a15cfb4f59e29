"""The database keeps an order sane whatever code writes it: never over-filled, positive, priced, unique."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.models import Order
from oms.states import OrderStatus


@pytest.fixture
def order(pm, submit):
    return submit(pm, quantity=1000)


def _update_refused(order, **fields) -> bool:
    try:
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(**fields)
    except IntegrityError:
        return True
    return False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filled=st.integers(min_value=0, max_value=3000))
def test_filled_quantity_never_exceeds_the_order_quantity(order, filled):
    refused = _update_refused(order, filled_quantity=filled, status=OrderStatus.PARTIALLY_FILLED)

    assert refused == (filled > order.quantity)
    assert Order.objects.get(pk=order.pk).filled_quantity <= order.quantity


@pytest.mark.parametrize(
    "fields",
    [{"quantity": 0}, {"order_type": "limit", "limit_price": None}],
    ids=["quantity-zero", "limit-without-price"],
)
def test_database_refuses_an_insane_order(order, fields):
    assert _update_refused(order, **fields)


def test_market_order_may_have_no_price(order):
    assert not _update_refused(order, order_type="market", limit_price=None)


def test_client_order_id_is_unique_per_source_in_the_database(order):
    twin = Order.objects.get(pk=order.pk)
    twin.pk = None
    twin.client_order_id = order.client_order_id

    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()

    assert Order.objects.filter(client_order_id=order.client_order_id).count() == 1
