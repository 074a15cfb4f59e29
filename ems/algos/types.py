"""The algorithms' vocabulary: one set of enums shared by the simulator, the algorithms, the router, the
selection matrix and, through its adapters, the EMS.

The order enums (side, order type, time in force, liquidity) live in :mod:`ems.sim.orders` and are
re-exported here, so an algorithm imports its whole vocabulary from one module; this module adds the
execution ones. Values are the lower-case strings the OMS stores (``oms.models.Urgency`` / ``Strategy``
/ ``Side`` / ``OrderType``), so no mapping is needed at the seam. (The OMS's extra ``TimeInForce.GTC``
has no meaning on a one-day simulated venue: its adapter sends such a child as DAY.) ``tests/test_vocabulary.py``
keeps the two vocabularies equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ems.sim.orders import Liquidity, OrderType, Side, TimeInForce

__all__ = [
    "InstrumentView",
    "Liquidity",
    "OrderSpec",
    "OrderType",
    "RoutingMode",
    "SCHEDULED_STRATEGIES",
    "Side",
    "StrategyName",
    "TimeInForce",
    "Urgency",
]


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class StrategyName(StrEnum):
    AUTO = "auto"  # the PM leaves the choice to the selection matrix (ems.algos.selection)
    TWAP = "twap"
    VWAP = "vwap"
    POV = "pov"
    IS = "is"
    DIRECT = "direct"
    RFQ = "rfq"


# The strategies that work a schedule over a window (DIRECT takes what the market gives now; RFQ asks dealers).
SCHEDULED_STRATEGIES = frozenset({StrategyName.TWAP, StrategyName.VWAP, StrategyName.POV, StrategyName.IS})


class RoutingMode(StrEnum):
    SEQUENTIAL = "sequential"  # ranked venues one at a time; the unfilled rest re-routed to the next
    PARALLEL = "parallel"  # sprayed across venues at once, sized to displayed liquidity
    LIQUIDITY_SEEKING = "liquidity_seeking"  # dark pools first, then lit


class InstrumentView(Protocol):
    """What the selection matrix and the cost estimate read of an instrument (``InstrumentParams`` has it,
    and so can an adapter over the OMS's Instrument row)."""

    @property
    def reference_price(self) -> float: ...

    @property
    def adv(self) -> int: ...

    @property
    def daily_vol(self) -> float: ...

    @property
    def spread_bps(self) -> float: ...

    @property
    def lot_size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A parent order as the selection matrix and the pre-trade estimate see it.

    ``start`` / ``end`` are microseconds since the open (``end`` None: the close); ``requested`` is the
    PM's strategy (None or AUTO: let the matrix choose); ``price`` is the arrival mid if known (else the
    instrument's reference price is used).
    """

    side: Side
    qty: int
    limit_price: float | None = None
    urgency: Urgency = Urgency.MEDIUM
    requested: StrategyName | None = None
    start: int = 0
    end: int | None = None
    max_participation: float | None = None
    price: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "urgency", Urgency(self.urgency))
        if self.requested is not None:
            object.__setattr__(self, "requested", StrategyName(self.requested))
        object.__setattr__(self, "qty", int(self.qty))
        if self.qty <= 0:
            raise ValueError("qty must be positive")

    @property
    def order_type(self) -> OrderType:
        return OrderType.MARKET if self.limit_price is None else OrderType.LIMIT
