"""Almgren-Chriss maths: the closed-form trajectory, E[C] / V[C] against a Monte-Carlo of the model, and
the calibration against the simulator's own impact model."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.algos.almgren_chriss import (
    ACModel,
    calibrate,
    cost_variance,
    expected_cost,
    kappa,
    risk_aversion,
    trades,
    trajectory,
)
from ems.algos.types import Urgency
from ems.sim.clock import SESSION_SECONDS, US
from ems.sim.impact import DEFAULT_IMPACT, ImpactState
from ems.sim.instrument import InstrumentParams

ACME = InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0)


def simulate_ac_costs(model: ACModel, holdings, tau: float, n_paths: int, seed: int) -> np.ndarray:
    """Monte-Carlo of the AC price dynamics for a sale, written from the model, not from the formulas:
    the k-th trade is done at S_{k-1} - epsilon - eta n_k / tau, then the price moves by
    sigma sqrt(tau) xi_k - gamma n_k. Returns the implementation shortfall X S_0 - sum n_k S~_k."""
    g = np.random.default_rng(seed)
    x = np.asarray(holdings, dtype=float)
    n = x[:-1] - x[1:]
    s = np.full(n_paths, model.price)
    captured = np.zeros(n_paths)
    for k in range(len(n)):
        captured += n[k] * (s - model.epsilon * np.sign(n[k]) - model.eta * n[k] / tau)
        s = s + model.sigma * math.sqrt(tau) * g.standard_normal(n_paths) - model.gamma * n[k]
    return x[0] * model.price - captured


def closed_form(qty: float, horizon: float, n: int, k: float) -> list[float]:
    return [qty * math.sinh(k * (horizon - j * horizon / n)) / math.sinh(k * horizon) for j in range(n + 1)]


@pytest.mark.parametrize("urgency", list(Urgency))
def test_trajectory_equals_the_closed_form_sinh_solution(urgency):
    model = calibrate(ACME, qty=200_000, horizon_s=3 * 3600)
    horizon, n = 3 * 3600.0, 36
    lam = risk_aversion(urgency)
    tau = horizon / n
    et = model.eta - model.gamma * tau / 2
    k = math.acosh(1 + lam * model.sigma**2 * tau**2 / (2 * et)) / tau
    got = trajectory(model, 200_000, horizon, n, lam)
    assert got == pytest.approx(closed_form(200_000, horizon, n, k), rel=1e-9, abs=1e-6)
    assert got[0] == 200_000 and got[-1] == 0.0


def test_zero_risk_aversion_gives_the_twap_straight_line():
    model = calibrate(ACME)
    assert trajectory(model, 10_000, 3600, 10, 0.0) == pytest.approx([10_000 * (1 - j / 10) for j in range(11)])


def test_more_urgency_front_loads_the_trajectory():
    model = calibrate(ACME, qty=50_000, horizon_s=SESSION_SECONDS)
    halfway = [trajectory(model, 50_000, SESSION_SECONDS, 40, risk_aversion(u))[20] for u in Urgency]
    assert halfway[0] > halfway[1] > halfway[2]  # fewer shares left at mid-horizon as urgency rises
    assert halfway[2] < 0.2 * 50_000  # HIGH is mostly done by mid-horizon


def test_large_kappa_does_not_overflow():
    model = calibrate(ACME, qty=50_000, horizon_s=SESSION_SECONDS)
    x = trajectory(model, 50_000, SESSION_SECONDS, 200, 1.0)
    assert kappa(model, SESSION_SECONDS / 200, 1.0) * SESSION_SECONDS > 710  # math.sinh overflows past ~710
    assert all(math.isfinite(v) for v in x) and x[0] == 50_000 and x[-1] == 0.0


@settings(max_examples=40, deadline=None)
@given(
    lam=st.floats(1e-8, 1e-4),
    bump=st.floats(-0.05, 0.05).filter(lambda b: abs(b) > 1e-4),
    j=st.integers(1, 19),
)
def test_the_trajectory_minimises_expected_cost_plus_lambda_variance(lam, bump, j):
    """Moving any one intermediate holding away from the optimum raises E + lam V (the AC objective)."""
    model = calibrate(ACME, qty=100_000, horizon_s=2 * 3600)
    horizon, n = 2 * 3600.0, 20
    tau = horizon / n
    x = trajectory(model, 100_000, horizon, n, lam)
    # keep the bump small enough that every trade keeps its sign (|n| is then linear, as in AC's derivation)
    step = min(trades(x)[j - 1], trades(x)[j])
    y = list(x)
    y[j] += bump * step

    def objective(h):
        return expected_cost(model, h, tau) + lam * cost_variance(model, h, tau)

    assert objective(y) > objective(x)


@pytest.mark.parametrize(("urgency", "n_steps"), [(Urgency.LOW, 13), (Urgency.MEDIUM, 26), (Urgency.HIGH, 26)])
def test_expected_cost_and_variance_match_a_monte_carlo_of_the_model(urgency, n_steps):
    qty, horizon = 100_000, float(SESSION_SECONDS)
    model = calibrate(ACME, qty=qty, horizon_s=horizon, fee_per_share=0.003)
    tau = horizon / n_steps
    x = trajectory(model, qty, horizon, n_steps, risk_aversion(urgency))
    n_paths = 200_000
    costs = simulate_ac_costs(model, x, tau, n_paths, seed=20260107)
    e, v = expected_cost(model, x, tau), cost_variance(model, x, tau)
    # mean within 4 standard errors; sample variance of Gaussian costs has sd V sqrt(2 / (n - 1))
    assert abs(costs.mean() - e) < 4 * math.sqrt(v / n_paths)
    assert abs(costs.var(ddof=1) - v) < 4 * v * math.sqrt(2 / (n_paths - 1))


def test_a_buy_costs_the_same_as_a_sale():
    model = calibrate(ACME)
    sell = trajectory(model, 30_000, 3600, 12, 1e-6)
    buy = [-h for h in sell]
    assert expected_cost(model, buy, 300) == pytest.approx(expected_cost(model, sell, 300))
    assert cost_variance(model, buy, 300) == pytest.approx(cost_variance(model, sell, 300))


def test_calibrated_gamma_is_the_simulators_permanent_impact_per_share():
    model = calibrate(ACME)
    state = ImpactState(ACME.daily_vol, ACME.adv)
    state.add(0, 10_000)
    perm, _ = state.components(1)
    assert model.gamma * 10_000 == pytest.approx(perm * ACME.reference_price, rel=1e-12)


@pytest.mark.parametrize(("qty", "horizon_s"), [(50_000, SESSION_SECONDS), (500_000, SESSION_SECONDS), (20_000, 1800)])
def test_calibrated_eta_charges_the_simulators_average_temporary_impact_for_an_even_schedule(qty, horizon_s):
    """Feed the simulator's impact state an even schedule (one fill per second) and average the temporary
    impact each fill meets: AC's eta v0 must reproduce it (the secant linearisation)."""
    model = calibrate(ACME, qty=qty, horizon_s=horizon_s)
    state = ImpactState(ACME.daily_vol, ACME.adv, DEFAULT_IMPACT)
    per_fill = qty / horizon_s
    met = []
    for s in range(int(horizon_s)):
        met.append(state.components(s * US + 1)[1])  # impact just after the previous fills
        state.add(s * US + 1, per_fill)
    sim_cost_per_share = ACME.reference_price * float(np.mean(met))
    assert model.eta * model.trade_rate == pytest.approx(sim_cost_per_share, rel=0.02)


