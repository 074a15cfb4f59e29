"""Execution algorithms (pure Python: no Django) and the harness that backtests them on :mod:`ems.sim`.

``ALGORITHMS`` maps each :class:`~ems.algos.types.StrategyName` an algorithm runs to its class (RFQ is a
selectable outcome of the selection matrix, run by the RFQ platform, and AUTO asks the matrix to choose:
neither is an algorithm here).
"""

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


def algo_from_state(state: dict) -> ExecutionAlgo:
    """Rebuild whichever algorithm wrote ``state`` (:meth:`ExecutionAlgo.state`)."""
    return ALGORITHMS[StrategyName(state["algo"])].from_state(state)


__all__ = [
    "ALGORITHMS",
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
    "run_backtest",
]
