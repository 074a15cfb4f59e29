"""Orders sent to simulated venues and the execution reports and fills they send back.

Values are lower-case strings (``StrEnum``) so an adapter can store them in a database as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"  # never rests: what the displayed book cannot fill is cancelled


class TimeInForce(StrEnum):
    DAY = "day"  # rests until filled, cancelled or the close (then EXPIRED)
    IOC = "ioc"  # FIX 59=3: what does not fill on arrival is cancelled


class Liquidity(StrEnum):
    """FIX 851 LastLiquidityInd, plus the midpoint flag dark pools report."""

    MAKER = "maker"  # added liquidity (resting order filled)
    TAKER = "taker"  # removed liquidity (marketable order)
    MID = "mid"  # dark midpoint cross


class ReportKind(StrEnum):
    """What an execution report says (FIX 150 ExecType in brackets)."""

    ACK = "ack"  # order accepted by the venue (0 = New)
    PARTIAL = "partial"  # a fill, order still working (F = Trade, 39 OrdStatus = 1)
    FILL = "fill"  # the fill that completes the order (F = Trade, 39 OrdStatus = 2)
    CANCELLED = "cancelled"  # on request, or an IOC / market remainder (4 = Canceled)
    REJECTED = "rejected"  # the venue refused the order; ``reason`` says why (8 = Rejected)
    CANCEL_REJECTED = "cancel_rejected"  # the cancel came too late or named no order (35=9 OrderCancelReject)
    EXPIRED = "expired"  # a DAY order still working at the close (C = Expired)


TERMINAL_KINDS = frozenset({ReportKind.FILL, ReportKind.CANCELLED, ReportKind.REJECTED, ReportKind.EXPIRED})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order for one venue. ``price`` is the limit (required for a LIMIT order, optional cap for a
    dark MARKET/midpoint order) and must be on the instrument's tick grid."""

    venue: str
    side: Side
    qty: int
    order_type: OrderType = OrderType.LIMIT
    price: float | None = None
    tif: TimeInForce = TimeInForce.DAY
    client_order_id: str | None = None  # FIX 11 ClOrdID; exec ids derive from it, so keep it unique

    def __post_init__(self) -> None:
        # Accept plain strings / Decimals from adapters; keep the object canonical.
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        object.__setattr__(self, "tif", TimeInForce(self.tif))
        object.__setattr__(self, "qty", int(self.qty))
        if self.price is not None:
            object.__setattr__(self, "price", float(self.price))


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``fee`` is in currency, positive = we pay, negative = rebate."""

    exec_id: str  # FIX 17 ExecID: deterministic and unique per simulator (see VenueSimulator id_prefix)
    order_id: str  # the venue's order id (FIX 37)
    client_order_id: str  # FIX 11
    venue: str
    side: Side
    qty: int
    price: float
    liquidity: Liquidity
    fee: float
    time: int  # transact time (FIX 60), microseconds since the open
    day: int


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """A message from a venue, delivered to us at ``time`` (= ``transact_time`` + the venue's latency)."""

    kind: ReportKind
    order_id: str
    client_order_id: str
    venue: str
    side: Side
    time: int
    transact_time: int
    order_qty: int
    cum_qty: int
    leaves_qty: int
    avg_price: float | None = None
    fill: Fill | None = None
    reason: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS
