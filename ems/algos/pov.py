"""POV (percentage of volume): trade a target share of the market volume printed since start.

The target at ``now`` is ``rate`` times the market's prints since ``start`` (``ctx.market_volume``:
other participants only, never our own fills), and each slice aims at that target by the next wake
using the curve's expected volume for the interval. The participation is kept within
``[rate - band, rate + band]``: half a band above the target the resting orders are cancelled (slow
down); a quarter of a band below it the slice crosses the spread, half a band below it sweeps; the
participation cap is ``rate + band``. POV stops at ``end`` (or when done): it does not force completion, as its schedule follows the
market's volume, not the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.context import AlgoContext, expected_volume_share
from ems.algos.types import StrategyName


@dataclass(frozen=True)
class POVParams(AlgoParams):
    """:class:`AlgoParams` plus ``rate`` (target participation, e.g. 0.1) and ``band`` (absolute, e.g.
    0.03: participation kept within 7%-13%). ``max_participation`` is replaced by ``rate + band``."""

    interval_s: float = 30.0
    rate: float = 0.10
    band: float = 0.03

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.rate < 1 or not 0 < self.band < self.rate:
            raise ValueError("need 0 < band < rate < 1")


class POV(ExecutionAlgo):
    """Participate in the market's volume at a target rate."""

    name = StrategyName.POV
    Params = POVParams
    p: POVParams

    def build_schedule(self) -> list[tuple[int, int]]:
        # What the rate is expected to give on an average day (ADV along the curve); the live target
        # follows the realised prints (see target()).
        p = self.p
        n = 78
        times = [p.start + (p.end - p.start) * k // n for k in range(n + 1)]
        adv = self.instrument.adv
        return [(t, min(p.qty, round(p.rate * adv * expected_volume_share(p.start, t)))) for t in times]

    def target(self, ctx: AlgoContext, t: int) -> float:
        vol = ctx.market_volume(self.p.start)
        if t > ctx.now:
            vol += self.instrument.adv * expected_volume_share(ctx.now, t)
        return min(float(self.p.qty), self.p.rate * vol)

    def tol_qty(self) -> int:
        # The band, in shares of the volume printed so far (at least one lot).
        return self.p.lot_size

    def band_qty(self, ctx: AlgoContext) -> int:
        return max(self.p.lot_size, int(self.p.band * ctx.market_volume(self.p.start)))

    def participation_room(self, ctx: AlgoContext) -> int:
        vol = ctx.market_volume(self.p.start)
        return max(0, int((self.p.rate + self.p.band) * vol) + self.p.min_child - self.filled - self.outstanding)

    def finishing(self, now: int) -> bool:
        return False  # POV follows the volume; it does not force completion at end

    def escalation(self, ctx: AlgoContext, behind: float) -> str:
        # Escalate early (a quarter of the band): passive fills alone lag a high rate, and the
        # participation must turn back well before it leaves the band.
        band = self.band_qty(ctx)
        return "passive" if behind <= band / 4 else ("cross" if behind <= band / 2 else "sweep")

    def is_ahead(self, ctx: AlgoContext, dev: float) -> bool:
        return dev > self.band_qty(ctx) / 2
