"""Execution algorithms (pure Python: no Django) and the harness that backtests them on :mod:`ems.sim`."""

from ems.algos.backtest import BacktestResult, Strategy, StrategyContext, run_backtest

__all__ = ["BacktestResult", "Strategy", "StrategyContext", "run_backtest"]
