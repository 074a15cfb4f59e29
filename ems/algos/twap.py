"""TWAP: an even schedule over the window, with seeded jitter of child size and timing.

The target is a straight line from 0 at ``start`` to ``qty`` at ``end`` (one point per interval). Each
wake comes ``interval_s`` after the last one, give or take ``jitter`` of it, and each slice is what the
line wants by the next wake, give or take ``jitter`` of it, so the footprint is not a clock; the
tracking against the line (the base cycle) keeps the jitter from accumulating, and the finish takes
what is left in the last interval, so TWAP completes by ``end`` when the market allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.context import AlgoContext
from ems.algos.types import StrategyName
from ems.sim.clock import US


@dataclass(frozen=True)
class TWAPParams(AlgoParams):
    """:class:`AlgoParams` plus ``jitter``: wake times and slice sizes vary uniformly by up to
    +/- ``jitter`` of their nominal value (0 = a clock)."""

    jitter: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")


class TWAP(ExecutionAlgo):
    """Time-weighted: trade evenly over the window."""

    name = StrategyName.TWAP
    Params = TWAPParams
    p: TWAPParams

    def build_schedule(self) -> list[tuple[int, int]]:
        p = self.p
        n = max(1, math.ceil((p.end - p.start) / (p.interval_s * US)))
        return [(p.start + (p.end - p.start) * k // n, p.qty * k // n) for k in range(n + 1)]

    def next_wake(self, ctx: AlgoContext) -> int:
        return ctx.now + int(self.p.interval_s * US * (1.0 + self.p.jitter * (2.0 * self.uniform() - 1.0)))

    def slice_size(self, ctx: AlgoContext, want: int) -> int:
        return round(want * (1.0 + self.p.jitter * (2.0 * self.uniform() - 1.0)))
