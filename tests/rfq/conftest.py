"""Fixtures of the RFQ tests. Imports of Django code stay inside the fixtures: `make test-fast` loads this
file for the pure pricing and scoring tests without Django (`-p no:django`)."""

from __future__ import annotations

import uuid

import pytest


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
def pooled_parent(clock, instrument, pm, portfolio, other_pm, other_portfolio):
    """A working buy parent pooling pm_a's 6,000 ACME and pm_b's 4,000 (the block that makes an RFQ the desk's
    job), written as the factories write rows, with the simulated venues in place."""
    from tests.rfq.services_helpers import block_parent

    return block_parent(instrument=instrument, pm=pm, portfolio=portfolio, other_pm=other_pm, other_portfolio=other_portfolio)
