"""Fixtures of the TCA tests. Django imports stay inside the fixtures: the pure measure / benchmark / replay
tests in this folder run without Django (``-p no:django``) and load this file too."""

from __future__ import annotations

import pytest


@pytest.fixture
def system_actor():
    from oms.roles import Actor

    return Actor.system("tests.tca")


@pytest.fixture
def work_to_completion(clock):
    """Return ``work(orders, strategy=..., window_s=..., **params) -> parent``: a parent over the orders worked
    tick by tick by ``ems.services.working.parent_tick`` until done, checked to have run one plan (epoch 1)
    and to be consistent, then the clock moved on past the last markout horizon (300 s)."""
    from ems.states import ExecStatus
    from tests.ems.live_helpers import check_invariants, tick_until_done, working_parent

    def work(orders, *, strategy: str = "twap", window_s: int = 10 * 60, step_s: float = 30, mature_s: float = 400, **params):
        parent = working_parent(instrument=orders[0].instrument, orders=orders, strategy=strategy, window_s=window_s, **params)
        tick_until_done(parent, clock, step_s=step_s)
        parent.refresh_from_db()
        assert parent.status in (ExecStatus.FILLED, ExecStatus.EXPIRED), parent.status
        assert parent.epoch == 1, "a what-if reproduces one plan: the parent must not have been re-planned"
        check_invariants(parent)
        clock.advance(mature_s)
        return parent

    return work


@pytest.fixture
def worked_parent(work_to_completion, instrument, portfolio, pm, other_portfolio, other_pm):
    """A TWAP parent of two PMs' orders (12,000 + 8,000 shares) worked to completion: ``(parent, mine, theirs)``."""
    from tests.ems import factories as f

    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=12_000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=8_000)
    return work_to_completion([mine, theirs], strategy="twap", window_s=10 * 60), mine, theirs
