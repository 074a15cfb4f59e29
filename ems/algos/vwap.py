"""VWAP: a schedule from the expected intraday volume curve, worked passively, escalating when behind.

The target at ``t`` is ``qty`` times the share of the window's *expected* volume before ``t``: the
model's U-shaped curve, known before the day (``AlgoContext.expected_volume_share``), never the
realised future volume. On schedule, each slice rests at the near touch and is pegged at the midpoint
in the dark pools (a dark fill saves the half spread and leaks less); behind by more than the
tolerance, it crosses the spread; by more than two tolerances, it sweeps (base cycle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.context import expected_volume_share
from ems.algos.types import StrategyName
from ems.sim.clock import US


@dataclass(frozen=True)
class VWAPParams(AlgoParams):
    """:class:`AlgoParams` (``tolerance`` is the escalation threshold, fraction of qty)."""


class VWAP(ExecutionAlgo):
    """Volume-weighted: trade along the expected volume curve."""

    name = StrategyName.VWAP
    Params = VWAPParams

    def build_schedule(self) -> list[tuple[int, int]]:
        p = self.p
        n = max(1, math.ceil((p.end - p.start) / (p.interval_s * US)))
        total = expected_volume_share(p.start, p.end)
        times = [p.start + (p.end - p.start) * k // n for k in range(n + 1)]
        return [(t, round(p.qty * expected_volume_share(p.start, t) / total)) for t in times[:-1]] + [(p.end, p.qty)]
