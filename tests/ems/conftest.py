"""Fixtures of the EMS tests. Imports of Django code stay inside the fixtures: `make test-fast` loads this
file for the pure simulator and algorithm tests without Django (`-p no:django`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the aggregation tests' market and order intake ---------------------------------------------------------


@pytest.fixture
def market(settings, db):
    """Venues, and market time held (nearly) still at day 3 10:30: the mid a test reads is the cycle's."""
    from ems.services import venues_sync_from_sim
    from tests.ems.live_helpers import AGGREGATION_DAY, AGGREGATION_T_US, MarketClock

    MarketClock(settings, day=AGGREGATION_DAY, t_us=AGGREGATION_T_US, speed=1e-6)
    venues_sync_from_sim()


@pytest.fixture
def mid(market, instrument):
    from ems.selectors import market_prices

    return market_prices([instrument])[0].mid


@pytest.fixture
def submit(pm, portfolio, other_pm, other_portfolio, instrument):
    """submit(side, qty, **fields) -> the accepted order, through the real intake (pm's book, or pm_b's with who="b")."""
    import uuid

    from oms.roles import Actor
    from oms.services import orders_submit
    from oms.states import OrderStatus

    def make(side="buy", quantity=1000, *, who="a", **fields):
        user, book = (pm, portfolio) if who == "a" else (other_pm, other_portfolio)
        item = {"client_order_id": f"T-{uuid.uuid4().hex[:12]}", "portfolio": book.code, "instrument": instrument.symbol,
                "side": side, "quantity": quantity, "order_type": "market", "time_in_force": "day", "urgency": "medium",
                "strategy": "auto"}
        if fields.get("limit_price") is not None:
            item["order_type"] = "limit"
            fields["limit_price"] = str(fields["limit_price"])
        item.update(fields)
        result = orders_submit(user=user, actor=Actor.for_user(user, "api"), items=[item])[0]
        assert result.outcome == "created" and result.order.status == OrderStatus.ACCEPTED, result.error
        return result.order

    return make
