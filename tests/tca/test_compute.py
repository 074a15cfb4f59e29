"""Computing a parent's TCA: per-fill metrics and the parent's figures from the market rebuilt with our
fills (as the live driver rebuilds it), stored once (upsert), and the refresh that finds closed parents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from ems.models import Fill, ParentOrder
from ems.selectors import instrument_day_fills, instrument_params, market_for, venue_profiles
from ems.services.venues import venues_sync_from_sim
from ems.sim.clock import SESSION_US, US
from ems.sim.market import Market
from ems.states import ExecStatus
from tca.figures import day_market
from tca.measures import MARKOUT_HORIZONS_S
from tca.models import FillMetrics, ParentTCA
from tca.services import parent_tca_compute, parents_due, tca_refresh
from tests.ems import factories as f

pytestmark = pytest.mark.django_db
DAY = 2


def _closed_parent(instrument, orders, *, side="buy", fills=((600, "100.10", 60), (400, "100.30", 120)), arrival="100.00",
                   status=ExecStatus.FILLED, quantity=None):
    """A parent with hand-set fills (prices, µs after 10:00) closed as ``status``."""
    venues_sync_from_sim()
    start = 30 * 60 * US
    p = f.parent(instrument=instrument, orders=orders, side=side, arrival_price=arrival, start_us=start,
                 end_us=start + 20 * 60 * US, market_day=DAY, quantity=quantity)
    for qty, price, after_s in fills:
        f.fill(parent=p, quantity=qty, price=price, t_us=start + after_s * US)
    p.refresh_from_db()
    p.status, p.last_tick_us = status, start + 300 * US
    p.save(update_fields=["status", "last_tick_us"])
    return p


def test_a_buy_gets_its_slippage_vs_arrival_by_hand_and_the_shortfall_adds_up(instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = _closed_parent(instrument, [order])

    tca = parent_tca_compute(parent_id=parent.pk)

    # avg = (600 x 100.10 + 400 x 100.30) / 1000 = 100.18: paid 18 bps over the 100.00 arrival -> -18 bps (worse)
    assert tca.avg_price == Decimal("100.180000") and tca.filled_quantity == 1000 and tca.notional == Decimal("100180.000000")
    assert tca.slippage_arrival_bps == Decimal("-18.0000")
    assert tca.fees == Decimal("0.600000")  # the factory's 0.30 per fill
    parts = [tca.is_delay, tca.is_timing, tca.is_impact, tca.is_opportunity, tca.is_fees]
    assert abs(sum(parts) - tca.is_total) <= Decimal("0.000005")
    assert tca.is_opportunity == 0 and tca.is_fees == Decimal("-0.600000")  # + = better: fees paid are negative
    # Filled part: delay + timing + impact = s (Q D - sum q p), its slippage against the decision price
    assert abs(tca.is_delay + tca.is_timing + tca.is_impact - (1000 * tca.decision_price - Decimal("100180"))) < Decimal("0.01")
    assert tca.end_us == parent.start_us + 120 * US  # FILLED: the window ends at its last fill
    assert FillMetrics.objects.filter(fill__parent=parent).count() == 2


def test_a_sell_flips_the_sign(instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000, side="sell")
    parent = _closed_parent(instrument, [order], side="sell")

    tca = parent_tca_compute(parent_id=parent.pk)

    assert tca.slippage_arrival_bps == Decimal("18.0000")  # sold 18 bps above arrival: better
    mine = FillMetrics.objects.get(fill__parent=parent, fill__price=Decimal("100.30"))
    assert mine.effective_spread_bps == pytest.approx(Decimal(2 * abs(100.30 - float(mine.mid)) / float(mine.mid) * 1e4), abs=Decimal("0.0002"))


def test_the_benchmarks_are_read_off_the_market_rebuilt_with_every_fill_of_ours(worked_parent):
    parent, _, _ = worked_parent

    tca = parent_tca_compute(parent_id=parent.pk)

    fills = list(Fill.objects.filter(parent=parent).select_related("tca").order_by("market_time_us", "id"))
    rebuilt = Market(instrument_params(parent.instrument), seed=settings.SIM_SEED, day=parent.market_day, venues=venue_profiles(),
                     fills=instrument_day_fills(parent.instrument_id, parent.market_day))
    untouched = market_for(parent.instrument, parent.market_day)
    for fill in fills:
        assert float(fill.tca.mid) == pytest.approx(rebuilt.mid(fill.market_time_us), abs=1e-6)
        for h in MARKOUT_HORIZONS_S:
            after = rebuilt.mid(min(fill.market_time_us + h * US, SESSION_US))
            expected = (after - float(fill.price)) / float(fill.price) * 1e4  # a buy: up after we bought = good
            assert float(getattr(fill.tca, f"markout_{h}s_bps")) == pytest.approx(expected, abs=1e-3)
    # Our impact is in it: after 20,000 shares bought the mid is above the untouched path's.
    last = fills[-1].market_time_us
    assert rebuilt.mid(last) > untouched.mid(last)
    # Interval VWAP: the market's prints over the window only (ours are not on the tape).
    assert float(tca.interval_vwap) == pytest.approx(rebuilt.vwap(parent.start_us, tca.end_us), abs=1e-6)
    assert float(tca.interval_twap) == pytest.approx(rebuilt.twap(parent.start_us, tca.end_us), abs=1e-6)
    assert float(tca.close_price) == pytest.approx(rebuilt.mid(SESSION_US), abs=1e-6)
    assert float(tca.prev_close) == pytest.approx(day_market(parent.instrument, parent.market_day - 1).mid(SESSION_US), abs=1e-6)
    assert tca.participation is not None and 0 < tca.participation < 1
    assert abs(tca.is_delay + tca.is_timing + tca.is_impact + tca.is_opportunity + tca.is_fees - tca.is_total) <= Decimal("0.000005")


def test_computing_again_is_an_upsert(worked_parent):
    parent, _, _ = worked_parent
    first = parent_tca_compute(parent_id=parent.pk)
    again = parent_tca_compute(parent_id=parent.pk)
    assert ParentTCA.objects.filter(parent=parent).count() == 1
    assert FillMetrics.objects.filter(fill__parent=parent).count() == Fill.objects.filter(parent=parent).count()
    assert again.is_total == first.is_total and again.computed_at >= first.computed_at


def test_an_unfilled_cancelled_parent_costs_only_its_opportunity(instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = _closed_parent(instrument, [order], fills=(), status=ExecStatus.CANCELLED)

    tca = parent_tca_compute(parent_id=parent.pk)

    assert tca.filled_quantity == 0 and tca.avg_price is None and tca.slippage_arrival_bps is None
    assert tca.is_delay == tca.is_timing == tca.is_impact == tca.is_fees == 0
    assert tca.is_total == tca.is_opportunity
    assert tca.end_us == parent.last_tick_us  # where it stopped working


def test_refresh_computes_closed_parents_once_their_markouts_have_matured(clock, instrument, portfolio, pm):
    # The clock is at day 2, 10:30 (3,600 s after the open); a parent stopped 300 s after 10:00 + 30 min.
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    closed = _closed_parent(instrument, [order])
    fresh = _closed_parent(instrument, [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)])
    ParentOrder.objects.filter(pk=fresh.pk).update(last_tick_us=3590 * US)  # stopped 10 s ago: markouts not ready
    working = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500)],
                       market_day=DAY)
    working.status = ExecStatus.PARTIALLY_FILLED
    working.save(update_fields=["status"])

    assert parents_due() == [closed.pk]
    assert tca_refresh() == 1
    assert set(ParentTCA.objects.values_list("parent_id", flat=True)) == {closed.pk}
    assert tca_refresh() == 0  # done once

    clock.advance(300)
    assert tca_refresh() == 1
    assert set(ParentTCA.objects.values_list("parent_id", flat=True)) == {closed.pk, fresh.pk}


def test_a_parent_of_a_past_day_is_due_whatever_the_time(clock, instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = _closed_parent(instrument, [order])
    ParentOrder.objects.filter(pk=parent.pk).update(market_day=DAY - 1, last_tick_us=SESSION_US)
    Fill.objects.filter(parent=parent).update(market_day=DAY - 1)
    assert parents_due() == [parent.pk]
