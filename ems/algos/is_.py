"""Implementation Shortfall: the Almgren-Chriss optimal trajectory, front-loaded by urgency.

The schedule is the AC optimal holdings (``ems.algos.almgren_chriss.trajectory``) for the instrument's
volatility and the simulator's impact calibrated for this order (quantity and horizon), with the risk
aversion of the urgency (or ``risk_aversion`` given): ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``.
The same model gives the expected cost E[C] and variance V[C] of the chosen trajectory
(:meth:`IS.expected_cost`), which the bench compares with the realised shortfall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.algos import almgren_chriss as ac
from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.types import StrategyName
from ems.sim.clock import US


@dataclass(frozen=True)
class ISParams(AlgoParams):
    """:class:`AlgoParams` plus ``risk_aversion`` (lambda, 1 / currency; None: from urgency) and
    ``fee_per_share`` (added to AC's fixed cost epsilon)."""

    risk_aversion: float | None = None
    fee_per_share: float = 0.0


class IS(ExecutionAlgo):
    """Implementation shortfall: minimise E[C] + lambda V[C] (Almgren-Chriss)."""

    name = StrategyName.IS
    Params = ISParams
    p: ISParams

    def model(self) -> tuple[ac.ACModel, int, float, float]:
        """Return ``(model, n_steps, tau seconds, lambda)`` of this order."""
        p = self.p
        horizon = (p.end - p.start) / US
        n = max(1, math.ceil(horizon / p.interval_s))
        model = ac.calibrate(self.instrument, qty=p.qty, horizon_s=horizon, fee_per_share=p.fee_per_share)
        lam = p.risk_aversion if p.risk_aversion is not None else ac.risk_aversion(p.urgency)
        return model, n, horizon / n, lam

    def holdings(self) -> list[float]:
        model, n, tau, lam = self.model()
        return ac.trajectory(model, self.p.qty, tau * n, n, lam)

    def build_schedule(self) -> list[tuple[int, int]]:
        p = self.p
        x = self.holdings()
        n = len(x) - 1
        return [(p.start + (p.end - p.start) * j // n, round(p.qty - x[j])) for j in range(n + 1)]

    def expected_cost(self) -> tuple[float, float]:
        """Return AC ``(E[C], V[C])`` of the trajectory, in currency and currency squared."""
        model, _, tau, _ = self.model()
        x = self.holdings()
        return ac.expected_cost(model, x, tau), ac.cost_variance(model, x, tau)
