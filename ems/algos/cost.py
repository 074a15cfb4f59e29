"""Pre-trade cost estimate: the Almgren-Chriss expected cost and its standard deviation for an order, a
strategy and a horizon, in basis points and in currency, with the expected participation.

Per strategy, the holdings path fed to :mod:`ems.algos.almgren_chriss` (on a uniform time grid):

* IS: the AC optimal trajectory for the order's urgency (``risk_aversion``);
* VWAP and POV: the expected-volume schedule over the horizon (the U-shaped intraday curve known before
  the day; POV follows the market's volume, so in expectation it is the same path);
* TWAP: the straight line;
* DIRECT: immediate, so no timing risk (V = 0) and AC's ``eta X^2 / tau`` would diverge as tau -> 0; the
  temporary cost is the simulator's own square-root law averaged over the sweep
  (``mean_{q<X} eta sigma_d (sqrt(q / ADV + x0) - sqrt(x0))``), plus half the spread, fee and permanent;
* RFQ: a dealer takes the block at a price; what they charge is estimated as the cost of working it over a
  whole day at low urgency (E[C] of that plan) and we bear no timing risk after the trade (sd 0).

Costs are positive when we pay (implementation shortfall vs the arrival price), for buys and sells alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ems.algos.almgren_chriss import calibrate, cost_variance, expected_cost, risk_aversion, trajectory
from ems.algos.types import InstrumentView, OrderSpec, StrategyName, Urgency
from ems.sim.clock import SESSION_US, US
from ems.sim.impact import DEFAULT_IMPACT, ImpactParams
from ems.sim.instrument import InstrumentParams
from ems.sim.market import volume_curve

_CURVE = volume_curve()
_CUM = np.concatenate([[0.0], np.cumsum(_CURVE)])
STEP_S = 60.0  # schedule grid of the estimate: one minute (AC needs eta - gamma tau / 2 > 0: true at this tau)
DEFAULT_TAKER_FEE = 0.003  # currency per share: the Reg NMS cap a router pays when it takes


def volume_share(t0_us: float, t1_us: float) -> float:
    """Return the share of a day's volume the intraday curve expects in ``[t0, t1)`` (known before the day)."""
    return _cum(t1_us) - _cum(t0_us)


def _cum(t_us: float) -> float:
    minute, rest = divmod(min(max(0.0, float(t_us)), float(SESSION_US)), 60 * US)
    minute = int(minute)
    if minute >= len(_CURVE):
        return 1.0
    return float(_CUM[minute] + _CURVE[minute] * rest / (60 * US))


def time_for_volume_share(t0_us: int, share: float, end_us: int = SESSION_US) -> int:
    """Return the earliest time at which ``share`` of a day's volume is expected after ``t0_us``
    (``end_us`` if that much is not expected before it)."""
    target = _cum(t0_us) + share
    if target >= _cum(end_us):
        return int(end_us)
    minute = int(np.searchsorted(_CUM, target, "right")) - 1
    frac = (target - _CUM[minute]) / _CURVE[minute]
    return int(min(end_us, max(t0_us, (minute + frac) * 60 * US)))


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Pre-trade estimate of one order under one strategy (currency and bps of the arrival notional)."""

    strategy: StrategyName
    horizon_s: float
    expected_cost: float  # currency
    std_cost: float  # currency
    expected_cost_bps: float
    std_cost_bps: float
    expected_participation: float | None  # our quantity / the market volume expected over the horizon (None: immediate)
    notional: float
    method: str  # how it was computed (for the ticket's tooltip)


def _params(inst: InstrumentView) -> InstrumentParams:
    if isinstance(inst, InstrumentParams):
        return inst
    return InstrumentParams("_", inst.reference_price, inst.adv, inst.daily_vol, inst.spread_bps, lot_size=inst.lot_size)


def _holdings(strategy: StrategyName, qty: int, start: int, horizon_s: float, n: int, model, urgency: Urgency) -> list[float]:
    if strategy is StrategyName.IS:
        return trajectory(model, qty, horizon_s, n, risk_aversion(urgency))
    if strategy in (StrategyName.VWAP, StrategyName.POV):
        total = volume_share(start, start + horizon_s * US)
        if total <= 0:
            return [qty * (1 - j / n) for j in range(n + 1)]
        return [qty * (1.0 - volume_share(start, start + j * horizon_s / n * US) / total) for j in range(n + 1)]
    return [qty * (1 - j / n) for j in range(n + 1)]  # TWAP


def pre_trade_estimate(
    order: OrderSpec,
    inst: InstrumentView,
    strategy: StrategyName | str,
    horizon_s: float,
    *,
    impact: ImpactParams = DEFAULT_IMPACT,
    fee_per_share: float = DEFAULT_TAKER_FEE,
    step_s: float = STEP_S,
) -> CostEstimate:
    """Return the AC expected cost, its standard deviation and the expected participation of ``order``
    worked with ``strategy`` over ``horizon_s`` seconds from ``order.start``."""
    strategy = StrategyName(strategy)
    if strategy is StrategyName.AUTO:
        raise ValueError("pick a strategy first (ems.algos.selection.select_strategy)")
    params = _params(inst)
    price = float(order.price or params.reference_price)
    qty = order.qty
    notional = qty * price
    horizon_s = max(0.0, min(float(horizon_s), (SESSION_US - order.start) / US))
    market = params.adv * volume_share(order.start, order.start + horizon_s * US)
    participation = qty / market if market > 0 else math.inf

    if strategy is StrategyName.RFQ:
        day = OrderSpec(order.side, qty, urgency=Urgency.LOW, start=0, price=price)
        worked = pre_trade_estimate(day, params, StrategyName.VWAP, SESSION_US / US, impact=impact, fee_per_share=fee_per_share)
        return CostEstimate(
            strategy,
            0.0,
            worked.expected_cost,
            0.0,
            worked.expected_cost_bps,
            0.0,
            0.0,
            notional,
            "rfq: dealer's cost of working the block over a day; no timing risk for us",
        )

    if strategy is StrategyName.DIRECT or horizon_s <= 0:
        x0 = impact.linear_below
        q = (np.arange(256) + 0.5) / 256 * qty
        temp = impact.eta * params.daily_vol * (np.sqrt(q / params.adv + x0) - math.sqrt(x0))
        gamma = impact.gamma * params.daily_vol * price / params.adv
        e = qty * (price * float(temp.mean()) + price * params.spread_bps / 2e4 + fee_per_share) + 0.5 * gamma * qty * qty
        return CostEstimate(
            StrategyName(strategy),
            0.0,
            e,
            0.0,
            e / notional * 1e4,
            0.0,
            None,
            notional,
            "immediate: square-root sweep + half spread + fee",
        )

    n = max(1, math.ceil(horizon_s / step_s))
    tau = horizon_s / n
    model = calibrate(params, impact, price=price, qty=qty, horizon_s=horizon_s, fee_per_share=fee_per_share)
    holdings = _holdings(strategy, qty, order.start, horizon_s, n, model, order.urgency)
    e = expected_cost(model, holdings, tau)
    sd = math.sqrt(cost_variance(model, holdings, tau))
    return CostEstimate(
        strategy,
        horizon_s,
        e,
        sd,
        e / notional * 1e4,
        sd / notional * 1e4,
        participation,
        notional,
        f"almgren-chriss, {n} steps of {tau:.0f} s",
    )
