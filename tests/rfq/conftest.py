"""Fixtures of the RFQ tests. Imports of Django code stay inside the fixtures: `make test-fast` loads this
file for the pure pricing and scoring tests without Django (`-p no:django`)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def clock(settings):
    """Market time under the test's control (tests.ems.live_helpers.MarketClock): day 2, 10:30, wall speed."""
    from tests.ems.live_helpers import MarketClock

    return MarketClock(settings)


@pytest.fixture
def market(clock):
    return clock


@pytest.fixture
def actor(trader):
    from oms.roles import Actor

    return Actor.for_user(trader, "api")


@pytest.fixture
def tick_queue(settings):
    """A queue of this test's own: the tasks sent after commit reach no worker of another run."""
    settings.EMS_QUEUE = f"test-rfq-{uuid.uuid4().hex[:8]}"
    return settings.EMS_QUEUE


@pytest.fixture
def providers(db):
    """Three providers that always answer, quote whole and honour every acceptance."""
    from tests.rfq.services_helpers import provider

    return [provider("LPA", seed=1), provider("LPB", seed=2), provider("LPC", seed=3)]


@pytest.fixture
def parent(pm, portfolio, instrument, market):
    """A working TWAP buy parent of 10,000 ACME holding one order of pm_a's, nothing at the venues yet."""
    from tests.ems import factories as f
    from tests.ems.live_helpers import working_parent

    return working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])
