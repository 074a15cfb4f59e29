"""Pre-trade cost estimate: built on the Almgren-Chriss module, in bps and currency, with participation."""

import math

import pytest

from ems.algos.almgren_chriss import calibrate, cost_variance, expected_cost, risk_aversion, trajectory
from ems.algos.cost import pre_trade_estimate, time_for_volume_share, volume_share
from ems.algos.types import OrderSpec, StrategyName, Urgency
from ems.sim.clock import SESSION_SECONDS, SESSION_US, US
from ems.sim.instrument import InstrumentParams

ACME = InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0)


def test_is_estimate_is_the_almgren_chriss_cost_of_the_optimal_trajectory():
    order = OrderSpec("buy", 100_000, urgency=Urgency.HIGH)
    est = pre_trade_estimate(order, ACME, StrategyName.IS, 3_600, fee_per_share=0.003)
    model = calibrate(ACME, qty=100_000, horizon_s=3_600, fee_per_share=0.003)
    x = trajectory(model, 100_000, 3_600, 60, risk_aversion(Urgency.HIGH))
    assert est.expected_cost == pytest.approx(expected_cost(model, x, 60.0))
    assert est.std_cost == pytest.approx(math.sqrt(cost_variance(model, x, 60.0)))
    assert est.expected_cost_bps == pytest.approx(est.expected_cost / (100_000 * 100.0) * 1e4)
    assert est.std_cost_bps == pytest.approx(est.std_cost / 1e7 * 1e4)
    assert est.notional == 1e7 and est.horizon_s == 3_600


def test_expected_participation_is_our_quantity_over_the_expected_market_volume():
    order = OrderSpec("sell", 50_000, start=3_600 * US)
    est = pre_trade_estimate(order, ACME, StrategyName.VWAP, 7_200)
    expected_volume = ACME.adv * volume_share(3_600 * US, 3 * 3_600 * US)
    assert est.expected_participation == pytest.approx(50_000 / expected_volume)


def test_more_urgency_costs_more_and_risks_less():
    order = {u: OrderSpec("buy", 200_000, urgency=u) for u in Urgency}
    est = {u: pre_trade_estimate(order[u], ACME, StrategyName.IS, SESSION_SECONDS) for u in Urgency}
    assert est[Urgency.LOW].expected_cost < est[Urgency.MEDIUM].expected_cost < est[Urgency.HIGH].expected_cost
    assert est[Urgency.LOW].std_cost > est[Urgency.MEDIUM].std_cost > est[Urgency.HIGH].std_cost


def test_a_longer_horizon_lowers_impact_cost_and_raises_risk():
    order = OrderSpec("buy", 200_000)
    short, long = (pre_trade_estimate(order, ACME, StrategyName.TWAP, h) for h in (1_800, 14_400))
    assert short.expected_cost > long.expected_cost and short.std_cost < long.std_cost
    assert short.expected_participation > long.expected_participation


def test_vwap_estimate_follows_the_volume_curve_not_the_clock():
    order = OrderSpec("buy", 200_000)  # from the open: the curve front-loads the morning
    vwap = pre_trade_estimate(order, ACME, StrategyName.VWAP, SESSION_SECONDS)
    twap = pre_trade_estimate(order, ACME, StrategyName.TWAP, SESSION_SECONDS)
    assert vwap.std_cost < twap.std_cost  # more done early, less held through the day
    assert vwap.expected_participation == pytest.approx(twap.expected_participation)


def test_direct_has_no_timing_risk_and_costs_at_least_half_the_spread_and_fee():
    est = pre_trade_estimate(OrderSpec("sell", 2_000), ACME, StrategyName.DIRECT, 0, fee_per_share=0.003)
    assert est.std_cost == 0.0 and est.expected_participation is None
    assert est.expected_cost_bps > 2.5 + 0.3
    bigger = pre_trade_estimate(OrderSpec("sell", 200_000), ACME, StrategyName.DIRECT, 0)
    assert bigger.expected_cost_bps > est.expected_cost_bps  # square-root impact grows with size


def test_rfq_estimate_prices_the_dealers_day_of_work_with_no_risk_to_us():
    est = pre_trade_estimate(OrderSpec("buy", 1_500_000), ACME, StrategyName.RFQ, 0)
    worked = pre_trade_estimate(OrderSpec("buy", 1_500_000, urgency=Urgency.LOW), ACME, StrategyName.VWAP, SESSION_SECONDS)
    assert est.expected_cost == pytest.approx(worked.expected_cost) and est.std_cost == 0.0


def test_auto_is_refused():
    with pytest.raises(ValueError, match="pick a strategy"):
        pre_trade_estimate(OrderSpec("buy", 100), ACME, StrategyName.AUTO, 60)


def test_time_for_volume_share_inverts_volume_share():
    for start in (0, 3_600 * US, 5 * 3_600 * US):
        end = time_for_volume_share(start, 0.1)
        assert volume_share(start, end) == pytest.approx(0.1, abs=1e-9)
    assert time_for_volume_share(6 * 3_600 * US, 0.5) == SESSION_US  # not that much left today
