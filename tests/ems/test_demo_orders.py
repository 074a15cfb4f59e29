"""``manage.py demo_orders``: the day's demo orders go through intake, once per market day, and the EMS
aggregates and nets them like any other orders."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from ems.models import InternalCross, ParentOrder
from ems.services.aggregation import aggregation_cycle
from oms.models import Order
from oms.roles import Actor
from oms.states import OrderStatus

pytestmark = pytest.mark.django_db


def test_demo_orders_are_submitted_once_per_day_and_aggregated_with_a_cross(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("demo_orders", stdout=out)
    assert "Demo orders submitted: 7" in out.getvalue()
    call_command("demo_orders", stdout=(again := StringIO()))
    assert "Demo orders submitted: 0" in again.getvalue()
    assert Order.objects.filter(client_order_id__startswith="DEMO-", status=OrderStatus.ACCEPTED).count() == 7

    aggregation_cycle(actor=Actor.system("test"))

    # The AAPL sell (15,000) crosses against the two AAPL buys; the buys' rest (85,000) forms one parent.
    cross = InternalCross.objects.get(instrument__symbol="AAPL")
    assert cross.quantity == 15_000
    aapl = ParentOrder.objects.get(instrument__symbol="AAPL")
    assert (aapl.side, aapl.quantity, aapl.constituents.count()) == ("buy", 85_000, 2)
    assert Order.objects.get(client_order_id__endswith="-3").status == OrderStatus.FILLED
    assert ParentOrder.objects.count() == 5  # AAPL, JPM, MSFT, NVDA, XOM
    # The XOM block the PM asked dealers for is worked by the RFQ platform.
    assert ParentOrder.objects.get(instrument__symbol="XOM").strategy == "rfq"
