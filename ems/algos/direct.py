"""DIRECT: immediate execution through the smart order router (small orders).

At start the whole quantity goes to one routing session (the router picks sequential / parallel /
liquidity-seeking from urgency and size unless ``mode`` names one). Whenever a session ends with
quantity left (its venues exhausted, or the limit price out of reach), a new session re-routes the rest
at the next wake (every ``interval_s``), until done or ``end``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.context import AlgoContext
from ems.algos.router import RoutingSession
from ems.algos.types import RoutingMode, StrategyName
from ems.sim.clock import US
from ems.sim.orders import ExecutionReport


@dataclass(frozen=True)
class DirectParams(AlgoParams):
    """:class:`AlgoParams` plus ``mode``: the routing mode to ask for (None: the router decides).
    ``interval_s`` is how soon a remainder is re-routed."""

    interval_s: float = 1.0
    mode: RoutingMode | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode is not None:
            object.__setattr__(self, "mode", RoutingMode(self.mode))


class Direct(ExecutionAlgo):
    """Send everything now through the router; re-route what is left."""

    name = StrategyName.DIRECT
    Params = DirectParams
    p: DirectParams

    def build_schedule(self) -> list[tuple[int, int]]:
        return [(self.p.start, self.p.qty), (self.p.end, self.p.qty)]

    def _wake(self, ctx: AlgoContext) -> None:
        if self._closed(ctx):
            return
        self._arm(ctx, min(ctx.now + int(self.p.interval_s * US), self.p.end))
        if self._materialise(ctx):
            return  # a session is still working
        room = self.p.qty - self.filled - self.outstanding
        if room > 0:
            session = self._route(ctx, room, self.p.limit_price, self.p.mode)
            first = self.s["n_sessions"] == 1
            code = session.reason_code if session is not None else "nothing_to_route"
            self.log(ctx, "route" if first else "reroute", code, qty=room, filled=self.filled)

    def on_session_report(self, ctx: AlgoContext, session: RoutingSession, report: ExecutionReport) -> None:
        if self.s["ended"]:
            return
        if self.done:
            self._finish_parent(ctx)
