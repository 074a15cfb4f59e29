"""The algorithms' vocabulary beyond the order enums of ``ems.sim.orders`` (one set, shared by the
algorithms, the router, the selection matrix and, through its adapters, the EMS). Values are the
lower-case strings the OMS stores (``oms.models.Urgency`` / ``Strategy``), so no mapping is needed at
the seam.
"""

from __future__ import annotations

from enum import StrEnum


class Urgency(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class StrategyName(StrEnum):
    TWAP = "twap"
    VWAP = "vwap"
    POV = "pov"
    IS = "is"
    DIRECT = "direct"
    RFQ = "rfq"


class RoutingMode(StrEnum):
    SEQUENTIAL = "sequential"  # ranked venues one at a time; the unfilled rest re-routed to the next
    PARALLEL = "parallel"  # sprayed across venues at once, sized to displayed liquidity
    LIQUIDITY_SEEKING = "liquidity_seeking"  # dark pools first, then lit
