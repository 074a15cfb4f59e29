"""Execution algorithms (pure Python: no Django) and the harness that backtests them on :mod:`ems.sim`.

``ALGORITHMS`` maps each :class:`~ems.algos.types.StrategyName` an algorithm runs to its class (RFQ is a
selectable outcome of the selection matrix, run by the RFQ platform, and AUTO asks the matrix to choose:
neither is an algorithm here).
"""

from collections.abc import Mapping
from typing import Any

from ems.algos.backtest import BacktestResult, run_backtest
from ems.algos.base import AlgoParams, ExecutionAlgo
from ems.algos.context import AlgoContext, Strategy
from ems.algos.direct import Direct, DirectParams
from ems.algos.is_ import IS, ISParams
from ems.algos.pov import POV, POVParams
from ems.algos.twap import TWAP, TWAPParams
from ems.algos.types import StrategyName
from ems.algos.vwap import VWAP, VWAPParams

ALGORITHMS: dict[StrategyName, type[ExecutionAlgo]] = {
    StrategyName.TWAP: TWAP,
    StrategyName.VWAP: VWAP,
    StrategyName.POV: POV,
    StrategyName.IS: IS,
    StrategyName.DIRECT: Direct,
}
# The algorithms as (value, label) choices, in that order: what a trader may switch a parent to and what a
# what-if replays with (not AUTO, which asks the selection matrix, nor RFQ, which the RFQ platform works).
ALGORITHM_CHOICES = [(name.value, name.name) for name in ALGORITHMS]


def algo_params(strategy: StrategyName | str, base: Mapping[str, Any] | None = None, /, **changes: Any) -> AlgoParams:
    """Build the parameters ``strategy``'s algorithm runs with: ``base`` (e.g. a parent's stored ``params``;
    keys the algorithm does not take are dropped) with ``changes`` over it (``qty=``, ``start=``, ``end=``...).

    RFQ is worked by its destination, not an algorithm: it gets the parameters every algorithm shares
    (:class:`AlgoParams`), so that a trader can switch it to one. Raises ``ValueError`` for an unknown
    strategy, ``KeyError`` for AUTO (the selection matrix's to resolve), ``TypeError`` / ``ValueError`` for
    parameters the algorithm refuses.
    """
    name = StrategyName(strategy)
    cls = AlgoParams if name is StrategyName.RFQ else ALGORITHMS[name].Params
    return cls.from_dict({**(base or {}), **changes})


def algo_from_state(state: dict) -> ExecutionAlgo:
    """Rebuild whichever algorithm wrote ``state`` (:meth:`ExecutionAlgo.state`)."""
    return ALGORITHMS[StrategyName(state["algo"])].from_state(state)


__all__ = [
    "ALGORITHMS",
    "ALGORITHM_CHOICES",
    "IS",
    "POV",
    "TWAP",
    "VWAP",
    "AlgoContext",
    "Direct",
    "DirectParams",
    "AlgoParams",
    "BacktestResult",
    "ExecutionAlgo",
    "ISParams",
    "POVParams",
    "Strategy",
    "TWAPParams",
    "VWAPParams",
    "algo_from_state",
    "algo_params",
    "run_backtest",
]