def test_calibration_units():
    model = calibrate(ACME, price=50.0, fee_per_share=0.003)
    assert model.sigma == pytest.approx(50.0 * 0.02 / math.sqrt(SESSION_SECONDS))
    assert model.epsilon == pytest.approx(50.0 * 5.0 / 2e4 + 0.003)
    assert model.trade_rate == pytest.approx(0.05 * ACME.adv / SESSION_SECONDS)


def test_eta_tilde_not_positive_is_refused():
    model = calibrate(ACME)
    with pytest.raises(ValueError, match="shorter intervals"):
        trajectory(model, 1_000, 1e9, 1, 1e-6)


def test_impact_no_longer_imports_the_market_module():
    """InstrumentParams lives in ems.sim.instrument, so the impact model (which AC is calibrated on) and
    the market model no longer import each other; the old import path still works."""
    import ast  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import ems.sim.impact as impact_module  # noqa: PLC0415
    from ems.sim import market  # noqa: PLC0415

    tree = ast.parse(Path(impact_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "ems.sim.market" not in imported and "ems.sim.instrument" in imported
    assert market.InstrumentParams is InstrumentParams


def test_one_vocabulary_for_the_simulator_and_the_algorithms():
    from ems.algos import types  # noqa: PLC0415
    from ems.sim import orders  # noqa: PLC0415

    for name in ("Side", "OrderType", "TimeInForce", "Liquidity"):
        assert getattr(types, name) is getattr(orders, name)
