"""A parent whose only order was cancelled before any fill (issue 19, item 2): it closes CANCELLED with nothing
left, and every path that meets it answers plainly: the TCA refresh skips it (no traceback every run), the TCA
report and its exports and what-ifs answer 409 ``tca.nothing_executed``, the TCA page says nothing was executed,
and the desk shows it as released, never "BUY 0"."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from ems.models import ParentOrder
from ems.services.working import parent_tick
from ems.states import ExecStatus
from oms.roles import Actor
from oms.services import order_cancel
from tca.services.compute import parents_due, tca_refresh
from tests.ems import factories as f
from tests.ems.live_helpers import working_parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_parent(clock, instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=5_000, limit_price="50.00")
    parent = working_parent(instrument=instrument, orders=[order], limit_price="50.00")  # far below the market: no fill
    parent_tick(parent_id=parent.pk)
    order_cancel(user=pm, actor=Actor.for_user(pm, "api"), order_id=order.pk)
    for _ in range(5):
        clock.advance(5)
        parent_tick(parent_id=parent.pk)
        parent.refresh_from_db()
        if not parent.is_open:
            break
    assert (parent.status, parent.quantity, parent.filled_quantity) == (ExecStatus.CANCELLED, 0, 0) and parent.is_empty
    return parent


def test_the_tca_refresh_never_picks_an_empty_parent(empty_parent, clock, caplog):
    clock.advance(3_600)  # its markouts have long matured
    with caplog.at_level(logging.ERROR):
        assert empty_parent.pk not in parents_due()
        tca_refresh()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_its_tca_report_exports_and_what_if_answer_nothing_executed(empty_parent, trader_api):
    for url in (f"/api/tca/parent-orders/{empty_parent.pk}/", f"/api/tca/parent-orders/{empty_parent.pk}/?format=csv",
                f"/api/tca/parent-orders/{empty_parent.pk}/?format=xlsx"):
        r = trader_api.get(url)
        assert r.status_code == 409 and r.json()["code"] == "tca.nothing_executed", (url, r.status_code)
    r = trader_api.post(f"/api/tca/parent-orders/{empty_parent.pk}/what-if/", {"strategy": "twap"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "tca.nothing_executed"
    assert trader_api.get(f"/api/parent-orders/{empty_parent.pk}/").status_code == 200


def test_its_pages_say_what_happened(empty_parent, trader):
    c = Client()
    c.force_login(trader)
    tca = c.get(f"/tca/parents/{empty_parent.pk}/")
    assert tca.status_code == 200 and "Nothing was executed" in tca.content.decode()
    desk = c.get(f"/desk/parents/{empty_parent.pk}/").content.decode()
    assert "nothing left" in desk and "BUY</span>\n      0 " not in desk
    assert ParentOrder.objects.filter(pk=empty_parent.pk, quantity=0).exists()
