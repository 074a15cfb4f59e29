"""The intake's reference-data cache is never stale: every change is seen by the next order."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction

from oms import role_names
from oms.models import RiskLimit
from oms.refdata import refdata
from tests.factories import RestrictedInstrumentFactory


@pytest.fixture
def warm(pm, portfolio, post_order, order_payload, assert_accepted):
    """An order went through, so this process has the reference data cached."""
    assert_accepted(post_order(pm, order_payload()))


def test_limit_changed_in_raw_sql_applies_to_the_next_order(warm, pm, set_limits, post_order, order_payload, assert_denied):
    set_limits(max_order_quantity=1_000_000)
    with connection.cursor() as cur:
        cur.execute("UPDATE oms_risklimit SET max_order_quantity = 10")

    assert_denied(post_order(pm, order_payload(quantity=11)), "risk.max_quantity")


def test_new_restriction_applies_to_the_next_order(warm, pm, instrument, post_order, order_payload, assert_denied):
    RestrictedInstrumentFactory(instrument=instrument, reason="insider list")

    assert_denied(post_order(pm, order_payload()), "risk.restricted_instrument")


def test_removing_a_member_stops_the_next_order(warm, pm, portfolio, post_order, order_payload):
    portfolio.members.remove(pm)

    response = post_order(pm, order_payload())

    assert response.status_code == 403
    assert response.json()["code"] == "permission.portfolio_not_granted"


def test_role_change_is_seen_by_the_next_request(warm, pm, api):
    pm.groups.set([Group.objects.get_or_create(name=role_names.COMPLIANCE)[0]])

    response = api(pm).post("/api/orders/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission.read_only"


def test_a_rolled_back_change_never_lingers_in_the_cache(warm, set_limits):
    limit = set_limits(max_order_quantity=500)
    try:
        with transaction.atomic():
            RiskLimit.objects.filter(pk=limit.pk).update(max_order_quantity=7)
            assert refdata().limits[None].max_order_quantity == 7  # this transaction sees its own change
            raise RuntimeError("roll back")
    except RuntimeError:
        pass

    assert refdata().limits[None].max_order_quantity == 500
