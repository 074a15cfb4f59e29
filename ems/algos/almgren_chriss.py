"""Almgren-Chriss (2000) optimal execution, calibrated to the simulator's own impact model.

The model (arithmetic, discrete; Almgren & Chriss, "Optimal execution of portfolio transactions")::

    X shares to trade over T seconds in N intervals of tau = T / N; holdings x_0 = X, ..., x_N = 0
    trades n_k = x_{k-1} - x_k, trade rate v_k = n_k / tau
    unaffected price S_k = S_{k-1} + sigma sqrt(tau) xi_k - tau g(v_k),   g(v) = gamma v   (permanent)
    price received       S~_k = S_{k-1} - h(v_k),                          h(v) = epsilon sgn(v) + eta v
    E[C] = 1/2 gamma X^2 + epsilon sum |n_k| + eta~ / tau sum n_k^2,       eta~ = eta - gamma tau / 2
    V[C] = sigma^2 tau sum_{k=1..N} x_k^2
    optimal x_j = X sinh(kappa (T - t_j)) / sinh(kappa T),  cosh(kappa tau) = 1 + lam sigma^2 tau^2 / (2 eta~)

written for a sale; a purchase is the mirror image and has the same cost (currency, positive = we pay).

Units (all in currency and seconds, so a trader can read them):

* ``sigma``: price volatility in currency per sqrt(second) = ``S * daily_vol / sqrt(23,400)`` (the
  simulator's per-second log increments have sd ``daily_vol / sqrt(T_session)``);
* ``gamma``: permanent impact, currency per share per share traded;
* ``eta``: temporary impact, currency per share per (share / second) of trade rate;
* ``epsilon``: fixed cost per share, currency: half the quoted spread plus the fee.

Calibration to :mod:`ems.sim.impact` (read its docstring). Permanent impact there is already linear,
``gamma_sim * sigma_d * q / ADV`` in log price, so ``gamma = gamma_sim * sigma_d * S / ADV`` exactly.
Temporary impact there is *transient and concave*: a square-root function of our decayed signed volume
``E(t)`` (half-life ``H``), linear below ``x0`` of ADV; AC's is *instantaneous and linear* in the trade
rate. We linearise it around the order's typical trade rate ``v0 = X / T``: trading evenly at ``v0``,
``E(t) = v0 (1 - exp(-k t)) / k`` (``k = ln 2 / H``), the temporary impact at ``t`` is
``eta_sim sigma_d S (sqrt(E(t) / ADV + x0) - sqrt(x0))``, and ``eta`` is the secant
``mean_t(temporary impact) / v0`` -- the linear coefficient that charges the same average temporary
cost per share as the simulator for the even schedule. Consequences, stated honestly: AC charges
trading faster than ``v0`` more than the simulator does (linear vs square root) and slower less; and
the simulator's impact outlives the trade (it decays over ``H``), which AC ignores beyond ``v0``'s
averaging. So AC E[C] is a good estimate for schedules near the even one (TWAP/VWAP/moderate IS) and a
conservative one for very front-loaded schedules. Dark fills (``leakage`` < 1) impact less; ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ems.algos.types import Urgency
from ems.sim.clock import SESSION_SECONDS
from ems.sim.impact import DEFAULT_IMPACT, ImpactParams
from ems.sim.instrument import InstrumentParams

# Without a quantity and horizon, linearise around 5% of the average market rate over a whole session:
# the middle of the participation range the algorithms use (1-20%).
DEFAULT_PARTICIPATION = 0.05
_AVERAGING_POINTS = 256  # midpoint rule over the horizon for the secant (error far below 0.1%)

# Risk aversion lambda per urgency, in 1 / currency (AC 2000's worked example uses 1e-6 per dollar).
# Measured on a $100, 5M-ADV, 2%-vol name buying 1% of ADV over the day: LOW gives kappa T ~ 0.4
# (almost the straight TWAP line), MEDIUM ~ 1.3 (about 60% done by mid-horizon), HIGH ~ 4 (about 90%
# done by mid-horizon). lambda is per currency, so for a given order the same urgency front-loads
# dearer stocks more: kappa^2 = lambda sigma^2 / eta grows with the price.
RISK_AVERSION: dict[Urgency, float] = {Urgency.LOW: 1e-7, Urgency.MEDIUM: 1e-6, Urgency.HIGH: 1e-5}


@dataclass(frozen=True, slots=True)
class ACModel:
    """Almgren-Chriss coefficients of one instrument (units in the module docstring)."""

    sigma: float  # currency / sqrt(second)
    eta: float  # currency * second / share^2 (temporary, linear in trade rate)
    epsilon: float  # currency / share (half spread + fee)
    gamma: float  # currency / share^2 (permanent)
    price: float  # the reference price S the coefficients were computed at
    trade_rate: float  # shares / second around which ``eta`` was linearised

    def eta_tilde(self, tau: float) -> float:
        """Return ``eta - gamma tau / 2`` (the discrete model's effective temporary coefficient)."""
        return self.eta - 0.5 * self.gamma * tau


def temporary_impact_log(params: InstrumentParams, impact: ImpactParams, decayed_qty: float) -> float:
    """Return the simulator's temporary log impact for ``decayed_qty`` shares of decayed signed volume."""
    x0 = impact.linear_below
    return impact.eta * params.daily_vol * (math.sqrt(abs(decayed_qty) / params.adv + x0) - math.sqrt(x0))


def calibrate(
    params: InstrumentParams,
    impact: ImpactParams = DEFAULT_IMPACT,
    *,
    price: float | None = None,
    qty: float | None = None,
    horizon_s: float | None = None,
    fee_per_share: float = 0.0,
) -> ACModel:
    """Return the AC coefficients of ``params`` under the simulator's ``impact`` model.

    ``price`` defaults to the reference price; ``qty`` over ``horizon_s`` (default: 5% of ADV-rate over
    a whole session) sets the trade rate the temporary impact is linearised around; ``fee_per_share``
    (e.g. the taker fee) is added to the half spread in ``epsilon``.
    """
    s = float(price if price is not None else params.reference_price)
    if s <= 0:
        raise ValueError("price must be positive")
    horizon = float(horizon_s if horizon_s is not None else SESSION_SECONDS)
    if horizon <= 0:
        raise ValueError("horizon_s must be positive")
    if qty is None:
        qty = DEFAULT_PARTICIPATION * params.adv * horizon / SESSION_SECONDS
    v0 = max(float(qty), 1.0) / horizon
    k = math.log(2.0) / impact.half_life_s
    t = (np.arange(_AVERAGING_POINTS) + 0.5) / _AVERAGING_POINTS * horizon
    decayed = v0 * -np.expm1(-k * t) / k
    x0 = impact.linear_below
    temp = impact.eta * params.daily_vol * (np.sqrt(decayed / params.adv + x0) - math.sqrt(x0))
    return ACModel(
        sigma=s * params.daily_vol / math.sqrt(SESSION_SECONDS),
        eta=s * float(temp.mean()) / v0,
        epsilon=s * params.spread_bps / 2e4 + fee_per_share,
        gamma=impact.gamma * params.daily_vol * s / params.adv,
        price=s,
        trade_rate=v0,
    )


def risk_aversion(urgency: Urgency | str) -> float:
    """Return lambda (1 / currency) for an urgency; see :data:`RISK_AVERSION`."""
    return RISK_AVERSION[Urgency(urgency)]


def kappa(model: ACModel, tau: float, lam: float) -> float:
    """Return the discrete AC urgency ``kappa`` (1 / second): ``cosh(kappa tau) = 1 + lam sigma^2 tau^2 / (2 eta~)``."""
    if lam < 0:
        raise ValueError("risk aversion must be >= 0")
    et = model.eta_tilde(tau)
    if et <= 0:
        # eta~ <= 0 means permanent impact outweighs temporary over one interval: the discrete model has
        # no interior optimum; use more (shorter) intervals.
        raise ValueError(f"eta - gamma tau / 2 = {et:.3g} <= 0: use shorter intervals")
    return math.acosh(1.0 + lam * model.sigma**2 * tau * tau / (2.0 * et)) / tau


def trajectory(model: ACModel, qty: int, horizon_s: float, n_steps: int, lam: float) -> list[float]:
    """Return the optimal holdings ``x_0 = qty, ..., x_N = 0`` at ``t_j = j T / N``.

    ``lam -> 0`` gives the straight line (TWAP); larger ``lam`` front-loads.
    """
    if n_steps < 1 or horizon_s <= 0:
        raise ValueError("need n_steps >= 1 and horizon_s > 0")
    tau = horizon_s / n_steps
    k = kappa(model, tau, lam)
    kt = k * horizon_s
    x = float(qty)
    if kt < 1e-9:
        out = [x * (1.0 - j / n_steps) for j in range(n_steps + 1)]
    else:
        out = []
        for j in range(n_steps + 1):
            a = kt * (1.0 - j / n_steps)  # kappa (T - t_j)
            # sinh(a) / sinh(kT) without overflow for large kappa T.
            out.append(x * math.exp(a - kt) * -math.expm1(-2.0 * a) / -math.expm1(-2.0 * kt))
    out[0], out[-1] = x, 0.0
    return out


def trades(holdings: Sequence[float]) -> list[float]:
    """Return ``n_k = x_{k-1} - x_k`` for ``k = 1..N``."""
    return [holdings[k - 1] - holdings[k] for k in range(1, len(holdings))]


def expected_cost(model: ACModel, holdings: Sequence[float], tau: float) -> float:
    """Return AC E[C] in currency: ``1/2 gamma X^2 + epsilon sum|n_k| + eta~ / tau sum n_k^2``."""
    n = np.abs(np.diff(np.asarray(holdings, dtype=float)))
    x = abs(float(holdings[0]) - float(holdings[-1]))
    return 0.5 * model.gamma * x * x + model.epsilon * float(n.sum()) + model.eta_tilde(tau) / tau * float(n @ n)


def cost_variance(model: ACModel, holdings: Sequence[float], tau: float) -> float:
    """Return AC V[C] in currency squared: ``sigma^2 tau sum_{k=1..N} x_k^2`` (x_k: what is still held while the k-th price move happens)."""
    x = np.asarray(holdings[1:], dtype=float)
    return model.sigma**2 * tau * float(x @ x)
